"""Signed Apple Wallet coupon passes (.pkpass) from the template folder and one coupon's values.

py-pkpass writes pass.json, the manifest and the zip. Its known defects are worked around here:
it writes ``"changeMessage": ""`` on every field (strict validators refuse empty change
messages), so empty values are dropped from the JSON, and the deprecated single ``barcode``
key goes too; locations are plain dicts (its Location writes ``distance: null``); and it
re-reads the PEM files for every pass, so signing goes through a ``PassSigner`` that loaded
them once.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

from PIL import Image
from py_pkpass.models import Barcode, BarcodeFormat, Coupon, DateField, Field, Pass

from tessera.wallet.apple.signing import PassSigner

Status = Literal["active", "redeemed", "expired", "revoked"]
STATUS_TEXT: Final[dict[str, str]] = {
    "active": "Valid",
    "redeemed": "Redeemed",
    "expired": "Expired",
    "revoked": "Revoked",
}
EXPIRING_TEXT: Final = "Expires soon"
LOGO_BOXES: Final = {"logo.png": (160, 50), "logo@2x.png": (320, 100), "logo@3x.png": (480, 150)}
IMAGE_NAMES: Final = ("icon.png", "icon@2x.png", "icon@3x.png", *LOGO_BOXES)
_HEX = re.compile(r"^#([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})$")
_LANGUAGE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")
_FIELD_GROUPS: Final = ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields")


@dataclass(frozen=True, slots=True)
class PassContent:
    """Everything one coupon's pass shows."""

    serial_number: str
    authentication_token: str
    web_service_url: str
    description: str
    organization_name: str
    logo_text: str
    title: str
    discount_text: str
    expires_at: datetime
    status: Status
    barcode_message: str
    barcode_alt_text: str
    expiring_soon: bool = False
    redeemed_at: datetime | None = None
    details: str = ""
    terms: str = ""
    locations: tuple[tuple[float, float, str], ...] = ()
    background_color: str | None = None
    foreground_color: str | None = None
    label_color: str | None = None
    logo_png: bytes | None = None
    # language → {title, description, terms}: the campaign's own texts in other languages.
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


class _SignedPass(Pass):  # type: ignore[misc]
    """py-pkpass's Pass, signed by a preloaded signer and without empty JSON values."""

    def __init__(self, signer: PassSigner, **kwargs: Any) -> None:
        super().__init__(Coupon(), **kwargs)
        self._signer = signer

    def _createPassJson(self) -> str:
        data = _without_empty(self.json_dict())
        # py-pkpass also writes the single ``barcode`` key, deprecated since iOS 9 and refused
        # by strict validators; ``barcodes`` carries the same barcode.
        data.pop("barcode", None)
        return json.dumps(data, default=_json_default, ensure_ascii=False)

    def _createSignatureCrypto(self, manifest: str, *_: object) -> bytes:
        return self._signer.sign(manifest.encode())


