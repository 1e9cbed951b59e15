"""A campaign's wallet look: colours, logo and texts per language, set by marketers.

The logo arrives base64-encoded in JSON (msgspec decodes ``bytes`` that way), is checked to be
a real PNG of sensible size, and is stored apart from the design so listings stay small.
"""

from __future__ import annotations

import io
import warnings
from typing import Annotated, Any

import msgspec
from PIL import Image

from tessera.core.errors import InvalidValue

HexColour = Annotated[str, msgspec.Meta(pattern=r"^#[0-9A-Fa-f]{6}$")]
Language = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]
MAX_LOGO_BYTES = 512 * 1024
MAX_LOGO_SIDE = 2000
MIN_LOGO_HEIGHT = 50


class PassTexts(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Texts of the pass in one language; unset ones fall back to the campaign's own."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=120)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    terms: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class WalletDesign(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    background_color: HexColour | None = None
    foreground_color: HexColour | None = None
    label_color: HexColour | None = None
    logo_text: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    terms: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    texts: Annotated[dict[Language, PassTexts], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=dict
    )


class WalletDesignInput(WalletDesign, forbid_unknown_fields=True, omit_defaults=True):
    # A PNG, base64 in JSON; at least 50 px high, it is scaled into Apple's logo boxes.
    logo_png: Annotated[bytes, msgspec.Meta(max_length=MAX_LOGO_BYTES)] | None = None
    remove_logo: bool = False


class WalletDesignView(WalletDesign, omit_defaults=False):
    has_logo: bool = False


def stored(design: WalletDesign) -> dict[str, Any]:
    """The design as kept in ``campaigns.wallet_design`` (without the logo)."""
    plain = WalletDesign(
        background_color=design.background_color,
        foreground_color=design.foreground_color,
        label_color=design.label_color,
        logo_text=design.logo_text,
        terms=design.terms,
        texts=design.texts,
    )
    result: dict[str, Any] = msgspec.to_builtins(plain)
    return result


def loaded(data: dict[str, Any]) -> WalletDesign:
    return msgspec.convert(data, WalletDesign)


def view_of(data: dict[str, Any], has_logo: bool) -> WalletDesignView:
    return msgspec.convert({**data, "has_logo": has_logo}, WalletDesignView)


def checked_logo(data: bytes) -> bytes:
    """``data`` if it is a PNG Tessera can scale into a wallet logo; else ``InvalidValue``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format, (width, height) = image.format, image.size
                if max(width, height) > MAX_LOGO_SIDE:
                    raise InvalidValue(
                        f"The logo may be at most {MAX_LOGO_SIDE} px on a side", field="wallet.logo_png"
                    )
                image.verify()
    except InvalidValue:
        raise
    except Exception as error:
        raise InvalidValue("The logo is not a readable PNG image", field="wallet.logo_png") from error
    if image_format != "PNG":
        raise InvalidValue("The logo must be a PNG image", field="wallet.logo_png")
    if height < MIN_LOGO_HEIGHT:
        raise InvalidValue(f"The logo must be at least {MIN_LOGO_HEIGHT} px high", field="wallet.logo_png")
    return data
