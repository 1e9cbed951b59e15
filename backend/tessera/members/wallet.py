"""What a member card's wallet passes show: an Apple Wallet store card and a Google Wallet
loyalty object, both carrying the member barcode of the wallet they are in."""

from __future__ import annotations

from datetime import UTC

from tessera.codes.formats import group
from tessera.codes.payloads import member_payload_for
from tessera.core.settings import Settings
from tessera.models.members import MemberCard
from tessera.wallet.apple.pass_builder import PassContent
from tessera.wallet.google.loyalty import LoyaltyContent

CARD_TITLE = "Member card"
# Each text is a key of the store card template's pass.strings, so Wallet shows it translated.
HOW_IT_WORKS = (
    "Show this card at the till: the staff see your open coupons and can redeem the one you choose."
)
# The brand's colour (the PWAs' theme colour).
BRAND_COLOR = "#1F294B"


def display_name(name: str | None) -> str | None:
    """First name and the initial of the last (``Ada L.``): enough to greet, little to keep."""
    parts = (name or "").split()
    if not parts:
        return None
    first = parts[0][:40]
    return first if len(parts) == 1 else f"{first} {parts[-1][0].upper()}."


def store_card(settings: Settings, card: MemberCard, code: str, name: str | None) -> PassContent:
    """The Apple Wallet store card: no web service (it never changes), no expiry."""
    return PassContent(
        serial_number=f"member-{card.customer_id}",
        authentication_token=None,
        web_service_url=None,
        description=CARD_TITLE,
        organization_name=settings.apple.organization_name,
        logo_text="",
        title=CARD_TITLE,
        discount_text="",
        expires_at=None,
        status="active",
        barcode_message=member_payload_for(code, "apple_wallet"),
        barcode_alt_text=group(code),
        details=HOW_IT_WORKS,
        field_values={
            "member": display_name(name) or "",
            "since": card.created_at.astimezone(UTC).isoformat(timespec="seconds"),
        },
    )


def loyalty_object(settings: Settings, card: MemberCard, code: str, name: str | None) -> LoyaltyContent:
    """The Google Wallet loyalty object (and its programme's class)."""
    return LoyaltyContent(
        issuer_id=settings.google.issuer_id,
        customer_id=card.customer_id,
        issuer_name=settings.apple.organization_name,
        # Google shows the programme logo from a public address: the customer app's icon.
        logo_url=f"{settings.public_url}/icons/icon-192.png",
        background_color=BRAND_COLOR,
        account_id=group(code),
        account_name=display_name(name),
        barcode_value=member_payload_for(code, "google_wallet"),
        barcode_alt_text=group(code),
    )
