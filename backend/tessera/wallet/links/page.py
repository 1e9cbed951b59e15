"""The landing page of a wallet link: the offer, its code, and the two wallet buttons.

Plain HTML from our origin only (the PWAs' shared stylesheet), in English or Italian by the
browser's ``Accept-Language``. The token is in the page's URL, so the page sends no referrer.
A coupon that can no longer be used (the offer rules' listing answer: redeemed, expired, its
offer used up) says so instead of offering the wallet buttons.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

from tessera.campaigns.rules import discount_text
from tessera.campaigns.schemas import Discount
from tessera.offers.refusals import CouponStatus

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "private, no-store",
}

STRINGS = {
    "en": {
        "title": "Add your coupon to your wallet",
        "code": "Your code",
        "until": "Valid until",
        "apple": "Add to Apple Wallet",
        "google": "Add to Google Wallet",
        "hint": "Show the code or the pass at the till.",
        "redeemed": "This coupon has been redeemed.",
        "expired": "This coupon has expired.",
        "used_up": "This offer is used up: the coupon can no longer be redeemed.",
        "revoked": "This coupon was withdrawn.",
    },
    "it": {
        "title": "Aggiungi il tuo coupon al wallet",
        "code": "Il tuo codice",
        "until": "Valido fino al",
        "apple": "Aggiungi a Apple Wallet",
        "google": "Aggiungi a Google Wallet",
        "hint": "Mostra il codice o la carta alla cassa.",
        "redeemed": "Questo coupon è già stato utilizzato.",
        "expired": "Questo coupon è scaduto.",
        "used_up": "Questa offerta è esaurita: il coupon non si può più utilizzare.",
        "revoked": "Questo coupon è stato ritirato.",
    },
}


# Statuses whose page offers the wallet buttons; every other one has its own sentence.
USABLE = frozenset({"active", "scheduled"})


@dataclass(frozen=True, slots=True)
class Offer:
    organization: str
    campaign: str
    description: str
    discount: Discount
    code_display: str
    expires_at: datetime
    status: CouponStatus


def language(accept_language: str | None) -> str:
    """``it`` when the browser prefers Italian to English, else ``en``."""
    for item in (accept_language or "").split(","):
        tag = item.split(";")[0].strip().lower()
        if tag.startswith("it"):
            return "it"
        if tag.startswith("en"):
            return "en"
    return "en"


def italian_discount(discount: Discount) -> str:
    if discount.kind == "free_item":
        return "Articolo in omaggio"
    return discount_text(discount).replace(" off", " di sconto")


def landing_page(offer: Offer, token: str, lang: str) -> str:
    t = STRINGS[lang]
    e = html.escape
    discount = italian_discount(offer.discount) if lang == "it" else discount_text(offer.discount)
    base = f"/wallet/links/{token}"
    description = f"<p>{e(offer.description)}</p>" if offer.description else ""
    until = f"{offer.expires_at:%Y-%m-%d %H:%M} UTC"
    if offer.status in USABLE:
        actions = f"""<ul>
<li><a href="{base}/pass.pkpass">{e(t["apple"])}</a></li>
<li><a href="{base}/google-wallet" rel="noreferrer">{e(t["google"])}</a></li>
</ul>
<p>{e(t["hint"])}</p>"""
    else:
        actions = f'<p role="status"><strong>{e(t[offer.status])}</strong></p>'
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{e(t["title"])}: {e(offer.campaign)}</title>
<link rel="stylesheet" href="/shared/base.css">
</head>
<body>
<header class="bar"><strong>{e(offer.organization)}</strong></header>
<main id="main">
<h1>{e(offer.campaign)}</h1>
<p><strong>{e(discount)}</strong></p>
{description}
<p>{e(t["code"])}: <strong>{e(offer.code_display)}</strong></p>
<p>{e(t["until"])} <time datetime="{offer.expires_at.isoformat()}">{until}</time></p>
{actions}
</main>
</body>
</html>
"""
