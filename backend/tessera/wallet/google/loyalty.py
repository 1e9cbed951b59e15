"""Google Wallet member cards: one loyalty class for the programme, one loyalty object per customer.

The templates (``loyalty_class.json``, ``loyalty_object.json`` in ``wallet_templates/google``)
work like the offer templates (``objects``): Google's JSON with ``"$name"`` placeholders, a
placeholder without a value dropping its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tessera.wallet.google.objects import STATES, check_template, fill_template, read_template, resource_id

LOYALTY_PLACEHOLDERS: Final = frozenset(
    {
        "class_id",
        "object_id",
        "issuer_name",
        "program_name",
        "localized_program_name",
        "logo_url",
        "background_color",
        "account_id_label",
        "localized_account_id_label",
        "account_name_label",
        "localized_account_name_label",
        "account_id",
        "account_name",
        "barcode_value",
        "barcode_alt_text",
        "state",
    }
)
# The texts the class shows, by language; English is the default.
LABELS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {"program": "Member card", "account_id": "Member number", "account_name": "Member"},
    "it": {"program": "Tessera socio", "account_id": "Numero socio", "account_name": "Socio"},
    "de": {"program": "Kundenkarte", "account_id": "Mitgliedsnummer", "account_name": "Mitglied"},
}


def loyalty_class_id(issuer_id: str) -> str:
    """The one loyalty class of the programme: ``<issuerId>.member-card``."""
    return resource_id(issuer_id, "member-card")


def loyalty_object_id(issuer_id: str, customer_id: int) -> str:
    """A customer's member card: ``<issuerId>.member-<customer id>``."""
    return resource_id(issuer_id, f"member-{customer_id}")


@dataclass(frozen=True, slots=True)
class LoyaltyContent:
    """Everything a member card's Google Wallet class and object show."""

    issuer_id: str
    customer_id: int
    issuer_name: str
    logo_url: str  # Google requires a programme logo, at a public https address in production
    background_color: str | None
    account_id: str  # the member number as people read it
    account_name: str | None  # the member's display name, when they gave a name
    barcode_value: str  # our payload, "TSM1:G:..."
    barcode_alt_text: str
    state: str = "ACTIVE"

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {sorted(STATES)}, not {self.state!r}")
        if not self.logo_url.startswith(("https://", "http://")):
            raise ValueError(f"the programme logo needs an absolute URL, not {self.logo_url!r}")

    def values(self) -> dict[str, Any]:
        return {
            "class_id": loyalty_class_id(self.issuer_id),
            "object_id": loyalty_object_id(self.issuer_id, self.customer_id),
            "issuer_name": self.issuer_name,
            "program_name": f"{self.issuer_name} · {LABELS['en']['program']}",
            "localized_program_name": _localized(
                {language: f"{self.issuer_name} · {texts['program']}" for language, texts in LABELS.items()}
            ),
            "logo_url": self.logo_url,
            "background_color": self.background_color,
            "account_id_label": LABELS["en"]["account_id"],
            "localized_account_id_label": _localized(
                {language: texts["account_id"] for language, texts in LABELS.items()}
            ),
            "account_name_label": LABELS["en"]["account_name"],
            "localized_account_name_label": _localized(
                {language: texts["account_name"] for language, texts in LABELS.items()}
            ),
            "account_id": self.account_id,
            "account_name": self.account_name,
            "barcode_value": self.barcode_value,
            "barcode_alt_text": self.barcode_alt_text,
            "state": self.state,
        }


def _localized(texts: Mapping[str, str]) -> dict[str, Any]:
    """A LocalizedString: English as the default, the other languages translated."""
    return {
        "defaultValue": {"language": "en", "value": texts["en"]},
        "translatedValues": [
            {"language": language, "value": text} for language, text in texts.items() if language != "en"
        ],
    }


class LoyaltyTemplates:
    """The loyalty class and object templates of a folder, read and checked once."""

    def __init__(self, class_template: dict[str, Any], object_template: dict[str, Any]) -> None:
        check_template(class_template, "loyalty_class.json", {"id": "$class_id"}, LOYALTY_PLACEHOLDERS)
        check_template(
            object_template,
            "loyalty_object.json",
            {"id": "$object_id", "classId": "$class_id"},
            LOYALTY_PLACEHOLDERS,
        )
        barcode = object_template.get("barcode")
        if not isinstance(barcode, dict) or barcode.get("value") != "$barcode_value":
            raise ValueError("loyalty_object.json: the barcode's value must be '$barcode_value'")
        self._class = class_template
        self._object = object_template

    @classmethod
    def load(cls, directory: Path) -> LoyaltyTemplates:
        directory = Path(directory)
        return cls(
            read_template(directory / "loyalty_class.json"), read_template(directory / "loyalty_object.json")
        )

    def loyalty_class(self, content: LoyaltyContent) -> dict[str, Any]:
        return fill_template(self._class, content.values())

    def loyalty_object(self, content: LoyaltyContent) -> dict[str, Any]:
        return fill_template(self._object, content.values())
