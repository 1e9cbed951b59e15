"""Google Wallet offer classes (one per campaign) and objects (one per coupon) from templates.

The templates in ``wallet_templates/google`` are Google's JSON with placeholders: a string that
is exactly ``"$name"`` is replaced by that value of the coupon. A placeholder without a value
(``None`` or empty) drops its key, and an object left empty by that is dropped too, so an
optional part such as the logo (``titleImage.sourceUri.uri``) disappears as a whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from tessera.offers.refusals import CouponStatus

STATES: Final = frozenset({"ACTIVE", "COMPLETED", "EXPIRED", "INACTIVE"})
# What the coupon's owner is shown (the offer rules' listing answer), as the object's state. In
# Google's words ACTIVE is usable, COMPLETED "has been used", EXPIRED is past its validity and
# INACTIVE "no longer valid": a used-up offer was neither used with this pass nor has it expired.
# All but ACTIVE move the pass to the wallet's expired passes; ACTIVE brings it back.
OFFER_STATES: Final[Mapping[CouponStatus, str]] = {
    "active": "ACTIVE",
    "scheduled": "ACTIVE",
    "redeemed": "COMPLETED",
    "expired": "EXPIRED",
    "revoked": "INACTIVE",
    "used_up": "INACTIVE",
}
PLACEHOLDERS: Final = frozenset(
    {
        "class_id",
        "object_id",
        "issuer_name",
        "provider",
        "title",
        "details",
        "terms",
        "discount_text",
        "background_color",
        "logo_url",
        "callback_url",
        "barcode_value",
        "barcode_alt_text",
        "valid_from",
        "valid_until",
        "state",
        "localized_title",
        "localized_details",
        "localized_terms",
    }
)
_PLACEHOLDER = re.compile(r"^\$([a-z_]+)$")
_ISSUER_ID = re.compile(r"^[0-9]{1,30}$")
_SUFFIX = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_MISSING: Final = object()


def class_id(issuer_id: str, campaign_id: int | str) -> str:
    """The offer class of a campaign: ``<issuerId>.campaign-<id>``."""
    return resource_id(issuer_id, f"campaign-{campaign_id}")


def object_id(issuer_id: str, coupon_id: int | str) -> str:
    """The offer object of a coupon: ``<issuerId>.coupon-<id>``; stable, Google keys it forever."""
    return resource_id(issuer_id, f"coupon-{coupon_id}")


def resource_id(issuer_id: str, suffix: str) -> str:
    if not _ISSUER_ID.match(issuer_id):
        raise ValueError(f"a Google Wallet issuer id is a number, not {issuer_id!r}")
    if not _SUFFIX.match(suffix):
        raise ValueError(f"a Google Wallet id suffix allows only [A-Za-z0-9._-], not {suffix!r}")
    return f"{issuer_id}.{suffix}"


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("Google Wallet times need an aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class LocalizedTexts:
    """The texts of an offer in one more language; unset ones fall back to the default."""

    language: str
    title: str | None = None
    details: str | None = None
    terms: str | None = None


@dataclass(frozen=True, slots=True)
class OfferContent:
    """Everything of one coupon that its Google Wallet class and object show."""

    issuer_id: str
    campaign_id: int | str
    coupon_id: int | str
    issuer_name: str
    provider: str
    title: str
    details: str | None
    terms: str | None
    discount_text: str | None
    background_color: str | None  # "#RRGGBB"
    logo_url: str | None
    callback_url: str
    barcode_value: str  # our payload, e.g. "TSR1:G:..."
    barcode_alt_text: str | None
    valid_from: datetime
    valid_until: datetime
    state: str  # ACTIVE | COMPLETED | EXPIRED | INACTIVE
    language: str = "en"  # of title, details and terms
    translations: tuple[LocalizedTexts, ...] = ()

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {sorted(STATES)}, not {self.state!r}")
        if self.background_color is not None and not _COLOUR.match(self.background_color):
            raise ValueError(f"background_color must be #RRGGBB, not {self.background_color!r}")
        if self.valid_from.tzinfo is None or self.valid_until.tzinfo is None:
            raise ValueError("valid_from and valid_until must be aware datetimes")
        for language in (self.language, *(t.language for t in self.translations)):
            if not _LANGUAGE.match(language):
                raise ValueError(f"not a BCP 47 language tag: {language!r}")

    def values(self) -> dict[str, Any]:
        """The placeholder values; ``None`` where the coupon has nothing to show."""
        return {
            "class_id": class_id(self.issuer_id, self.campaign_id),
            "object_id": object_id(self.issuer_id, self.coupon_id),
            "issuer_name": self.issuer_name,
            "provider": self.provider,
            "title": self.title,
            "details": self.details,
            "terms": self.terms,
            "discount_text": self.discount_text,
            "background_color": self.background_color,
            "logo_url": self.logo_url,
            "callback_url": self.callback_url,
            "barcode_value": self.barcode_value,
            "barcode_alt_text": self.barcode_alt_text,
            "valid_from": rfc3339(self.valid_from),
            "valid_until": rfc3339(self.valid_until),
            "state": self.state,
            "localized_title": self._localized(self.title, "title"),
            "localized_details": self._localized(self.details, "details"),
            "localized_terms": self._localized(self.terms, "terms"),
        }

    def _localized(self, default: str | None, name: str) -> dict[str, Any] | None:
        """A LocalizedString, only when some translation has this text: without one it would
        just repeat the plain field and lengthen the save link."""
        translated = [
            {"language": t.language, "value": value}
            for t in self.translations
            if (value := getattr(t, name)) and t.language != self.language
        ]
        if not default or not translated:
            return None
        return {
            "defaultValue": {"language": self.language, "value": default},
            "translatedValues": translated,
        }


class OfferTemplates:
    """The offer class and object templates of a folder, read and checked once."""

    def __init__(self, class_template: dict[str, Any], object_template: dict[str, Any]) -> None:
        check_template(class_template, "offer_class.json", {"id": "$class_id"}, PLACEHOLDERS)
        check_template(
            object_template, "offer_object.json", {"id": "$object_id", "classId": "$class_id"}, PLACEHOLDERS
        )
        self._class = class_template
        self._object = object_template

    @classmethod
    def load(cls, directory: Path) -> OfferTemplates:
        directory = Path(directory)
        return cls(
            read_template(directory / "offer_class.json"), read_template(directory / "offer_object.json")
        )

    def offer_class(self, content: OfferContent) -> dict[str, Any]:
        return fill_template(self._class, content.values())

    def offer_object(self, content: OfferContent) -> dict[str, Any]:
        return fill_template(self._object, content.values())


def read_template(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the Google Wallet template {path}: {error}") from error
    if not isinstance(document, dict):
        raise ValueError(f"{path}: a template must be a JSON object")
    return document


def check_template(
    template: dict[str, Any], name: str, required: Mapping[str, str], allowed: frozenset[str]
) -> None:
    """Refuse a template without the ``required`` placeholders or with ones outside ``allowed``."""
    for key, placeholder in required.items():
        if template.get(key) != placeholder:
            raise ValueError(f"{name}: {key!r} must be {placeholder!r}")
    unknown = _placeholders(template) - allowed
    if unknown:
        raise ValueError(f"{name}: unknown placeholders {sorted(unknown)}")


def _placeholders(node: Any) -> set[str]:
    if isinstance(node, str):
        match = _PLACEHOLDER.match(node)
        return {match.group(1)} if match else set()
    if isinstance(node, dict):
        return set().union(*(_placeholders(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_placeholders(value) for value in node))
    return set()


def fill_template(template: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A filled copy of ``template`` (see the module's docstring)."""
    filled = _fill(template, values)
    return {} if filled is _MISSING else dict(filled)


def _fill(node: Any, values: Mapping[str, Any]) -> Any:
    """A filled copy of ``node``; ``_MISSING`` where nothing is left to show."""
    if isinstance(node, str):
        match = _PLACEHOLDER.match(node)
        if match is None:
            return node
        value = values[match.group(1)]
        return _MISSING if value is None or value == "" else value
    if isinstance(node, dict):
        filled = {key: _fill(value, values) for key, value in node.items()}
        kept = {key: value for key, value in filled.items() if value is not _MISSING}
        return _MISSING if node and not kept else kept
    if isinstance(node, list):
        return [value for value in (_fill(item, values) for item in node) if value is not _MISSING]
    return node
