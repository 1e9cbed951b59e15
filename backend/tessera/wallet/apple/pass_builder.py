"""Signed Apple Wallet passes (.pkpass) from a template folder and one pass's values: coupons
(``coupon.pass``, style ``coupon``) and member cards (``storecard.pass``, style ``storeCard``).

py-pkpass writes pass.json, the manifest and the zip; its defects are worked around here:

- it writes ``"changeMessage": ""`` (and other empty values) on every field, which strict
  validators refuse: empty values are dropped from the JSON;
- it writes ``"textAlignment": "PKTextAlignmentLeft"`` on every field, which Apple does not allow
  on primary and back fields (and which breaks right-to-left scripts): only a template's own
  alignment is kept;
- ``Pass.barcodes`` is ignored, only ``Pass.barcode`` is written, to ``barcodes`` and to the
  deprecated ``barcode``: the latter is dropped;
- its ``Location`` writes ``"distance": null``: locations are plain dicts;
- ``create()`` re-reads and re-validates the PEM files for every pass (~40 ms): signing goes
  through a ``PassSigner`` that loaded them once;
- its zip entries carry the build's wall-clock time: they carry a fixed one, so two builds of the
  same content differ only in the signature's signing time.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal, get_args

from PIL import Image
from py_pkpass.models import (
    Barcode,
    BarcodeFormat,
    Coupon,
    DateField,
    Field,
    Pass,
    PassInformation,
    StoreCard,
)

from tessera.core.errors import ConfigurationError
from tessera.wallet.apple.signing import PassSigner

# What the offer rules show the coupon's owner (a scheduled coupon's pass reads as active); any
# but ``active`` voids the pass, as Wallet does with spent ones. ``used_up``: the offer allows no
# more redemptions (the campaign's or the owner's limit is spent).
Status = Literal["active", "redeemed", "expired", "revoked", "used_up"]
STATUSES: Final = frozenset(get_args(Status))
# Shown in the status field; each is a key of the template's pass.strings.
STATUS_TEXT: Final[Mapping[str, str]] = {
    "active": "Valid",
    "redeemed": "Redeemed",
    "expired": "Expired",
    "revoked": "Revoked",
    "used_up": "Used up",
}
EXPIRING_TEXT: Final = "Expires soon"
# Keys of PassContent.texts: each translates the pass's text in that role.
TEXT_KEYS: Final = frozenset({"title", "description", "terms"})
ICON_NAMES: Final = ("icon.png", "icon@2x.png", "icon@3x.png")
LOGO_NAMES: Final = ("logo.png", "logo@2x.png", "logo@3x.png")
LOGO_BOX: Final = (160, 50)  # points; @2x and @3x are two and three times as many pixels
MAX_LOCATIONS: Final = 10  # Apple's limit
FIELD_GROUPS: Final = ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields")
# The pass styles a template may have (its pass.json names exactly one), and py-pkpass's class of each.
STYLES: Final[Mapping[str, type[PassInformation]]] = {"coupon": Coupon, "storeCard": StoreCard}
_HEX_COLOUR = re.compile(r"^#([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})$")
# Becomes a folder name in the zip, so nothing but a language tag (en, de, pt-BR, zh-Hans).
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2})?$")
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


@dataclass(frozen=True, slots=True)
class PassContent:
    """Everything one pass shows; checked on creation (``ValueError``).

    A pass without ``web_service_url`` (and ``authentication_token``) never asks for updates; one
    without ``expires_at`` does not expire (a member card)."""

    serial_number: str
    authentication_token: str | None
    web_service_url: str | None
    description: str
    organization_name: str
    logo_text: str
    title: str
    discount_text: str
    expires_at: datetime | None
    status: Status
    barcode_message: str
    barcode_alt_text: str
    redeemed_at: datetime | None = None
    # An active coupon close to its end: the status field says so (and iOS notifies).
    expiring_soon: bool = False
    details: str = ""
    terms: str = ""
    # (latitude, longitude, text shown on the lock screen near there)
    locations: tuple[tuple[float, float, str], ...] = ()
    background_color: str | None = None  # "#RRGGBB"; None: the template's
    foreground_color: str | None = None
    label_color: str | None = None
    logo_png: bytes | None = None  # the campaign's logo; fitted into Apple's logo boxes
    # language → {"title" | "description" | "terms": text}: the campaign's texts in that language.
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Values of the template's other fields, by key (a member card's "member", "since", …).
    field_values: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.serial_number or not self.description:
            raise ValueError("a pass needs a serial number and a description")
        if (self.web_service_url is None) != (self.authentication_token is None):
            raise ValueError("webServiceURL and authenticationToken go together")
        if self.authentication_token is not None and len(self.authentication_token) < 16:
            raise ValueError("Apple requires an authenticationToken of at least 16 characters")
        if self.web_service_url is not None and not self.web_service_url.startswith(("https://", "http://")):
            raise ValueError(f"webServiceURL must be an absolute URL: {self.web_service_url!r}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        for moment in (self.expires_at, self.redeemed_at):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("pass dates must be timezone-aware")
        try:
            self.barcode_message.encode("iso-8859-1")
        except UnicodeEncodeError:
            raise ValueError("the barcode message must be ISO-8859-1 text") from None
        for colour in (self.background_color, self.foreground_color, self.label_color):
            if colour is not None and not _HEX_COLOUR.match(colour):
                raise ValueError(f"not a #RRGGBB colour: {colour!r}")
        for latitude, longitude, _ in self.locations:
            if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
                raise ValueError(f"not a location: {latitude}, {longitude}")
        for language, texts in self.texts.items():
            if not _LANGUAGE.match(language):
                raise ValueError(f"not a language tag: {language!r}")
            if unknown := set(texts) - TEXT_KEYS:
                raise ValueError(f"unknown text keys {sorted(unknown)} (allowed: {sorted(TEXT_KEYS)})")


class _CachedKeyPass(Pass):  # type: ignore[misc]  # py-pkpass has no type hints
    """py-pkpass's Pass, signed by a preloaded signer, writing only what Apple accepts."""

    def __init__(self, signer: PassSigner, style: str, **identity: str) -> None:
        super().__init__(STYLES[style](), **identity)
        self._signer = signer

    def _createPassJson(self) -> str:
        data = _without_empty(self.json_dict())
        data.pop("barcode", None)  # deprecated since iOS 9; ``barcodes`` holds the same barcode
        return json.dumps(data, ensure_ascii=False)

    def _createSignatureCrypto(self, manifest: str, *_: object) -> bytes:
        return self._signer.sign(manifest.encode())

    def _createZip(
        self, pass_json: str, manifest: str, signature: bytes, zip_file: io.BytesIO | None = None
    ) -> None:
        entries = [
            ("pass.json", pass_json.encode()),
            ("manifest.json", manifest.encode()),
            ("signature", signature),
            *self._files.items(),
        ]
        # Stored, not deflated: PNGs do not shrink and the rest is small.
        with zipfile.ZipFile(zip_file or io.BytesIO(), "w", zipfile.ZIP_STORED) as archive:
            for name, data in entries:
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)


