"""A marketer's view of customers through HTTP, on both stores: search and filters, one
profile, and changes of tags, attributes and profile fields (never contact or consents), after
which a customer who now belongs to a running campaign's segment holds its coupon, once."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api, problem


async def listed(api: Api, **query: str) -> list[int]:
    response = await api.client.get("/api/customers", params=query, headers=await api.marketer())
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_customers_are_found_by_part_of_their_contact_or_name_and_by_tag(api: Api) -> None:
    ann, _ = await api.customer(email="Ann.Smith@example.com", name="Ann Smith", tags=["vip"])
    bo, _ = await api.customer(email=None, phone="+36301234567", name="Bo")
    cy, _ = await api.customer(email="cy@shop.example", name="Cyrus SMITH", tags=["vip", "rome"])
    assert await listed(api, q="smith") == [ann, cy]
    assert await listed(api, q="SHOP.EX") == [cy]
    assert await listed(api, q="3012345") == [bo]
    assert await listed(api, q="100%_") == []  # LIKE's wildcards are read as characters
    assert await listed(api, tag="vip") == [ann, cy]
    assert await listed(api, tag="vip", q="cyrus") == [cy]
    assert await listed(api, tag="vip", limit="1") == [ann]


async def test_a_marketer_reads_and_changes_a_profile_but_never_contact_or_consents(api: Api) -> None:
    marketer = await api.marketer()
    ann, ann_headers = await api.customer(email="ann@example.com", tags=["new"])
    url = f"/api/customers/{ann}"
    shown = await api.client.get(url, headers=marketer)
    assert shown.status_code == 200, shown.text
    assert (shown.json()["email"], shown.json()["tags"]) == ("ann@example.com", ["new"])

    change: dict[str, Any] = {
        "tags": ["vip", "vip", "milan"],
        "attributes": {"tier": "gold", "score": 7},
        "birthday": "1990-04-17",
        "locale": "it-IT",
        "timezone": "Europe/Rome",
    }
    changed = await api.client.patch(url, json=change, headers=marketer)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["tags"] == ["vip", "milan"]
    assert body["attributes"] == {"tier": "gold", "score": 7}
    assert (body["birthday"], body["locale"], body["timezone"]) == ("1990-04-17", "it-IT", "Europe/Rome")
    assert (await api.client.get("/api/me", headers=ann_headers)).json()["tags"] == ["vip", "milan"]

    for refused in ({"email": "other@example.com"}, {"consent": {"marketing": False}}, {"phone": "+3630"}):
        problem(await api.client.patch(url, json=refused, headers=marketer), 400, "invalid_input")
    problem(
        await api.client.patch(url, json={"timezone": "Mars/Olympus"}, headers=marketer), 422, "invalid_value"
    )
    consents = await api.sql("SELECT count(*) FROM consents WHERE customer_id = :id", id=ann)
    assert (await api.client.get(url, headers=marketer)).json()["consent"]["marketing"] is True
    assert consents == [(3,)]  # the registration's terms, marketing and push, nothing since

    problem(await api.client.get("/api/customers/999999", headers=marketer), 404, "customer_not_found")
    assert (await api.client.delete("/api/me", headers=ann_headers)).status_code == 204
    problem(await api.client.get(url, headers=marketer), 404, "customer_not_found")
    problem(await api.client.patch(url, json={"tags": []}, headers=marketer), 404, "customer_not_found")


async def test_a_change_into_a_running_campaigns_segment_issues_its_coupon_once(api: Api) -> None:
    marketer = await api.marketer()
    vip = await api.campaign(name="VIP week", segment={"tags_all": ["vip"]})
    await api.publish(vip["id"])
    ann, ann_headers = await api.customer(tags=["new"])
    _, no_consent = await api.customer(tags=["new"], marketing=False)
    assert await api.coupons(ann_headers) == []
    for _ in range(2):
        answer = await api.client.patch(f"/api/customers/{ann}", json={"tags": ["vip"]}, headers=marketer)
        assert answer.status_code == 200, answer.text
    assert [c["campaign"]["id"] for c in await api.coupons(ann_headers)] == [vip["id"]]
    other = (await api.client.get("/api/me", headers=no_consent)).json()["id"]
    answer = await api.client.patch(f"/api/customers/{other}", json={"tags": ["vip"]}, headers=marketer)
    assert answer.status_code == 200, answer.text
    assert await api.coupons(no_consent) == []  # no marketing consent: nothing
