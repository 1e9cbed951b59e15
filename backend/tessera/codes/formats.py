"""Code formats and their check characters, checked before any database work.

Random codes use a 31-character alphabet with no look-alikes (no 0/O, 1/I/L). The check
character makes ``int.from_bytes(values, "little") % 31 == 0``: that is a weighted sum with
weights ``256**i ≡ 8**i (mod 31)``. Since 31 is prime and neighbouring weights differ
(``8**i * (1 - 8) ≢ 0``), every single-character typo and every adjacent swap is caught, and
the check costs two C-level operations per code, which matters when generating millions.

Member-card codes use the same alphabet and check with another target residue
(``MEMBER_RESIDUE``): the same argument catches every typo and swap, and no string is valid both
as a coupon code and as a member code, so the parser tells them apart before any database work.
"""

from __future__ import annotations

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, a prime
MIN_RANDOM_LENGTH = 14  # 13 data characters = 64.4 bits
MAX_RANDOM_LENGTH = 24
EAN_SERIAL_DIGITS = 6
EAN_SERIAL_SPACE = 10**EAN_SERIAL_DIGITS
COUPON_RESIDUE = 0
MEMBER_RESIDUE = 1
MEMBER_CODE_LENGTH = 16  # 15 data characters = 74.3 bits

_VALUE_OF = {char: value for value, char in enumerate(ALPHABET)}
# byte -> value (mod 31) and value -> character, as translation tables for bytes.translate
BYTE_TO_VALUE = bytes(b % BASE for b in range(256))
VALUE_TO_CHAR = ALPHABET.encode().ljust(256, b"?")
_INVERSE_WEIGHT = {n: pow(8, -n, BASE) for n in range(MAX_RANDOM_LENGTH + 1)}
_SEPARATORS = str.maketrans("", "", " -._")


def random_check_value(values: bytes, residue: int = COUPON_RESIDUE) -> int:
    """The check value that completes ``values`` (each 0..30) to ``residue`` modulo 31."""
    remainder = int.from_bytes(values, "little") % BASE
    return ((residue - remainder) * _INVERSE_WEIGHT[len(values)]) % BASE


def random_code_from_bytes(raw: bytes, residue: int = COUPON_RESIDUE) -> str:
    """A code whose data characters come from ``raw`` (one byte each) plus its check character."""
    values = raw.translate(BYTE_TO_VALUE)
    return (values + bytes((random_check_value(values, residue),))).translate(VALUE_TO_CHAR).decode()


def normalize(text: str) -> str:
    """Upper case without the separators people and printers add."""
    return text.translate(_SEPARATORS).upper()


def _residue(code: str) -> int | None:
    try:
        values = bytes(_VALUE_OF[char] for char in code)
    except KeyError:
        return None
    return int.from_bytes(values, "little") % BASE


def is_valid_random(code: str) -> bool:
    """A coupon code: the right length and alphabet, and its check character."""
    if not MIN_RANDOM_LENGTH <= len(code) <= MAX_RANDOM_LENGTH:
        return False
    return _residue(code) == COUPON_RESIDUE


def is_valid_member(code: str) -> bool:
    """A member-card code: ``MEMBER_CODE_LENGTH`` characters completed to ``MEMBER_RESIDUE``."""
    return len(code) == MEMBER_CODE_LENGTH and _residue(code) == MEMBER_RESIDUE


def group(code: str, size: int = 4) -> str:
    """The code in groups of four, for people who type it."""
    return "-".join(code[i : i + size] for i in range(0, len(code), size))


def ean13_check_digit(data: str) -> str:
    """GS1 mod-10 check digit over 12 digits (weights 1,3 from the left)."""
    if len(data) != 12 or not (data.isascii() and data.isdigit()):
        raise ValueError("EAN-13 data must be 12 digits")
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(data))
    return str((10 - total % 10) % 10)


def is_valid_ean13(code: str) -> bool:
    return len(code) == 13 and code.isascii() and code.isdigit() and ean13_check_digit(code[:12]) == code[12]


def ean13_campaign_digits(prefix: str) -> int:
    """How many digits the campaign number gets after ``prefix`` and the 6-digit serial."""
    return 12 - len(prefix) - EAN_SERIAL_DIGITS


def ean13_code(prefix: str, campaign_number: int, serial: int) -> str:
    width = ean13_campaign_digits(prefix)
    if not 0 <= campaign_number < 10**width:
        raise ValueError("campaign number does not fit the EAN-13 layout")
    if not 0 <= serial < EAN_SERIAL_SPACE:
        raise ValueError("serial does not fit the EAN-13 layout")
    data = f"{prefix}{campaign_number:0{width}d}{serial:0{EAN_SERIAL_DIGITS}d}"
    return data + ean13_check_digit(data)