class ApplePassBuilder:
    """Builds signed passes from a template folder (read once, here) and PassContent.

    The template gives the pass style and its fields (keys, labels, change messages, date styles), default
    colours, icons, logos and ``<language>.lproj/pass.strings``; identifiers and the organisation's
    name come from settings. ``build`` shares no mutable state: worker threads may share a builder.
    """

    def __init__(
        self,
        template_dir: Path,
        signer: PassSigner,
        pass_type_identifier: str,
        team_identifier: str,
        organization_name: str,
    ) -> None:
        # Apple refuses a pass whose identifiers are not the signing certificate's.
        for name, configured, certified in (
            ("pass type identifier", pass_type_identifier, signer.pass_type_identifier),
            ("team identifier", team_identifier, signer.team_identifier),
        ):
            if certified is not None and certified != configured:
                raise ConfigurationError(
                    f"The {name} {configured!r} is not the signing certificate's ({certified!r})"
                )
        self.pass_type_identifier = pass_type_identifier
        self.team_identifier = team_identifier
        self.organization_name = organization_name
        self._signer = signer
        self._skeleton: dict[str, Any] = json.loads((template_dir / "pass.json").read_text("utf-8"))
        styles = [style for style in STYLES if style in self._skeleton]
        if len(styles) != 1:
            raise ConfigurationError(f"pass template: pass.json needs exactly one of {sorted(STYLES)}")
        self.style = styles[0]
        self._fields: dict[str, list[dict[str, Any]]] = {
            group: list(self._skeleton[self.style].get(group, [])) for group in FIELD_GROUPS
        }
        _check_fields(self._fields)
        self._icons = {name: (template_dir / name).read_bytes() for name in ICON_NAMES}
        self._logos = {name: (template_dir / name).read_bytes() for name in LOGO_NAMES}
        self._strings_files: dict[str, bytes] = {}
        self._strings: dict[str, dict[str, str]] = {}
        for folder in sorted(template_dir.glob("*.lproj")):
            language = folder.name.removesuffix(".lproj")
            data = (folder / "pass.strings").read_bytes()
            self._strings_files[language] = data
            self._strings[language] = parse_strings(data)

    def build(self, content: PassContent) -> bytes:
        """The signed .pkpass of one pass (CPU-bound: call it off the event loop)."""
        item = _CachedKeyPass(
            self._signer,
            self.style,
            passTypeIdentifier=self.pass_type_identifier,
            teamIdentifier=self.team_identifier,
            organizationName=content.organization_name or self.organization_name,
        )
        item.serialNumber = content.serial_number
        item.description = content.description
        item.logoText = content.logo_text
        item.backgroundColor = _rgb(content.background_color) or self._skeleton.get("backgroundColor")
        item.foregroundColor = _rgb(content.foreground_color) or self._skeleton.get("foregroundColor")
        item.labelColor = _rgb(content.label_color) or self._skeleton.get("labelColor")
        item.webServiceURL = content.web_service_url
        item.authenticationToken = content.authentication_token
        item.expirationDate = _iso(content.expires_at) if content.expires_at else None
        item.voided = content.status != "active"
        item.locations = [
            {"latitude": latitude, "longitude": longitude, "relevantText": text}
            for latitude, longitude, text in content.locations[:MAX_LOCATIONS]
        ] or None
        item.barcode = Barcode(
            content.barcode_message,
            format=BarcodeFormat.QR,
            altText=content.barcode_alt_text,
            messageEncoding="iso-8859-1",
        )
        values = {
            "offer": content.discount_text,
            "title": content.title,
            "expires": _iso(content.expires_at) if content.expires_at else "",
            "status": EXPIRING_TEXT
            if content.expiring_soon and content.status == "active"
            else STATUS_TEXT[content.status],
            "redeemed": _iso(content.redeemed_at) if content.redeemed_at else "",
            "details": content.details,
            "terms": content.terms,
            "code": content.barcode_alt_text,
            **content.field_values,
        }
        for group, specs in self._fields.items():
            fields = getattr(item.passInformation, group)
            for spec in specs:
                value = values.get(spec["key"], spec.get("value", ""))
                if value:
                    fields.append(_field(spec, value))
        for name, data in self._icons.items():
            item.addFile(name, io.BytesIO(data))
        logos = fitted_logos(content.logo_png) if content.logo_png is not None else self._logos
        for name, data in logos.items():
            item.addFile(name, io.BytesIO(data))
        for language, data in self._localisations(content).items():
            item.addFile(f"{language}.lproj/pass.strings", io.BytesIO(data))
        archive: io.BytesIO = item.create(None, None, None, None)
        return archive.getvalue()

    def _localisations(self, content: PassContent) -> dict[str, bytes]:
        """Each language's pass.strings: the template's, plus the campaign's texts.

        pass.strings keys are the texts pass.json carries, so a campaign text in another language
        is keyed by the text it translates. A language the template lacks starts from its base
        language's strings (de-AT from de) when the template has that.
        """
        originals = {"title": content.title, "description": content.details, "terms": content.terms}
        files = dict(self._strings_files)
        for language in sorted(content.texts):
            base = self._strings.get(language) or self._strings.get(language.split("-")[0], {})
            strings = dict(base)
            for key, text in content.texts[language].items():
                if originals[key] and text:
                    strings[originals[key]] = text
            files[language] = render_strings(strings)
        return dict(sorted(files.items()))


