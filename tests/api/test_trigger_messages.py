"""Triggered campaigns that tell the customer by e-mail (over a real SMTP server started by the
test) or by SMS (through a local message webhook): the message carries the code, which redeems;
an e-mail carries one-click unsubscribe (RFC 8058), which withdraws marketing consent, after
which no further offer is sent. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from tessera.core.clock import FrozenClock
from tessera.core.settings import MessageSettings, Settings
from tests.fakes.messages import FakeMessageWebhook
from tests.fakes.smtp import FakeSmtpServer
from tests.support.api import Api
from tests.support.background import run_worker

MAIL_FROM = "Coupons <coupons@shop.example>"


@pytest.fixture
def settings(settings: Settings, smtp: FakeSmtpServer, webhook: FakeMessageWebhook) -> Settings:
    return replace(
        settings,
        messages=MessageSettings(
            webhook_url=webhook.url, webhook_secret=webhook.secret, smtp_url=smtp.url, mail_from=MAIL_FROM
        ),
    )


async def test_a_triggered_coupon_told_by_e_mail_carries_its_code_and_one_click_unsubscribe(
    api: Api, settings: Settings, clock: FrozenClock, smtp: FakeSmtpServer, webhook: FakeMessageWebhook
) -> None:
    welcome = await api.campaign(name="Welcome", trigger={"kind": "on_registration", "channel": "email"})
    assert welcome["trigger"] == {"kind": "on_registration", "channel": "email"}
    await api.publish(welcome["id"])
    anna_id, anna = await api.customer(email="anna@example.com", locale="it-IT")
    await run_worker(settings, clock)
    (mail,) = await asyncio.to_thread(smtp.wait_for, "anna@example.com")

    (coupon,) = [c for c in await api.coupons(anna) if c["campaign"]["id"] == welcome["id"]]
    assert coupon["channel"] == "email"
    assert mail["Subject"] == "Nuovo coupon: Welcome"
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None
    assert html is not None
    for part in (text, html):
        assert coupon["code_display"] in part.get_content()
    unsubscribe = mail["List-Unsubscribe"].strip()  # a long header is folded onto its next line
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    match = re.fullmatch(r"<(https?://[^>]+)>", unsubscribe)
    assert match is not None, unsubscribe
    assert match.group(1) in text.get_content()
    assert webhook.received == []  # e-mail went over SMTP only

    staff = await api.staff()
    assert (await api.redeem(staff, coupon["code"])).status_code == 201

    # The mail client's one-click POST (RFC 8058) to the header's address.
    done = await api.client.post(
        urlsplit(match.group(1)).path,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200, done.text
    assert await api.sql("SELECT marketing_consent FROM customers WHERE id = :id", id=anna_id) == [(False,)]
    consents = await api.sql(
        "SELECT source FROM consents WHERE customer_id = :id AND purpose = 'marketing' AND granted = :no",
        id=anna_id,
        no=False,
    )
    assert consents == [("email",)]


async def test_a_triggered_coupon_told_by_sms_carries_its_code_and_none_goes_after_a_stop(
    api: Api, settings: Settings, clock: FrozenClock, smtp: FakeSmtpServer, webhook: FakeMessageWebhook
) -> None:
    welcome = await api.campaign(name="Welcome", trigger={"kind": "on_registration", "channel": "sms"})
    await api.publish(welcome["id"])
    _, bela = await api.customer(email=None, phone="+36301112222")
    await run_worker(settings, clock)
    for _ in range(250):
        if webhook.messages_to("+36301112222"):
            break
        await asyncio.sleep(0.02)
    (message,) = webhook.messages_to("+36301112222")
    (coupon,) = await api.coupons(bela)
    assert coupon["channel"] == "sms"
    assert message["channel"] == "sms"
    assert message["kind"] == "new_coupon"
    assert coupon["code_display"] in message["text"]
    assert "/wallet/links/" in message["text"]
    assert "unsubscribe_url" not in message
    assert smtp.delivered == []

    # A customer who withdrew consent before the worker ran is told nothing.
    _, cyril = await api.customer(email=None, phone="+36303334444")
    withdrawn = await api.client.patch("/api/me", json={"consent": {"marketing": False}}, headers=cyril)
    assert withdrawn.status_code == 200, withdrawn.text
    await run_worker(settings, clock)
    assert webhook.messages_to("+36303334444") == []
