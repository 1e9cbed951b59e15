"""Properties of member-card codes and of the one parser that tells them from coupons (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.codes.formats import (
    ALPHABET,
    MEMBER_CODE_LENGTH,
    MEMBER_RESIDUE,
    group,
    is_valid_member,
    is_valid_random,
    random_code_from_bytes,
)
from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import (
    CARD_MEDIA,
    InvalidCode,
    InvalidMemberCode,
    member_payload_for,
    parse,
    parse_member,
    payload_for,
)

KEYS = CodeKeys("k" * 40)
member_bytes = st.binary(min_size=MEMBER_CODE_LENGTH - 1, max_size=MEMBER_CODE_LENGTH - 1)


def member(raw: bytes) -> str:
    return random_code_from_bytes(raw, MEMBER_RESIDUE)


@given(member_bytes)
def test_member_codes_are_valid_and_never_coupon_codes(raw: bytes) -> None:
    code = member(raw)
    assert is_valid_member(code)
    assert not is_valid_random(code)
    assert not is_valid_member(random_code_from_bytes(raw))
    assert set(code) <= set(ALPHABET)


@given(member_bytes)
def test_every_single_typo_and_adjacent_swap_of_a_member_code_is_caught(raw: bytes) -> None:
    code = member(raw)
    for position, original in enumerate(code):
        for replacement in ALPHABET:
            if replacement != original:
                assert not is_valid_member(code[:position] + replacement + code[position + 1 :])
    for position in range(len(code) - 1):
        a, b = code[position], code[position + 1]
        if a != b:
            assert not is_valid_member(code[:position] + b + a + code[position + 2 :])


@given(st.integers(1, 2**31 - 1))
def test_member_codes_are_derived_keyed_and_distinct(customer_id: int) -> None:
    code = KEYS.member_code(customer_id)
    assert code == KEYS.member_code(customer_id)
    assert is_valid_member(code)
    assert code != KEYS.member_code(customer_id + 1)
    assert code != CodeKeys("other" * 8).member_code(customer_id)
    # Never the code of a coupon of the same numbers.
    assert code != KEYS.random_code(customer_id, 0, MEMBER_CODE_LENGTH)


@given(member_bytes, st.sampled_from([medium for medium in CARD_MEDIA if medium != "manual"]))
def test_member_payload_round_trip_and_refusal_as_a_coupon(raw: bytes, medium: str) -> None:
    code = member(raw)
    payload = member_payload_for(code, medium)  # type: ignore[arg-type]
    presented = parse_member(payload)
    assert (presented.code, presented.medium) == (code, medium)
    assert parse_member(payload, typed=True).medium == "manual"
    assert parse_member(group(code).lower()).medium == "manual"
    for shown in (payload, code, group(code)):
        with pytest.raises(InvalidCode):
            parse(shown)


@given(st.binary(min_size=15, max_size=15))
def test_coupons_are_refused_as_member_cards_and_member_card_redemptions_parse(raw: bytes) -> None:
    code = random_code_from_bytes(raw)
    redeemed_from_card = parse(payload_for(code, "member_card"))
    assert (redeemed_from_card.code, redeemed_from_card.medium) == (code, "member_card")
    for shown in (code, payload_for(code, "pwa"), payload_for(code, "member_card"), f"TSM1:P:{code}"):
        with pytest.raises(InvalidMemberCode):
            parse_member(shown)


@settings(max_examples=300)
@given(st.text())
def test_nothing_is_both_and_nothing_else_fails(text: str) -> None:
    outcomes = []
    for reader, refusal in ((parse, InvalidCode), (parse_member, InvalidMemberCode)):
        try:
            reader(text)
            outcomes.append(True)
        except refusal:
            outcomes.append(False)
    assert outcomes != [True, True]


def test_manual_has_no_payload() -> None:
    with pytest.raises(ValueError, match="manual"):
        member_payload_for(KEYS.member_code(1), "manual")