def _check_fields(groups: Mapping[str, list[dict[str, Any]]]) -> None:
    """Refuse a template Apple would refuse, when the service starts rather than on a phone."""
    keys: set[str] = set()
    for group, specs in groups.items():
        for spec in specs:
            key = spec.get("key")
            if not isinstance(key, str) or key in keys:
                raise ConfigurationError(f"pass template: field keys must be unique strings ({key!r})")
            keys.add(key)
            if "textAlignment" in spec and group in ("primaryFields", "backFields"):
                raise ConfigurationError(f"pass template: Apple allows no textAlignment in {group}")
            if "changeMessage" in spec and "%@" not in spec["changeMessage"]:
                raise ConfigurationError(f"pass template: the changeMessage of {key!r} lacks %@")


def _field(spec: Mapping[str, Any], value: str) -> Field:
    """A py-pkpass field with the template's attributes."""
    kind = DateField if "dateStyle" in spec or "timeStyle" in spec else Field
    made: Field = kind(spec["key"], value, spec.get("label", ""))
    # py-pkpass sets PKTextAlignmentLeft on every field; Apple's default (natural) is better and
    # the only one allowed on primary and back fields.
    del made.textAlignment
    for name, setting in spec.items():
        if name not in ("key", "label", "value"):
            setattr(made, name, setting)
    return made


