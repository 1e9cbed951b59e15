"""``POST /api/redemptions`` is answered beneath the framework when it is an ordinary
redemption (``tessera.http.fast_path``). The same requests, sent once through that path
and once through the framework's route, must get the same answers and change the same things;
whatever the path does not take must reach the route untouched."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from litestar import Litestar

from tessera.app import TesseraApp, create_app
from tessera.http import fast_path
from tests.support.api import Api, Headers

_IDS = {"id", "coupon_id", "campaign_id", "store_id", "staff_id"}


@dataclass
class World:
    """A store, its till, a customer's token and three coupons, made alike for each path."""

    staff: Headers
    customer: Headers
    codes: list[str]
    store_id: int


async def _world(api: Api) -> World:
    store_id = await api.store("Corvin")
    staff = await api.staff(store_id)
    campaign = await api.campaign(limits={})
    tokens = [(await api.customer())[1] for _ in range(3)]
    await api.publish(campaign["id"])
    codes = [(await api.coupons(token))[0]["code"] for token in tokens]
    return World(staff, tokens[0], codes, store_id)


def _forged(code: str) -> str:
    last = code[-1]
    return code[:-1] + ("A" if last != "A" else "B")


def _requests(world: World) -> Iterator[tuple[str, list[tuple[str, str]], bytes]]:
    """(what, headers, body) of each request, in order; ``[]`` headers: none at all."""
    staff = list(world.staff.items())
    json_type = [("Content-Type", "application/json")]

    def body(**fields: Any) -> bytes:
        return msgspec.json.encode(fields)

    first, second, third = world.codes
    yield "redeemed with a key", [*staff, *json_type, ("Idempotency-Key", "k1")], body(code=first)
    yield "the retry", [*staff, *json_type, ("Idempotency-Key", "k1")], body(code=first)
    yield "the key for another body", [*staff, *json_type, ("Idempotency-Key", "k1")], body(code=second)
    yield "already redeemed", [*staff, *json_type], body(code=first)
    yield "typed, with a total", [*staff, *json_type], body(code=second, entry="manual", order_total=1234)
    yield "forged", [*staff, *json_type], body(code=_forged(third))
    yield "malformed code", [*staff, *json_type], body(code="!!!")
    yield "no credential", json_type, body(code=third)
    yield "a customer's token", [*world.customer.items(), *json_type], body(code=third)
    yield "an unknown token", [("Authorization", "Bearer tss_unknown"), *json_type], body(code=third)
    yield "not JSON", [*staff, *json_type], b"{"
    yield "empty body", [*staff, *json_type], b""
    yield "unknown field", [*staff, *json_type], body(code=third, till=3)
    yield "negative total", [*staff, *json_type], body(code=third, order_total=-1)
    yield "total as text", [*staff, *json_type], body(code=third, order_total="12")
    yield "code too long", [*staff, *json_type], body(code="A" * 5000)
    yield "key too long", [*staff, *json_type, ("Idempotency-Key", "k" * 300)], body(code=third)
    yield "key not printable", [*staff, *json_type, ("Idempotency-Key", "k\x7f")], body(code=third)
    # The client joins them into one header, "a, b": a key like any other.
    two_keys = [*staff, *json_type, ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    yield "two keys", two_keys, body(code=third)
    yield "as text/plain", [*staff, ("Content-Type", "text/plain")], body(code=third)


def _comparable(answer: Any, labels: dict[tuple[str, int], int]) -> Any:
    """The answer with each kind of id replaced by the order in which its values appeared."""
    if isinstance(answer, list):
        return [_comparable(item, labels) for item in answer]
    if not isinstance(answer, dict):
        return answer
    found = {}
    for key, value in answer.items():
        if key in _IDS and isinstance(value, int):
            seen = sum(1 for kind, _ in labels if kind == key)
            found[key] = labels.setdefault((key, value), seen)
        else:
            found[key] = _comparable(value, labels)
    return found


async def _send_all(api: Api, world: World, reached_route: list[str]) -> list[tuple[str, Any]]:
    labels: dict[tuple[str, int], int] = {}
    answers = []
    for what, headers, content in _requests(world):
        reached_route.append(what)
        response = await api.client.post("/api/redemptions", headers=headers, content=content)
        assert response.status_code < 500, (what, response.text)
        media_type = response.headers.get("content-type")
        replayed = response.headers.get("idempotent-replayed")
        body = _comparable(response.json(), labels)
        answers.append(
            (what, (response.status_code, media_type, replayed, response.headers.get("retry-after"), body))
        )
    return answers


async def _effects(api: Api, world: World) -> list[Any]:
    rows = await api.sql(
        "SELECT kind, medium, order_total FROM redemptions WHERE store_id = :store ORDER BY id",
        store=world.store_id,
    )
    events = await api.sql(
        "SELECT type, medium, amount FROM events WHERE store_id = :store ORDER BY id", store=world.store_id
    )
    return [list(map(tuple, rows)), list(map(tuple, events))]


async def test_the_fast_path_answers_and_changes_exactly_what_the_route_does(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = api.client.app
    assert isinstance(app, TesseraApp)
    sending: list[str] = []
    handed_over: set[str] = set()
    framework_call = Litestar.__call__

    async def counting(self: Litestar, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/api/redemptions":
            handed_over.add(sending[-1])
        await framework_call(self, scope, receive, send)

    monkeypatch.setattr(Litestar, "__call__", counting)

    fast_world = await _world(api)
    fast = await _send_all(api, fast_world, sending)
    fast_effects = await _effects(api, fast_world)
    taken_by_the_route = set(handed_over)

    app.fast_redeem = False
    handed_over.clear()
    route_world = await _world(api)
    through_route = await _send_all(api, route_world, sending)
    route_effects = await _effects(api, route_world)

    for (what, answer), (_, expected) in zip(fast, through_route, strict=True):
        assert answer == expected, what
    assert fast_effects == route_effects
    assert fast_effects[0]
    statuses = dict(fast)
    assert statuses["redeemed with a key"][0] == 201
    assert statuses["the retry"][2] == "true"
    assert statuses["already redeemed"][0] == 409
    assert statuses["forged"][0] == 404
    # What the route had to decide went there; the rest never reached it.
    assert taken_by_the_route == {
        "not JSON",
        "empty body",
        "unknown field",
        "negative total",
        "total as text",
        "code too long",
        "key too long",
        "key not printable",
    }
    assert handed_over == {what for what, _ in through_route}


async def test_a_layer_the_fast_path_would_bypass_stops_the_app_from_being_built(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fast_path.bypassed_layers(api.client.app) == []

    original_init = TesseraApp.__init__

    def with_a_hook(self: TesseraApp, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, before_send=[lambda message, scope: None], **kwargs)

    monkeypatch.setattr(TesseraApp, "__init__", with_a_hook)
    with pytest.raises(RuntimeError, match="before_send"):
        create_app(api.settings, api.clock)
