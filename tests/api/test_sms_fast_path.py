"""``POST /api/sms/inbound`` is answered beneath the framework when it is a correctly signed
message (``tessera.http.fast_sms``). The same messages, sent once through that path and once
through the framework's route, must get the same answers and change the same things; whatever
the path does not take (unsigned, malformed) must reach the route untouched."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import msgspec
import pytest
from litestar import Litestar

from tessera.app import TesseraApp
from tessera.core.settings import MessageSettings, Settings, SmsSettings
from tessera.http import fast_path, fast_sms
from tests.fakes.messages import FakeMessageWebhook
from tests.support.api import Api
from tests.support.sms import INBOUND_SECRET, signature


@pytest.fixture
def settings(settings: Settings, webhook: FakeMessageWebhook) -> Settings:
    return replace(
        settings,
        messages=MessageSettings(webhook_url=webhook.url, webhook_secret=webhook.secret),
        sms=SmsSettings(inbound_secret=INBOUND_SECRET),
    )


def _requests(prefix: str, number: str) -> Iterator[tuple[str, list[tuple[str, str]], bytes, str]]:
    """(what, headers, body, query) of each message, in order."""
    json_type = ("content-type", "application/json")

    def message(gateway_id: str, text: str, sender: str = number, **extra: Any) -> bytes:
        fields = {"id": f"{prefix}-{gateway_id}", "from": sender, "to": "+3620000000", "text": text, **extra}
        return msgspec.json.encode(fields)

    def signed(body: bytes) -> list[tuple[str, str]]:
        return [json_type, ("X-Tessera-Signature", signature(body))]

    for what, body in (
        ("help", message("1", "HELP")),
        ("keyword", message("2", "coffee", received_at="2026-12-06T10:00:00+01:00")),
        ("stranger", message("4", "HELP", sender="+36309999999")),
        ("stop", message("5", "STOP")),
        ("no phone number", message("6", "HELP", sender="not a number")),
        ("not JSON", b"{not json"),
        ("unknown field", message("7", "HELP", channel="sms")),
        ("time without zone", message("8", "HELP", received_at="2026-12-06T10:00:00")),
    ):
        yield what, signed(body), body, ""
    repeat = message("1", "HELP")
    yield "repeat", signed(repeat), repeat, ""
    unsigned = message("9", "HELP")
    yield "unsigned", [json_type], unsigned, ""
    yield "badly signed", [json_type, ("X-Tessera-Signature", signature(unsigned, "x" * 40))], unsigned, ""
    yield "with a query", signed(unsigned), unsigned, "debug=1"


async def _send_all(api: Api, prefix: str, number: str, sending: list[str]) -> list[tuple[str, Any]]:
    answers = []
    for what, headers, body, query in _requests(prefix, number):
        sending.append(what)
        url = "/api/sms/inbound" + (f"?{query}" if query else "")
        response = await api.client.post(url, content=body, headers=headers)
        text = response.text.replace(prefix, "P")
        answers.append((what, (response.status_code, response.headers.get("content-type"), text)))
    return answers


async def _effects(api: Api, prefix: str) -> list[Any]:
    rows = await api.sql("SELECT gateway_id, reply, customer_id IS NULL FROM sms_inbound ORDER BY id")
    ours = [(row[0].replace(prefix, "P"), row[1], row[2]) for row in rows if row[0].startswith(prefix)]
    consents = await api.sql("SELECT count(*) FROM consents WHERE source = 'sms'")
    return [ours, consents]


async def test_the_fast_path_answers_and_changes_exactly_what_the_route_does(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = api.client.app
    assert isinstance(app, TesseraApp)
    await api.campaign(name="Coffee", sms_keyword="COFFEE")
    sending: list[str] = []
    handed_over: set[str] = set()
    framework_call = Litestar.__call__

    async def counting(self: Litestar, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/api/sms/inbound":
            handed_over.add(sending[-1])
        await framework_call(self, scope, receive, send)

    monkeypatch.setattr(Litestar, "__call__", counting)

    await api.customer(email=None, phone="+36301000001")
    fast = await _send_all(api, "fast", "+36301000001", sending)
    fast_effects = await _effects(api, "fast")
    taken_by_the_route = set(handed_over)

    app.fast_sms = False
    handed_over.clear()
    await api.customer(email=None, phone="+36302000002")
    through_route = await _send_all(api, "route", "+36302000002", sending)
    route_effects = await _effects(api, "route")

    for (what, answer), (_, expected) in zip(fast, through_route, strict=True):
        assert answer == expected, what
    assert fast_effects[0] == route_effects[0]
    assert fast_effects[0]
    statuses = {what: answer[0] for what, answer in fast}
    assert statuses == {
        "help": 200,
        "keyword": 200,
        "stranger": 200,
        "stop": 200,
        "no phone number": 422,
        "not JSON": 400,
        "unknown field": 400,
        "time without zone": 400,
        "repeat": 200,
        "unsigned": 401,
        "badly signed": 401,
        "with a query": 400,
    }
    assert taken_by_the_route == {
        "not JSON",
        "unknown field",
        "time without zone",
        "unsigned",
        "badly signed",
        "with a query",
    }
    assert handed_over == {what for what, _ in through_route}


async def test_nothing_the_framework_does_around_the_route_is_bypassed(api: Api) -> None:
    assert fast_path.bypassed_layers(api.client.app, fast_sms.SMS_PATH) == []