class ApplePassBuilder:
    def __init__(
        self,
        template_dir: Path,
        signer: PassSigner,
        pass_type_identifier: str,
        team_identifier: str,
        organization_name: str,
    ) -> None:
        self._signer = signer
        self._identity = {
            "passTypeIdentifier": pass_type_identifier,
            "teamIdentifier": team_identifier,
            "organizationName": organization_name,
        }
        skeleton = json.loads((template_dir / "pass.json").read_text(encoding="utf-8"))
        self._skeleton: dict[str, Any] = skeleton
        self._images = {name: (template_dir / name).read_bytes() for name in IMAGE_NAMES}
        self._strings = {
            folder.name.removesuffix(".lproj"): parse_strings((folder / "pass.strings").read_text("utf-8"))
            for folder in sorted(template_dir.glob("*.lproj"))
        }

    def build(self, content: PassContent) -> bytes:
        """The signed .pkpass of one coupon (CPU-bound: call it off the event loop)."""
        item = _SignedPass(self._signer, **self._identity)
        item.organizationName = content.organization_name
        item.serialNumber = content.serial_number
        item.description = content.description
        item.logoText = content.logo_text
        item.backgroundColor = _rgb(content.background_color) or self._skeleton.get("backgroundColor")
        item.foregroundColor = _rgb(content.foreground_color) or self._skeleton.get("foregroundColor")
        item.labelColor = _rgb(content.label_color) or self._skeleton.get("labelColor")
        item.webServiceURL = content.web_service_url
        item.authenticationToken = content.authentication_token
        item.expirationDate = _iso(content.expires_at)
        item.voided = content.status != "active"
        if content.locations:
            item.locations = [
                {"latitude": latitude, "longitude": longitude, "relevantText": text}
                for latitude, longitude, text in content.locations[:10]
            ]
        item.barcode = Barcode(
            content.barcode_message, format=BarcodeFormat.QR, altText=content.barcode_alt_text
        )
        values = {
            "offer": content.discount_text,
            "title": content.title,
            "expires": _iso(content.expires_at),
            "status": EXPIRING_TEXT if content.expiring_soon else STATUS_TEXT[content.status],
            "details": content.details,
            "terms": content.terms,
            "code": content.barcode_alt_text,
        }
        fields = item.passInformation
        for group in _FIELD_GROUPS:
            for spec in self._skeleton.get("coupon", {}).get(group, []):
                value = values.get(spec["key"], spec.get("value", ""))
                if value:
                    getattr(fields, group).append(_field(spec, value))
        for name, data in self._images.items():
            item.addFile(name, io.BytesIO(data))
        if content.logo_png is not None:
            for name, data in scaled_logos(content.logo_png).items():
                item.addFile(name, io.BytesIO(data))
        for language, strings in self._localisations(content).items():
            item.addFile(f"{language}.lproj/pass.strings", io.BytesIO(strings.encode("utf-8")))
        archive: io.BytesIO = item.create(None, None, None, None)
        return archive.getvalue()

    def _localisations(self, content: PassContent) -> dict[str, str]:
        """Template strings plus the campaign's texts, keyed by the default-language text."""
        languages = dict(self._strings)
        for language in content.texts:
            if _LANGUAGE.match(language):
                languages.setdefault(language, {})
        defaults = {"title": content.title, "description": content.details, "terms": content.terms}
        rendered: dict[str, str] = {}
        for language, base in languages.items():
            strings = dict(base)
            for key, text in content.texts.get(language, {}).items():
                original = defaults.get(key)
                if original and text:
                    strings[original] = text
            rendered[language] = render_strings(strings)
        return rendered


def _field(spec: Mapping[str, Any], value: str) -> Field:
    if "dateStyle" in spec:
        made: Field = DateField(spec["key"], value, spec.get("label", ""), dateStyle=spec["dateStyle"])
        made.timeStyle = spec.get("timeStyle", made.timeStyle)
    else:
        made = Field(spec["key"], value, spec.get("label", ""))
    made.changeMessage = spec.get("changeMessage", "")
    if "textAlignment" in spec:
        made.textAlignment = spec["textAlignment"]
    return made


@lru_cache(maxsize=64)
def scaled_logos(logo_png: bytes) -> dict[str, bytes]:
    """A campaign logo fitted into Apple's logo boxes at 1x/2x/3x (cached: campaigns share one)."""
    scaled: dict[str, bytes] = {}
    with Image.open(io.BytesIO(logo_png)) as source:
        image = source.convert("RGBA")
    for name, box in LOGO_BOXES.items():
        copy = image.copy()
        copy.thumbnail(box, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        copy.save(buffer, format="PNG", optimize=True)
        scaled[name] = buffer.getvalue()
    return scaled


def parse_strings(text: str) -> dict[str, str]:
    """``"key" = "value";`` lines of a pass.strings file (comments ignored)."""
    pattern = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=\s*"((?:[^"\\]|\\.)*)"\s*;')
    return {_unescape(key): _unescape(value) for key, value in pattern.findall(text)}


def render_strings(strings: Mapping[str, str]) -> str:
    return "".join(f'"{_escape(key)}" = "{_escape(value)}";\n' for key, value in strings.items())


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda match: "\n" if match.group(1) == "n" else match.group(1), text)


def _rgb(colour: str | None) -> str | None:
    if colour is None:
        return None
    match = _HEX.match(colour)
    if match is None:
        raise ValueError(f"not a #RRGGBB colour: {colour!r}")
    red, green, blue = (int(part, 16) for part in match.groups())
    return f"rgb({red}, {green}, {blue})"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _without_empty(node: Any) -> Any:
    """Drop ``None`` and empty-string values (py-pkpass's empty ``changeMessage`` and friends)."""
    if isinstance(node, dict):
        return {
            key: _without_empty(value) for key, value in node.items() if value is not None and value != ""
        }
    if isinstance(node, list):
        return [_without_empty(value) for value in node]
    if hasattr(node, "json_dict"):
        return _without_empty(node.json_dict())
    return node


def _json_default(node: Any) -> Any:
    if hasattr(node, "json_dict"):
        return _without_empty(node.json_dict())
    raise TypeError(f"cannot write {type(node).__name__} into pass.json")
