"""The offer rules through HTTP: a store-restricted and a minimum-order campaign, spent limits
at validate and in the customer's listing, and prizes that could never be redeemed."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api, Headers, problem
from tests.support.contests import contest, enter, printed_codes


async def validate(api: Api, staff: Headers, code: str, **extra: Any) -> Any:
    return await api.client.post("/api/redemptions/validate", json={"code": code, **extra}, headers=staff)


async def coupon_of(api: Api, customer: Headers, campaign_id: int) -> dict[str, Any]:
    (coupon,) = [c for c in await api.coupons(customer) if c["campaign"]["id"] == campaign_id]
    return coupon


async def test_a_store_restricted_campaign_is_refused_at_other_tills_naming_its_stores(api: Api) -> None:
    brera, navigli, corso = [await api.store(name) for name in ("Brera", "Navigli", "Corso Como")]
    _, customer = await api.customer()
    campaign = await api.campaign(stores=[corso, navigli, corso])
    assert campaign["stores"] == [navigli, corso]  # each once, in order
    await api.publish(campaign["id"])
    code = (await coupon_of(api, customer, campaign["id"]))["code"]

    at_brera = await api.staff(brera)
    where = [{"id": navigli, "name": "Navigli"}, {"id": corso, "name": "Corso Como"}]
    assert problem(await validate(api, at_brera, code), 422, "wrong_store")["stores"] == where
    refused = problem(await api.redeem(at_brera, code, key="k-brera"), 422, "wrong_store")
    assert refused["stores"] == where
    # A refusal changes nothing: the coupon is still the customer's to use.
    assert (await coupon_of(api, customer, campaign["id"]))["status"] == "active"

    at_navigli = await api.staff(navigli)
    checked = await validate(api, at_navigli, code)
    assert checked.status_code == 200, checked.text
    assert checked.json()["stores"] == where
    assert (await api.redeem(at_navigli, code, key="k-navigli")).status_code == 201


async def test_unknown_stores_are_refused_and_null_opens_every_store(api: Api) -> None:
    marketer = await api.marketer()
    store = await api.store("Brera")
    campaign = await api.campaign(stores=[store])
    changed = await api.client.patch(
        f"/api/campaigns/{campaign['id']}", json={"stores": [store, 999]}, headers=marketer
    )
    assert problem(changed, 422, "invalid_value")["errors"][0]["key"] == "stores"
    opened = await api.client.patch(
        f"/api/campaigns/{campaign['id']}", json={"stores": None}, headers=marketer
    )
    assert opened.status_code == 200, opened.text
    assert opened.json()["stores"] is None


async def test_a_minimum_order_campaign_needs_the_order_total_and_refuses_below_it(api: Api) -> None:
    staff = await api.staff(await api.store("Brera"))
    _, customer = await api.customer()
    campaign = await api.campaign(min_order_total=2000)
    assert campaign["min_order_total"] == 2000
    await api.publish(campaign["id"])
    code = (await coupon_of(api, customer, campaign["id"]))["code"]

    # Validate without a total names the minimum; with one, it judges it as the redemption will.
    checked = await validate(api, staff, code)
    assert checked.status_code == 200, checked.text
    assert (checked.json()["min_order_total"], checked.json()["currency"]) == (2000, "EUR")
    below = problem(await validate(api, staff, code, order_total=1500), 422, "below_minimum")
    assert (below["min_order_total"], below["order_total"]) == (2000, 1500)

    missing = problem(await api.redeem(staff, code, key="k1"), 422, "below_minimum")
    assert (missing["min_order_total"], missing["order_total"]) == (2000, None)
    problem(await api.redeem(staff, code, key="k2", order_total=1999), 422, "below_minimum")
    assert (await coupon_of(api, customer, campaign["id"]))["status"] == "active"
    redeemed = await api.redeem(staff, code, key="k3", order_total=2000)
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["order_total"] == 2000


async def test_a_spent_campaign_limit_is_refused_at_validate_and_listed_as_used_up(api: Api) -> None:
    staff = await api.staff(await api.store("Brera"))
    (_, first), (_, second) = await api.customer(), await api.customer()
    campaign = await api.campaign(limits={"per_customer": None, "max_redemptions": 1})
    await api.publish(campaign["id"])
    used = await api.redeem(staff, (await coupon_of(api, first, campaign["id"]))["code"], key="k1")
    assert used.status_code == 201, used.text

    other = await coupon_of(api, second, campaign["id"])
    assert other["status"] == "used_up"
    assert problem(await validate(api, staff, other["code"]), 422, "limit_reached")["limit"] == "campaign"
    problem(await api.redeem(staff, other["code"], key="k2"), 422, "limit_reached")

    # A void gives the redemption back: the other coupon can be used again, everywhere at once.
    voided = await api.client.post(f"/api/redemptions/{used.json()['id']}/void", headers=staff)
    assert voided.status_code == 200, voided.text
    assert (await coupon_of(api, second, campaign["id"]))["status"] == "active"
    assert (await validate(api, staff, other["code"])).status_code == 200


async def test_a_spent_customer_limit_lists_the_customers_other_coupons_as_used_up(api: Api) -> None:
    staff = await api.staff(await api.store("Brera"))
    customer_id, customer = await api.customer()
    campaign = await api.campaign(limits={"per_customer": 1})
    await api.publish(campaign["id"])
    response = await api.client.post(
        f"/api/campaigns/{campaign['id']}/coupons",
        json={"customer_id": customer_id, "channel": "email", "message_id": "m-1"},
        headers=await api.marketer(),
    )
    assert response.status_code == 201, response.text
    first, second = await api.coupons(customer)
    assert (await api.redeem(staff, first["code"], key="k1")).status_code == 201
    statuses = {c["id"]: c["status"] for c in await api.coupons(customer)}
    assert statuses == {first["id"]: "redeemed", second["id"]: "used_up"}
    assert problem(await validate(api, staff, second["code"]), 422, "limit_reached")["limit"] == "customer"


async def test_a_prize_campaign_that_cannot_issue_is_refused_at_creation_and_at_the_win(api: Api) -> None:
    staff = await api.staff(await api.store("Brera"))
    _, holder = await api.customer()
    spent = await api.campaign(name="Spent", limits={"per_customer": None, "max_redemptions": 1})
    await api.publish(spent["id"])
    assert (await api.redeem(staff, (await coupon_of(api, holder, spent["id"]))["code"])).status_code == 201
    refused = problem(
        await api.client.post(
            "/api/contests",
            json={
                "kind": "points",
                "name": "Caps",
                "starts_at": spent["starts_at"],
                "ends_at": spent["ends_at"],
                "prizes": [{"name": "Coffee", "campaign_id": spent["id"]}],
            },
            headers=await api.marketer(),
        ),
        422,
        "prize_campaign_cannot_issue",
    )
    assert (refused["campaign_id"], refused["reason"]) == (spent["id"], "limit_reached")

    # A prize campaign spent after the contest began: its code is no win, and nothing is counted
    # (nor does a newcomer receive the spent campaign's coupon).
    coffee = await api.campaign(name="Coffee", limits={"per_customer": None, "max_redemptions": 1})
    created = await contest(
        api,
        kind="instant_win",
        pool_size=1,
        prizes=[{"name": "Coffee", "count": 1, "value": 300, "campaign_id": coffee["id"]}],
    )
    (row,) = await printed_codes(api, created["id"], 1)
    _, other = await api.customer()
    await api.publish(coffee["id"])
    assert (await api.redeem(staff, (await coupon_of(api, other, coffee["id"]))["code"])).status_code == 201
    _, player = await api.customer()
    answer = await enter(api, created["id"], player, row["code"])
    assert answer.status_code == 201, answer.text
    assert answer.json()["result"] == "lose"
    report = (
        await api.client.get(f"/api/contests/{created['id']}/report", headers=await api.marketer())
    ).json()
    assert (report["wins"], report["spent"]) == (0, 0)
    assert [c for c in await api.coupons(player) if c["campaign"]["id"] == coffee["id"]] == []
