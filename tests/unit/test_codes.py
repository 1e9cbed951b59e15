"""Properties of code formats, keyed derivation and the payload parser (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.codes.formats import (
    ALPHABET,
    MAX_RANDOM_LENGTH,
    MIN_RANDOM_LENGTH,
    ean13_code,
    group,
    is_valid_ean13,
    is_valid_random,
    normalize,
    random_code_from_bytes,
)
from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import InvalidCode, parse, payload_for

raw_codes = st.integers(MIN_RANDOM_LENGTH, MAX_RANDOM_LENGTH).flatmap(
    lambda length: st.binary(min_size=length - 1, max_size=length - 1)
)
KEYS = CodeKeys("k" * 40)


def gs1_check(data: str) -> str:
    """Independent GS1 mod-10: weights 1,3,1,3,… from the left over 12 digits."""
    total = sum(int(d) * (1, 3)[i % 2] for i, d in enumerate(data))
    return str((10 - total % 10) % 10)


@given(raw_codes)
def test_random_codes_are_valid_and_free_of_look_alikes(raw: bytes) -> None:
    code = random_code_from_bytes(raw)
    assert is_valid_random(code)
    assert set(code) <= set(ALPHABET)
    assert not set(code) & set("0O1IL")


@given(raw_codes)
def test_every_single_typo_is_caught(raw: bytes) -> None:
    code = random_code_from_bytes(raw)
    for position, original in enumerate(code):
        for replacement in ALPHABET:
            if replacement != original:
                typo = code[:position] + replacement + code[position + 1 :]
                assert not is_valid_random(typo), (code, typo)


@given(raw_codes)
def test_every_adjacent_swap_is_caught(raw: bytes) -> None:
    code = random_code_from_bytes(raw)
    for position in range(len(code) - 1):
        a, b = code[position], code[position + 1]
        if a != b:
            swapped = code[:position] + b + a + code[position + 2 :]
            assert not is_valid_random(swapped), (code, swapped)


def test_entropy_is_at_least_64_bits() -> None:
    assert (MIN_RANDOM_LENGTH - 1) * math.log2(len(ALPHABET)) >= 64
    assert (16 - 1) * math.log2(len(ALPHABET)) >= 74


@given(st.integers(0, 9999), st.integers(0, 999_999), st.sampled_from(["99", "98", "981"]))
def test_ean13_codes_have_valid_gs1_check_digits(campaign: int, serial: int, prefix: str) -> None:
    campaign %= 10 ** (12 - len(prefix) - 6)
    code = ean13_code(prefix, campaign, serial)
    assert len(code) == 13
    assert code.startswith(prefix)
    assert code[12] == gs1_check(code[:12])
    assert is_valid_ean13(code)
    for position in range(13):
        for digit in "0123456789":
            if digit != code[position]:
                assert not is_valid_ean13(code[:position] + digit + code[position + 1 :])


def test_ean_serial_permutation_is_a_bijection() -> None:
    serials = {KEYS.ean_serial(7, n) for n in range(1_000_000)}
    assert len(serials) == 1_000_000
    assert min(serials) == 0
    assert max(serials) == 999_999
    with pytest.raises(ValueError, match="1,000,000"):
        KEYS.ean_serial(7, 1_000_000)


@given(st.integers(1, 10**6), st.integers(0, 10**9), st.integers(MIN_RANDOM_LENGTH, MAX_RANDOM_LENGTH))
def test_derived_codes_are_deterministic_valid_and_keyed(campaign: int, serial: int, length: int) -> None:
    code = KEYS.random_code(campaign, serial, length)
    assert code == KEYS.random_code(campaign, serial, length)
    assert len(code) == length
    assert is_valid_random(code)
    assert code != CodeKeys("other" * 8).random_code(campaign, serial, length)
    assert code != KEYS.random_code(campaign, serial + 1, length)
    assert len(KEYS.digest(code)) == 16
    assert KEYS.digest(code) != CodeKeys("other" * 8).digest(code)


@given(raw_codes, st.sampled_from(["apple_wallet", "google_wallet", "pwa", "print"]))
def test_payload_round_trip(raw: bytes, medium: str) -> None:
    code = random_code_from_bytes(raw)
    parsed = parse(payload_for(code, medium))  # type: ignore[arg-type]
    assert (parsed.code, parsed.medium, parsed.format) == (code, medium, "random")
    assert parse(payload_for(code, medium), typed=True).medium == "manual"  # type: ignore[arg-type]
    assert parse(group(code).lower()).code == code
    assert normalize(group(code)) == code


def test_bare_codes_and_their_media() -> None:
    ean = ean13_code("99", 1, 42)
    assert parse(ean).medium == "print"
    assert parse(ean, typed=True).medium == "manual"
    code = KEYS.random_code(1, 1, 16)
    assert parse(f" {group(code)} ").medium == "manual"
    for bad in (
        "",
        "TSR1:Z:" + code,
        "TSR1:P",
        code[:-1],
        "x" * 200,
        ean[:-1] + str((int(ean[-1]) + 1) % 10),
    ):
        with pytest.raises(InvalidCode):
            parse(bad)


@settings(max_examples=300)
@given(st.text())
def test_parser_never_fails_otherwise(text: str) -> None:
    try:
        presented = parse(text)
    except InvalidCode:
        return
    assert is_valid_random(presented.code) or is_valid_ean13(presented.code)
