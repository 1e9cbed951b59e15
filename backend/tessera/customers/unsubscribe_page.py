"""The pages of an unsubscribe link: a question with one button, then the answer.

A GET never unsubscribes (mail scanners and link previews fetch every link of a message, RFC
8058 section 3.1); the page's button POSTs to the same address, as a mail client's one-click
does. Plain HTML from our origin only, in English, Italian or Hungarian by ``Accept-Language``.
"""

from __future__ import annotations

import html
from typing import Literal

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "private, no-store",
}

STRINGS = {
    "en": {
        "title": "Unsubscribe",
        "ask": "Stop receiving offers from {organization}?",
        "button": "Unsubscribe",
        "done": "Done: you will receive no more offers from {organization}. "
        "Your coupons stay valid. You can allow offers again in the app's settings.",
    },
    "it": {
        "title": "Annulla l'iscrizione",
        "ask": "Non ricevere più offerte di {organization}?",
        "button": "Annulla l'iscrizione",
        "done": "Fatto: non riceverai più offerte di {organization}. "
        "I tuoi coupon restano validi. Puoi riattivare le offerte nelle impostazioni dell'app.",
    },
    "hu": {
        "title": "Leiratkozás",
        "ask": "Nem kér több ajánlatot a(z) {organization} cégtől?",
        "button": "Leiratkozom",
        "done": "Kész: nem kap több ajánlatot a(z) {organization} cégtől. "
        "A kuponjai érvényesek maradnak. Az ajánlatokat az alkalmazás beállításaiban kapcsolhatja vissza.",
    },
}


def language(accept_language: str | None) -> str:
    """The first of the browser's languages we have a page in; English otherwise."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in STRINGS:
            return tag
    return "en"


def unsubscribe_page(state: Literal["ask", "done"], organization: str, lang: str) -> str:
    t = STRINGS.get(lang, STRINGS["en"])
    e = html.escape
    text = e(t[state].format(organization=organization))
    # The form posts to this very address (the token is in the path).
    form = (
        f'<form method="post"><button type="submit">{e(t["button"])}</button></form>'
        if state == "ask"
        else ""
    )
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{e(t["title"])}</title>
<link rel="stylesheet" href="/shared/base.css">
</head>
<body>
<header class="bar"><strong>{e(organization)}</strong></header>
<main id="main">
<h1>{e(t["title"])}</h1>
<p role="status">{text}</p>
{form}
</main>
</body>
</html>
"""
