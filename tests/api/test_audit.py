"""The audit trail through HTTP, on both stores: each marketer, staff and customer action is an
entry with its actor, written in the action's own transaction (a refused action leaves none);
only admins read it, newest first, filtered and a page at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tessera.auth.services import create_api_key
from tessera.core.db.engine import create_engine, session_factory
from tests.support.api import Api, Headers, bearer, iso, problem


async def admin(api: Api) -> Headers:
    engine = create_engine(api.settings.database)
    try:
        key = await create_api_key(session_factory(engine), api.clock, "auditor", "admin")
    finally:
        await engine.dispose()
    return bearer(key)


async def trail(api: Api, headers: Headers, **query: Any) -> list[dict[str, Any]]:
    response = await api.client.get("/api/audit", params=query, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_each_action_is_recorded_with_its_actor_and_only_admins_read_them(api: Api) -> None:
    marketer = await api.marketer()
    auditor = await admin(api)
    store = await api.store("Milan")
    staff = await api.staff(store)
    campaign = await api.campaign(name="Spring", limits={"per_customer": None})
    changed = await api.client.patch(
        f"/api/campaigns/{campaign['id']}", json={"description": "New words"}, headers=marketer
    )
    assert changed.status_code == 200, changed.text
    await api.publish(campaign["id"])
    customer_id, customer = await api.customer()
    (coupon,) = await api.coupons(customer)
    redeemed = await api.redeem(staff, coupon["code"])
    voided = await api.client.post(f"/api/redemptions/{redeemed.json()['id']}/void", headers=staff)
    assert voided.status_code == 200, voided.text
    tagged = await api.client.patch(f"/api/customers/{customer_id}", json={"tags": ["vip"]}, headers=marketer)
    assert tagged.status_code == 200, tagged.text
    now = api.clock.now()
    contest = await api.client.post(
        "/api/contests",
        json={
            "kind": "points",
            "name": "Caps",
            "starts_at": iso(now),
            "ends_at": iso(now + timedelta(days=1)),
        },
        headers=marketer,
    )
    assert (
        await api.client.post(f"/api/contests/{contest.json()['id']}/close", headers=marketer)
    ).status_code == 200
    assert (
        await api.client.post(f"/api/contests/{contest.json()['id']}/close", headers=marketer)
    ).status_code == 200
    # A refused action leaves no entry.
    problem(
        await api.client.patch("/api/campaigns/99999", json={"name": "x"}, headers=marketer),
        404,
        "campaign_not_found",
    )
    assert (await api.client.delete("/api/me", headers=customer)).status_code == 204

    entries = await trail(api, auditor, limit=50)
    actions = [(e["action"], e["actor_role"], e["subject_type"]) for e in reversed(entries)]
    assert actions == [
        ("store.created", "marketer", "store"),
        ("staff.created", "marketer", "staff"),
        ("campaign.created", "marketer", "campaign"),
        ("campaign.changed", "marketer", "campaign"),
        ("campaign.published", "marketer", "campaign"),
        ("redemption.voided", "staff", "redemption"),
        ("customer.changed", "marketer", "customer"),
        ("contest.created", "marketer", "contest"),
        ("contest.closed", "marketer", "contest"),  # once: closing again changed nothing
        ("customer.erased", "customer", "customer"),
    ]
    change = next(e for e in entries if e["action"] == "campaign.changed")
    assert change["subject_id"] == str(campaign["id"])
    assert change["data"] == {"fields": ["description"]}
    tags = next(e for e in entries if e["action"] == "customer.changed")
    assert tags["data"] == {"fields": ["tags"]}
    assert "vip" not in str(tags)  # the trail names fields, not their values

    # Filters and pages.
    mine = await trail(api, auditor, subject_type="campaign", subject_id=str(campaign["id"]))
    assert [e["action"] for e in mine] == ["campaign.published", "campaign.changed", "campaign.created"]
    assert [e["action"] for e in await trail(api, auditor, actor_role="staff")] == ["redemption.voided"]
    first = await api.client.get("/api/audit", params={"limit": 2}, headers=auditor)
    older = await trail(api, auditor, limit=2, cursor=first.json()["next_cursor"])
    assert [e["id"] for e in older] == [e["id"] for e in entries[2:4]]

    problem(await api.client.get("/api/audit", headers=marketer), 403, "forbidden")
    problem(await api.client.get("/api/audit", headers=staff), 403, "forbidden")