@lru_cache(maxsize=32)
def fitted_logos(logo_png: bytes) -> dict[str, bytes]:
    """A campaign logo fitted into Apple's logo box (160 x 50 points) at 1x, 2x and 3x.

    Every density shows the same size in points (3x is three times 1x in pixels, upscaled if the
    source is small) and keeps the aspect ratio. Cached: a campaign's coupons share one logo.
    """
    with Image.open(io.BytesIO(logo_png)) as source:
        image = source.convert("RGBA")
    box_width, box_height = LOGO_BOX
    scale = min(box_width / image.width, box_height / image.height)
    fitted: dict[str, bytes] = {}
    for density, name in enumerate(LOGO_NAMES, start=1):
        size = (
            max(1, min(box_width * density, math.floor(image.width * scale * density + 0.5))),
            max(1, min(box_height * density, math.floor(image.height * scale * density + 0.5))),
        )
        buffer = io.BytesIO()
        image.resize(size, Image.Resampling.LANCZOS).save(buffer, format="PNG", optimize=True)
        fitted[name] = buffer.getvalue()
    return fitted


_STRINGS_TOKEN = re.compile(
    r'\s+|/\*.*?\*/|//[^\n]*|"(?P<key>(?:[^"\\]|\\.)*)"\s*=\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*;', re.DOTALL
)
_ESCAPES: Final = {"n": "\n", "r": "\r", "t": "\t"}


def parse_strings(data: bytes) -> dict[str, str]:
    """The ``"key" = "value";`` pairs of a pass.strings file (UTF-8, or UTF-16 with a BOM).

    Strict: anything but pairs, comments and whitespace is an error, not silently skipped.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16")
    else:
        text = data.decode("utf-8-sig")
    pairs: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _STRINGS_TOKEN.match(text, position)
        if match is None:
            line = text.count("\n", 0, position) + 1
            raise ConfigurationError(f"pass.strings: cannot read line {line}")
        if match["key"] is not None:
            pairs[_unescape(match["key"])] = _unescape(match["value"])
        position = match.end()
    return pairs


def render_strings(strings: Mapping[str, str]) -> bytes:
    """A pass.strings file in UTF-8 (which Wallet reads, as it does UTF-16 with a BOM)."""
    return "".join(f'"{_escape(key)}" = "{_escape(value)}";\n' for key, value in strings.items()).encode()


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda match: _ESCAPES.get(match[1], match[1]), text, flags=re.DOTALL)


def _rgb(colour: str | None) -> str | None:
    """``#RRGGBB`` as Apple's ``rgb(r, g, b)``."""
    if colour is None:
        return None
    match = _HEX_COLOUR.match(colour)
    if match is None:
        raise ValueError(f"not a #RRGGBB colour: {colour!r}")
    red, green, blue = (int(part, 16) for part in match.groups())
    return f"rgb({red}, {green}, {blue})"


def _iso(moment: datetime) -> str:
    """ISO 8601 with an offset (UTC), as Apple requires for dates."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _without_empty(node: Any) -> Any:
    """A copy without ``None`` and empty-string values (py-pkpass's empty ``changeMessage`` etc.)."""
    if isinstance(node, dict):
        return {
            key: _without_empty(value) for key, value in node.items() if value is not None and value != ""
        }
    if isinstance(node, list):
        return [_without_empty(value) for value in node]
    if hasattr(node, "json_dict"):
        return _without_empty(node.json_dict())
    return node
