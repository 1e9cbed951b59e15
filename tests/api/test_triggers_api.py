"""Defining triggered campaigns through the API: shown as given, refused with a clear problem
when they cannot work, switched on by publishing (which issues nothing), and customers' time
zones at registration and in their profile."""

from __future__ import annotations

from typing import Any

from httpx import Response

from tests.support.api import Api, problem


async def _patch(api: Api, campaign_id: int, body: dict[str, Any]) -> Response:
    return await api.client.patch(f"/api/campaigns/{campaign_id}", json=body, headers=await api.marketer())


async def _create(api: Api, trigger: Any) -> Response:
    body = {
        "name": "Triggered",
        "discount": {"kind": "percent", "value": 10},
        "starts_at": "2026-06-01T00:00:00Z",
        "ends_at": "2026-07-01T00:00:00Z",
        "trigger": trigger,
    }
    return await api.client.post("/api/campaigns", json=body, headers=await api.marketer())


async def test_triggers_are_shown_as_defined_and_refused_when_they_cannot_work(api: Api) -> None:
    marketer = await api.marketer()
    source = await api.campaign(name="Step 1")
    assert source["trigger"] is None
    step = await api.campaign(name="Step 2", trigger={"kind": "on_redemption", "campaign_id": source["id"]})
    expected = {"kind": "on_redemption", "campaign_id": source["id"]}
    assert step["trigger"] == expected
    assert (await api.client.get(f"/api/campaigns/{step['id']}", headers=marketer)).json()[
        "trigger"
    ] == expected
    listed = (await api.client.get("/api/campaigns", headers=marketer)).json()["items"]
    assert [campaign["trigger"] for campaign in listed] == [None, expected]
    for trigger in (
        {"kind": "on_registration"},
        {"kind": "inactive_for", "days": 30},
        {"kind": "birthday"},
        {"kind": "before_expiry", "campaign_id": source["id"], "hours": 48},
    ):
        created = await _create(api, trigger)
        assert created.status_code == 201, created.text
        assert created.json()["trigger"] == trigger

    # Parameters missing, out of place or out of range; unknown kinds.
    for trigger, field in (
        ({"kind": "on_redemption"}, "trigger.campaign_id"),
        ({"kind": "before_expiry", "campaign_id": source["id"]}, "trigger.hours"),
        ({"kind": "inactive_for"}, "trigger.days"),
        ({"kind": "birthday", "days": 3}, "trigger.days"),
        ({"kind": "on_registration", "campaign_id": source["id"]}, "trigger.campaign_id"),
        ({"kind": "inactive_for", "days": 3, "hours": 2}, "trigger.hours"),
    ):
        refused = problem(await _create(api, trigger), 422, "invalid_value")
        assert refused["errors"][0]["key"] == field, refused
    for trigger in ({"kind": "sometimes"}, {"kind": "inactive_for", "days": 0}, {"kind": "birthday", "x": 1}):
        problem(await _create(api, trigger), 400, "invalid_input")

    missing = problem(
        await _create(api, {"kind": "on_redemption", "campaign_id": 999_999}),
        422,
        "trigger_campaign_not_found",
    )
    assert missing["campaign_id"] == 999_999
    # Step 2 watches step 1: step 1 may not watch step 2, nor step 2 itself.
    problem(
        await _patch(api, source["id"], {"trigger": {"kind": "on_redemption", "campaign_id": step["id"]}}),
        422,
        "trigger_cycle",
    )
    problem(
        await _patch(
            api, step["id"], {"trigger": {"kind": "before_expiry", "campaign_id": step["id"], "hours": 1}}
        ),
        422,
        "trigger_cycle",
    )
    # Code lists belong to nobody: no trigger with them, and no code lists for a triggered campaign.
    printed = await api.campaign(name="Printed")
    batch = await api.client.post(
        f"/api/campaigns/{printed['id']}/codes", json={"count": 1, "channel": "print"}, headers=marketer
    )
    assert batch.status_code == 202, batch.text
    problem(await _patch(api, printed["id"], {"trigger": {"kind": "birthday"}}), 422, "trigger_not_allowed")
    problem(
        await api.client.post(
            f"/api/campaigns/{step['id']}/codes", json={"count": 1, "channel": "print"}, headers=marketer
        ),
        422,
        "campaign_triggered",
    )
    # A failed change changes nothing.
    for campaign_id, trigger in ((source["id"], None), (step["id"], expected), (printed["id"], None)):
        shown = (await api.client.get(f"/api/campaigns/{campaign_id}", headers=marketer)).json()
        assert shown["trigger"] == trigger


