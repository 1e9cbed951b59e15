"""Winners of a draw hear of it by Web Push (through the outbox, to a local push service that
checks the VAPID JWT and decrypts each message): a coupon prize as its new-offer message, a
recorded prize as a contest message, in the customer's language, only with push consent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from tessera.core.settings import Settings, WorkerSettings
from tests.fakes.push import FakePushService, running_fake_push
from tests.support.api import Api, iso
from tests.support.contests import contest, enter, printed_codes
from tests.support.push import subscribe, wait_settled


@pytest.fixture
def push_service(settings: Settings) -> Iterator[FakePushService]:
    with running_fake_push(settings.push.vapid_public_key) as fake:
        yield fake


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, worker=WorkerSettings(embedded=True, poll_seconds=0.02, jobs_every_seconds=0.05))


async def test_draw_winners_get_their_push(api: Api, push_service: FakePushService) -> None:
    voucher = await api.campaign(name="Gift card", limits={"per_customer": None})
    created = await contest(
        api,
        name="Caps of summer",
        ends_at=iso(api.clock.now() + timedelta(hours=2)),
        prizes=[{"name": "Gift card", "campaign_id": voucher["id"]}],
        consolation=[{"name": "Beach towel", "count": 2}],
    )
    rows = iter(await printed_codes(api, created["id"], 6, product="Cola", points=1))
    push = {"terms": True, "marketing": True, "push": True}
    _, gianni = await api.customer(consent=push, locale="it-IT")
    _, hana = await api.customer(consent=push)
    _, ivo = await api.customer(consent={**push, "push": False})
    for headers, device, entries in ((gianni, "gianni", 3), (hana, "hana", 1), (ivo, "ivo", 1)):
        await subscribe(api, headers, push_service.add(device).subscription(push_service.url))
        for _ in range(entries):
            assert (await enter(api, created["id"], headers, next(rows)["code"])).status_code == 201
    await wait_settled(api)
    api.clock.advance(timedelta(hours=3))  # type: ignore[attr-defined]
    drawn = await api.client.post(f"/api/contests/{created['id']}/draw", headers=await api.marketer())
    assert drawn.status_code == 200, drawn.text
    await wait_settled(api)
    assert push_service.refused == []

    (top,) = push_service.messages("gianni")  # three points: first place, the gift card coupon
    assert top["kind"] == "new_offer"
    assert top["title"] == "Nuovo coupon: Gift card"
    (towel,) = push_service.messages("hana")
    assert towel["kind"] == "contest_prize"
    assert towel["title"] == "You won in Caps of summer!"
    assert towel["body"] == "Your prize: Beach towel. Open the app for the details."
    assert towel["url"] == "/#contests"
    assert push_service.messages("ivo") == []  # a winner too, but without push consent
    notified = await api.sql("SELECT count(*) FROM events WHERE type = 'notified'")
    assert notified[0][0] == 2
