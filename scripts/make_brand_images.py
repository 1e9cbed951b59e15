"""Draw the brand images: the Apple pass templates' icon and logo at 1x/2x/3x (Apple's sizes)
and the PWAs' icons (192/512, maskable 512, Apple touch icon, the customer's notification badge).

Run once after changing the brand drawing; the PNGs are kept in wallet_templates/ and pwa/.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = [ROOT / "wallet_templates" / "apple" / name for name in ("coupon.pass", "storecard.pass")]
PWA_ICONS = [ROOT / "pwa" / app / "icons" for app in ("customer", "staff")]
BRAND = (31, 41, 75, 255)
ACCENT = (242, 166, 90, 255)
WHITE = (255, 255, 255, 255)


def icon(side: int) -> Image.Image:
    image = Image.new("RGBA", (side, side), BRAND)
    draw = ImageDraw.Draw(image)
    inset = side // 6
    draw.rounded_rectangle(
        (inset, inset, side - inset, side - inset), radius=side // 8, outline=ACCENT, width=max(1, side // 14)
    )
    font = ImageFont.load_default(size=side // 2)
    draw.text((side / 2, side / 2), "T", font=font, fill=WHITE, anchor="mm")
    return image


def logo(width: int, height: int) -> Image.Image:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    mark = height - height // 5
    top = (height - mark) // 2
    draw.rounded_rectangle((0, top, mark, top + mark), radius=mark // 5, fill=ACCENT)
    draw.text(
        (mark / 2, height / 2), "T", font=ImageFont.load_default(size=mark * 2 // 3), fill=WHITE, anchor="mm"
    )
    font = ImageFont.load_default(size=height * 11 // 20)
    draw.text((mark + height // 4, height / 2), "Tessera", font=font, fill=WHITE, anchor="lm")
    return image


def maskable(side: int) -> Image.Image:
    """The icon drawn inside the central 80% safe zone of a full-bleed square, so launchers
    may cut any shape out of it."""
    image = Image.new("RGBA", (side, side), BRAND)
    inner = side * 4 // 5
    image.paste(icon(inner), ((side - inner) // 2, (side - inner) // 2))
    return image


def badge(side: int) -> Image.Image:
    """A white-on-transparent mark: Android draws notification badges from the alpha alone."""
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    inset = side // 8
    draw.rounded_rectangle(
        (inset, inset, side - inset, side - inset), radius=side // 6, outline=WHITE, width=side // 12
    )
    draw.text((side / 2, side / 2), "T", font=ImageFont.load_default(size=side // 2), fill=WHITE, anchor="mm")
    return image


def main() -> None:
    for template in TEMPLATES:
        for scale, suffix in ((1, ""), (2, "@2x"), (3, "@3x")):
            icon(29 * scale).save(template / f"icon{suffix}.png", optimize=True)
            logo(160 * scale, 50 * scale).save(template / f"logo{suffix}.png", optimize=True)
    for icons in PWA_ICONS:
        icons.mkdir(parents=True, exist_ok=True)
        icon(192).save(icons / "icon-192.png", optimize=True)
        icon(512).save(icons / "icon-512.png", optimize=True)
        maskable(512).save(icons / "icon-maskable-512.png", optimize=True)
        icon(180).convert("RGB").save(icons / "apple-touch-icon.png", optimize=True)
    badge(96).save(PWA_ICONS[0] / "badge-96.png", optimize=True)  # notifications: customers only
    print(f"images written to {', '.join(map(str, [*TEMPLATES, *PWA_ICONS]))}")


if __name__ == "__main__":
    main()
