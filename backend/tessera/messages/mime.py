"""An outgoing message as an Internet e-mail (RFC 5322 with MIME): UTF-8 text and HTML
alternatives, a stable ``Message-ID`` and, for marketing, one-click unsubscribe (RFC 8058).

The ``Message-ID`` comes from the message's own id, so every retry of one message carries the
same one and a receiving system can drop a repeat. RFC 8058 asks that the ``List-Unsubscribe``
and ``List-Unsubscribe-Post`` headers be covered by a DKIM signature: signing belongs to the
relay that holds the domain's key (the SMTP server Tessera hands messages to).
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from tessera.messages.webhook import Message

_URL = re.compile(r"https?://[^\s<>\"']+")


def email_message(message: Message, sender: str, now: datetime) -> EmailMessage:
    """``message`` (channel ``email``) from ``sender`` (``Name <address>`` or an address)."""
    name, address = parseaddr(sender)
    domain = address.rpartition("@")[2] or "localhost"
    mail = EmailMessage()
    mail["From"] = Address(display_name=name, addr_spec=address)
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = f"<{message.id}@{domain}>"
    if message.unsubscribe_url is not None:
        mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(message.text, charset="utf-8")
    mail.add_alternative(message.html or html_of(message.text), subtype="html", charset="utf-8")
    if message.locale:  # after the content: setting the content clears the Content-* headers
        mail["Content-Language"] = message.locale
    return mail


def html_of(text: str) -> str:
    """A plain-text body as HTML: escaped, paragraphs and line breaks kept, links clickable."""
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        escaped = html.escape(paragraph)
        linked = _URL.sub(lambda match: f'<a href="{match.group(0)}">{match.group(0)}</a>', escaped)
        paragraphs.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n<body>\n'
        + "\n".join(paragraphs)
        + "\n</body></html>\n"
    )
