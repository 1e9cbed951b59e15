"""Draw the default icon and logo of the Apple pass template at 1x/2x/3x (Apple's sizes).

Run once after changing the brand drawing; the PNGs are kept in wallet_templates/.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

TEMPLATE = Path(__file__).resolve().parents[1] / "wallet_templates" / "apple" / "coupon.pass"
ACCENT = (242, 166, 90, 255)
WHITE = (255, 255, 255, 255)


def icon(side: int) -> Image.Image:
    image = Image.new("RGBA", (side, side), (31, 41, 75, 255))
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


def main() -> None:
    for scale, suffix in ((1, ""), (2, "@2x"), (3, "@3x")):
        icon(29 * scale).save(TEMPLATE / f"icon{suffix}.png", optimize=True)
        logo(160 * scale, 50 * scale).save(TEMPLATE / f"logo{suffix}.png", optimize=True)
    print(f"images written to {TEMPLATE}")


if __name__ == "__main__":
    main()
