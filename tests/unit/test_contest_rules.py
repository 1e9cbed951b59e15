"""Properties of what contests derive and decide without a database (hypothesis): printed codes,
pseudonyms, the keyed choice of instant winners, and the draw."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.codes.formats import ALPHABET, is_valid_random
from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import parse
from tessera.contests.keys import ContestKeys
from tessera.contests.rules import Standing, draw, draw_time, instant_prize, participants_digest, ranked
from tests.support.fixed_values import TEST_SECRET

KEYS = ContestKeys(CodeKeys(TEST_SECRET))
OTHER_SECRET = ContestKeys(CodeKeys(TEST_SECRET + "-other"))
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@given(st.integers(1, 2**31 - 1), st.integers(0, 10**8), st.integers(14, 24))
def test_printed_codes_carry_a_check_character_and_depend_on_the_secret(
    contest: int, serial: int, length: int
) -> None:
    code = KEYS.code(contest, serial, length)
    assert len(code) == length
    assert is_valid_random(code)
    assert parse(code).code == code
    assert OTHER_SECRET.code(contest, serial, length) != code
    assert KEYS.code(contest + 1, serial, length) != code
    # Not the coupon code of the same numbers either: contest codes have a key of their own.
    assert CodeKeys(TEST_SECRET).random_code(contest, serial, length) != code


@given(st.integers(1, 10**6), st.integers(1, 10**6))
def test_pseudonyms_are_stable_and_per_contest(contest: int, customer: int) -> None:
    alias = KEYS.alias(contest, customer)
    assert alias == KEYS.alias(contest, customer)
    assert len(alias) == 14
    assert alias.count("-") == 2
    assert set(alias.replace("-", "")) <= set(ALPHABET)
    assert alias != KEYS.alias(contest + 1, customer)


@given(st.integers(1, 10**6), st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1))
def test_two_participants_never_share_a_pseudonym(contest: int, one: int, other: int) -> None:
    # A permutation of the customer ids (the same Feistel network as instant_rank, whose test
    # below checks that it permutes), so unequal ids give unequal aliases: no collision to refuse.
    assert (KEYS.alias(contest, one) == KEYS.alias(contest, other)) == (one == other)


def test_pseudonyms_use_every_position_of_the_alphabet() -> None:
    aliases = [KEYS.alias(7, customer).replace("-", "") for customer in range(1, 3_000)]
    assert len(set(aliases)) == len(aliases)
    for position in range(12):
        assert {alias[position] for alias in aliases} == set(ALPHABET)


@settings(max_examples=60)
@given(st.integers(1, 2_000), st.integers(1, 10**6))
def test_instant_ranks_permute_the_pool(pool: int, contest: int) -> None:
    ranks = [KEYS.instant_rank(contest, serial, pool) for serial in range(pool)]
    assert sorted(ranks) == list(range(pool))


def test_each_prize_is_carried_by_exactly_its_count_of_codes() -> None:
    counts = [5, 20, 1]
    carried = [instant_prize(KEYS.instant_rank(9, serial, 1_000), counts) for serial in range(1_000)]
    assert [carried.count(position) for position in range(3)] == counts
    assert carried.count(None) == 1_000 - 26
    # Spread over the pool, not the first serials: a print run's first codes are not the winners.
    assert [serial for serial, prize in enumerate(carried) if prize is not None] != list(range(26))


def test_the_draw_ranks_by_points_then_time_then_id_and_draws_the_rest_by_the_seed() -> None:
    people = [
        Standing("CCCC-CCCC-CCCC", 10, T0),
        Standing("AAAA-AAAA-AAAA", 10, T0 + timedelta(seconds=1)),  # reached 10 later
        Standing("BBBB-BBBB-BBBB", 10, T0),  # same points and time as C: the id decides
        Standing("DDDD-DDDD-DDDD", 3, T0),
        Standing("EEEE-EEEE-EEEE", 2, T0),
        Standing("FFFF-FFFF-FFFF", 1, T0),
    ]
    assert [s.id[0] for s in ranked(people)] == ["B", "C", "A", "D", "E", "F"]
    seed = hashlib.sha256(b"seed").digest()
    awards = draw(seed, people, top=[1, 1], consolation=[2])
    assert [(a.participant[0], a.tier, a.place, a.position) for a in awards[:2]] == [
        ("B", "top", 1, 0),
        ("C", "top", 2, 1),
    ]
    drawn = [a.participant[0] for a in awards[2:]]
    assert len(drawn) == 2
    assert set(drawn) <= {"A", "D", "E", "F"}
    # Other seeds draw other consolation winners; the top places stay.
    draws = [draw(hashlib.sha256(bytes([n])).digest(), people, [1, 1], [2]) for n in range(20)]
    assert {tuple(a.participant for a in awards[:2]) for awards in draws} == {
        ("BBBB-BBBB-BBBB", "CCCC-CCCC-CCCC")
    }
    assert len({tuple(a.participant for a in awards[2:]) for awards in draws}) > 1
    # Fewer participants than prizes: everyone gets one, nobody twice.
    few = draw(seed, people[:3], top=[2], consolation=[5])
    assert sorted(a.participant for a in few) == sorted(s.id for s in people[:3])


def test_the_digest_is_of_the_canonical_list() -> None:
    people = [Standing("AAAA-AAAA-AAAA", 2, T0), Standing("BBBB-BBBB-BBBB", 5, T0)]
    lines = f"BBBB-BBBB-BBBB\t5\t{draw_time(T0)}\nAAAA-AAAA-AAAA\t2\t{draw_time(T0)}\n"
    assert participants_digest(people) == hashlib.sha256(lines.encode()).hexdigest()
