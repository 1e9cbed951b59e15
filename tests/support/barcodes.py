"""Pictures of codes drawn, and read back, by libraries independent of ours: segno draws a QR
code and ZXing an EAN-13 for the fake camera; ZXing reads a QR code from a screenshot."""

from __future__ import annotations

import io

import segno
import zxingcpp
from PIL import Image


def qr_picture(payload: str) -> Image.Image:
    buffer = io.BytesIO()
    segno.make_qr(payload, error="m").save(buffer, kind="png", scale=1, border=4)
    return Image.open(io.BytesIO(buffer.getvalue()))


def ean13_picture(digits: str) -> Image.Image:
    """A printed EAN-13 as a till would read it, drawn by ZXing (independent of our code)."""
    image = memoryview(zxingcpp.create_barcode(digits, zxingcpp.BarcodeFormat.EAN13).to_image(scale=1))
    height, width = image.shape
    return Image.frombytes("L", (width, height), image.tobytes())


def decode_qr(png: bytes) -> str:
    """The text of the one QR code in a PNG screenshot."""
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    text: str = found.text
    return text
