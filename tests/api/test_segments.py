"""Segments through HTTP on both stores: each operator's audience (``GET
/api/campaigns/{id}/audience``) against the audience computed by hand from the customers this
test registers, store membership from real redemptions, the segment as the campaign view shows
it, registration issuing by the same rule, and refusals of inconsistent segments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.support.api import Api, iso, problem


async def audience(api: Api, segment: dict[str, Any]) -> int:
    campaign = await api.campaign(name="Segmented", segment=segment)
    response = await api.client.get(f"/api/campaigns/{campaign['id']}/audience", headers=await api.marketer())
    assert response.status_code == 200, response.text
    count: int = response.json()["count"]
    return count


async def test_each_operator_reaches_the_customers_counted_by_hand(api: Api) -> None:
    start = api.clock.now()
    # Five customers, one per line: tags, attributes; Eve registers a day later; Dan has no consent.
    await api.customer(
        tags=["vip", "milan"], attributes={"tier": "gold", "score": 10, "joined": "2026-01-15"}
    )
    await api.customer(tags=["vip"], attributes={"tier": "silver", "score": 2.5, "joined": "2026-06-01"})
    await api.customer(tags=["rome"], attributes={"tier": "gold", "score": True, "joined": 2026})
    await api.customer(tags=["vip", "rome"], marketing=False, attributes={"tier": "gold", "score": 5})
    api.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    await api.customer(tags=[], attributes={"score": "7"})
    day = iso(start + timedelta(hours=12))
    cases: list[tuple[dict[str, Any], int]] = [
        ({}, 4),
        ({"tags_any": ["milan", "rome"]}, 2),  # Ann, Cy
        ({"tags_all": ["vip", "milan"]}, 1),  # Ann
        ({"tags_none": ["vip"]}, 2),  # Cy, Eve
        ({"attributes": {"tier": "gold"}}, 2),  # Ann, Cy
        ({"attributes_in": {"tier": ["silver", "bronze"]}}, 1),  # Bo
        ({"attribute_ranges": {"score": {"gte": 2, "lte": 10}}}, 2),  # Ann, Bo (true and "7" are no numbers)
        ({"attribute_ranges": {"score": {"lte": 2}}}, 0),
        ({"attribute_ranges": {"joined": {"gte": "2026-01-01", "lte": "2026-03-31"}}}, 1),  # Ann
        ({"registered_after": day}, 1),  # Eve
        ({"registered_before": day}, 3),
        ({"tags_any": ["vip"], "attributes": {"tier": "gold"}}, 1),  # Ann
    ]
    for segment, expected in cases:
        assert await audience(api, segment) == expected, segment


async def test_store_members_are_those_who_redeemed_there(api: Api) -> None:
    milan, rome = await api.store("Milan"), await api.store("Rome")
    ann_id, ann = await api.customer()
    _, bo = await api.customer()
    await api.customer()
    offer = await api.campaign(name="Any", limits={"per_customer": None})
    await api.publish(offer["id"])
    for holder, store in ((ann, milan), (bo, rome)):
        (coupon,) = await api.coupons(holder)
        assert (await api.redeem(await api.staff(store), coupon["code"])).status_code == 201
    assert await audience(api, {"stores": [milan]}) == 1
    assert await audience(api, {"stores": [milan, rome]}) == 2
    regulars = await api.campaign(name="Milan regulars", segment={"stores": [milan]})
    assert regulars["segment"] == {"stores": [milan]}
    done = await api.publish(regulars["id"])
    assert (done["eligible"], done["issued"]) == (1, 1)
    holders = await api.sql("SELECT customer_id FROM coupons WHERE campaign_id = :c", c=regulars["id"])
    assert holders == [(ann_id,)]


async def test_a_new_customer_gets_the_coupons_of_the_segments_they_are_in(api: Api) -> None:
    after = iso(api.clock.now() - timedelta(days=1))
    vip = await api.campaign(
        name="New VIPs",
        segment={"tags_all": ["vip"], "registered_after": after, "attributes_in": {"tier": [1, 2]}},
    )
    assert vip["segment"]["registered_after"].startswith(after[:19])
    others = await api.campaign(name="Everyone but VIPs", segment={"tags_none": ["vip"]})
    for campaign in (vip, others):
        await api.publish(campaign["id"])
    _, ann = await api.customer(tags=["vip"], attributes={"tier": 1.0})
    _, bo = await api.customer(tags=["vip"], attributes={"tier": 3})
    assert [c["campaign"]["id"] for c in await api.coupons(ann)] == [vip["id"]]
    assert await api.coupons(bo) == []


async def test_inconsistent_segments_are_refused(api: Api) -> None:
    marketer = await api.marketer()
    now = api.clock.now()
    base = {
        "name": "Bad",
        "discount": {"kind": "percent", "value": 10},
        "starts_at": iso(now),
        "ends_at": iso(now + timedelta(days=1)),
    }
    for segment, field in (
        ({"attribute_ranges": {"score": {}}}, "segment.attribute_ranges.score"),
        ({"attribute_ranges": {"score": {"gte": 1, "lte": "2026-01-01"}}}, "segment.attribute_ranges.score"),
        ({"attribute_ranges": {"score": {"gte": 5, "lte": 1}}}, "segment.attribute_ranges.score"),
        ({"stores": [424242]}, "segment.stores"),
        ({"attributes_in": {"tier": []}}, "segment.attributes_in.tier"),
    ):
        answer = await api.client.post("/api/campaigns", json={**base, "segment": segment}, headers=marketer)
        body = problem(answer, 422, "invalid_value")
        assert field in str(body), body
    answer = await api.client.post(
        "/api/campaigns",
        json={**base, "segment": {"attribute_ranges": {"x": {"gte": "Jan 1"}}}},
        headers=marketer,
    )
    problem(answer, 400, "invalid_input")
    assert await api.sql("SELECT count(*) FROM campaigns") == [(0,)]