async def test_publishing_switches_a_triggered_campaign_on_and_fixes_how_it_is_issued(api: Api) -> None:
    marketer = await api.marketer()
    await api.customer()
    ordinary = await api.campaign(name="Ordinary")
    winback = await api.campaign(name="Win-back", trigger={"kind": "inactive_for", "days": 30})
    draft = await api.campaign(name="Draft", trigger={"kind": "birthday"})

    switched_on = await api.publish(winback["id"])
    assert (switched_on["status"], switched_on["eligible"], switched_on["issued"]) == ("done", 0, 0)
    shown = (await api.client.get(f"/api/campaigns/{winback['id']}", headers=marketer)).json()
    assert (shown["status"], shown["published_at"] is not None) == ("running", True)
    assert await api.sql("SELECT count(*) FROM coupons WHERE campaign_id = :c", c=winback["id"]) == [(0,)]
    # The parameters may change, the kind (or being triggered at all) may not.
    changed = await _patch(api, winback["id"], {"trigger": {"kind": "inactive_for", "days": 60}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["trigger"] == {"kind": "inactive_for", "days": 60}
    problem(await _patch(api, winback["id"], {"trigger": {"kind": "birthday"}}), 422, "campaign_published")
    problem(await _patch(api, winback["id"], {"trigger": None}), 422, "campaign_published")
    await api.publish(ordinary["id"])
    problem(await _patch(api, ordinary["id"], {"trigger": {"kind": "birthday"}}), 422, "campaign_published")
    # Before publishing, anything goes.
    removed = await _patch(api, draft["id"], {"trigger": None})
    assert (removed.status_code, removed.json()["trigger"]) == (200, None)
    again = await _patch(api, draft["id"], {"trigger": {"kind": "on_registration"}})
    assert again.json()["trigger"] == {"kind": "on_registration"}
    await api.publish(draft["id"])

    # Registration still issues ordinary running campaigns at once, and no triggered one.
    registered = await api.client.post(
        "/api/customers", json={"email": "new@example.com", "consent": {"terms": True, "marketing": True}}
    )
    assert registered.json()["coupons_issued"] == 1
    held = await api.sql("SELECT campaign_id FROM coupons WHERE customer_id = :c", c=registered.json()["id"])
    assert held == [(ordinary["id"],)]


async def test_customers_give_a_time_zone_that_exists(api: Api) -> None:
    problem(
        await api.client.post(
            "/api/customers",
            json={
                "email": "a@example.com",
                "consent": {"terms": True, "marketing": True},
                "timezone": "Mars/Olympus",
            },
        ),
        422,
        "invalid_value",
    )
    _, customer = await api.customer(timezone="Europe/Rome", birthday="1990-02-28")
    me = (await api.client.get("/api/me", headers=customer)).json()
    assert (me["timezone"], me["birthday"]) == ("Europe/Rome", "1990-02-28")
    for zone in ("../../etc/passwd", "zone.tab", "Europe", ""):
        refusal = (400, "invalid_input") if zone == "" else (422, "invalid_value")  # "" breaks minLength
        problem(await api.client.patch("/api/me", json={"timezone": zone}, headers=customer), *refusal)
    refused = await api.client.patch(
        "/api/me", json={"name": "Anna", "timezone": "Nowhere/City"}, headers=customer
    )
    problem(refused, 422, "invalid_value")
    me = (await api.client.get("/api/me", headers=customer)).json()
    assert (me["name"], me["timezone"]) == (None, "Europe/Rome")  # nothing changed
    changed = await api.client.patch(
        "/api/me", json={"timezone": None, "birthday": "1992-02-29"}, headers=customer
    )
    assert (changed.json()["timezone"], changed.json()["birthday"]) == (None, "1992-02-29")
    rows = await api.sql("SELECT birth_month_day FROM customers WHERE email IS NOT NULL")
    assert rows == [(229,)]
