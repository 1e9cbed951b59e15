"""Reading inbound SMS: the gateway's signature and the command words."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.campaigns.keywords import stored_keyword
from tessera.core.errors import InvalidValue
from tessera.sms.texts import MAX_REPLY_CHARACTERS, reply_text
from tessera.sms.words import command_of, keyword_of, signed

SECRET = "s" * 40


def header(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@given(st.binary(max_size=200))
def test_only_the_hmac_of_the_exact_body_is_signed(body: bytes) -> None:
    assert signed(SECRET, body, header(body))
    assert signed(SECRET, body, header(body).upper().replace("SHA256=", "sha256="))
    assert not signed(SECRET, body + b" ", header(body))
    assert not signed(SECRET, body, header(body, "t" * 40))
    assert not signed(SECRET, body, header(body)[len("sha256=") :])
    assert not signed(SECRET, body, None)
    assert not signed("", body, header(body, ""))


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("STOP", "stop"),
        (" stop. ", "stop"),
        ("Stopp", "stop"),
        ("basta", "stop"),
        ("Leiratkozás", "stop"),
        ("STOP please", "stop"),
        ("help", "help"),
        ("Aiuto!", "help"),
        ("súgó", "help"),
        ("COFFEE", None),
        ("stopwatch", None),
        ("", None),
    ],
)
def test_command_words_in_every_language(text: str, command: str | None) -> None:
    assert command_of(text) == command


def test_keywords_are_one_word_in_upper_case_and_never_a_command() -> None:
    assert keyword_of(" coffee ") == "COFFEE"
    assert keyword_of("Café") == "CAFE"
    assert keyword_of("two words") is None
    assert keyword_of("STOP") is None
    assert keyword_of("x") is None
    assert stored_keyword("Coffee") == "COFFEE"
    with pytest.raises(InvalidValue):
        stored_keyword("hilfe")


LINK = "https://coupons.example.com/wallet/links/" + "t" * 43


@given(campaign=st.text(min_size=1, max_size=400), locale=st.sampled_from(["en", "de", "it", "hu"]))
def test_a_reply_keeps_code_and_link_whole_and_fits_two_messages_by_shortening_the_name(
    campaign: str, locale: str
) -> None:
    text = reply_text(
        "coupon", locale, campaign=campaign, code="ABCD-EFGH-JKLM-NP", until="2026-12-31", link=LINK
    )
    assert len(text) <= MAX_REPLY_CHARACTERS
    assert "ABCD-EFGH-JKLM-NP" in text
    assert text.endswith(LINK)
    if len(campaign) < 100:
        assert campaign in text  # short names are never touched


def test_a_long_prize_and_contest_name_are_both_shortened() -> None:
    text = reply_text(
        "entry_win_code", "en", contest="C" * 200, prize="P" * 200, code="ABCD-EFGH-JKLM-NP", link=LINK
    )
    assert len(text) <= MAX_REPLY_CHARACTERS
    assert "…" in text
    assert text.endswith(LINK)
