"""Phone numbers are kept in one form (E.164), so a number written with or without its country
code is the same contact at registration, at sign-in and in a mail merge's recipient list."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tessera.core.errors import ConfigurationError
from tessera.core.settings import Settings
from tessera.customers.phones import e164
from tests.support.api import Api, problem

NATIONAL = "06301234567"  # a Hungarian mobile number as written at home
INTERNATIONAL = "+36301234567"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, default_phone_region="HU")


def test_numbers_are_read_in_the_default_region_unless_they_carry_a_country_code() -> None:
    assert e164(NATIONAL, "HU") == INTERNATIONAL
    assert e164(INTERNATIONAL, "HU") == INTERNATIONAL
    assert e164(INTERNATIONAL, None) == INTERNATIONAL
    assert e164("+393331234567", "HU") == "+393331234567"
    assert e164(NATIONAL, None) is None  # no country: not a number
    assert e164("+999123456", "HU") is None  # no such country code
    assert e164("061", "HU") is None  # too short for any number there


def test_an_unknown_default_region_refuses_to_start(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="TESSERA_DEFAULT_PHONE_REGION"):
        replace(settings, default_phone_region="XX").checked()
    assert Settings.from_env({"TESSERA_DEFAULT_PHONE_REGION": "it"}).default_phone_region == "IT"


async def test_one_number_however_it_is_written(api: Api) -> None:
    created = await api.client.post(
        "/api/customers", json={"phone": NATIONAL, "consent": {"terms": True, "marketing": True}}
    )
    assert created.status_code == 201, created.text
    token = {"Authorization": f"Bearer {created.json()['token']}"}
    assert (await api.client.get("/api/me", headers=token)).json()["phone"] == INTERNATIONAL

    again = await api.client.post(
        "/api/customers", json={"phone": INTERNATIONAL, "consent": {"terms": True, "marketing": True}}
    )
    problem(again, 409, "customer_exists")
    not_a_number = await api.client.post(
        "/api/customers", json={"phone": "+999123456", "consent": {"terms": True, "marketing": True}}
    )
    assert problem(not_a_number, 422, "invalid_value")["errors"][0]["key"] == "phone"
    assert await api.sql("SELECT count(*) FROM customers") == [(1,)]

    # Sign-in with the number as written elsewhere reaches the same customer.
    asked = await api.client.post("/api/auth/customer/code", json={"phone": INTERNATIONAL})
    assert asked.status_code == 202, asked.text
    assert await api.sql("SELECT count(*) FROM outbox WHERE topic = 'sign_in_code'") == [(1,)]
    asked = await api.client.post("/api/auth/customer/code", json={"phone": NATIONAL})
    assert asked.status_code == 202, asked.text
    assert await api.sql("SELECT count(*) FROM outbox WHERE topic = 'sign_in_code'") == [(2,)]

    # So does a mail merge's list, in either form; a number that is none is an unknown recipient.
    campaign = await api.campaign(slug="spring")
    await api.publish(campaign["id"])
    merged = await api.client.post(
        "/api/mail-merges",
        json={
            "message_id": "sms-1",
            "channel": "sms",
            "template": {"body": "Code {{coupon:spring}}"},
            "recipients": [{"phone": NATIONAL}, {"phone": INTERNATIONAL}, {"phone": "+999123456"}],
        },
        headers=await api.marketer(),
    )
    assert merged.status_code == 200, merged.text
    lines = [json.loads(line) for line in merged.text.splitlines()]
    assert [line.get("to") for line in lines[:2]] == [INTERNATIONAL, INTERNATIONAL]
    assert lines[0]["coupons"] == lines[1]["coupons"]
    assert lines[2]["problem"]["code"] == "unknown_recipient"
