"""Offerings over a trust: signed by the MSP, held by the customer, ended at once."""

from __future__ import annotations

from tests.federation.flows import build_msp_desk, establish_trust, offer, ok


def _received(federation, member=None) -> list[dict]:
    with federation.customer.client(member or federation.customer_account.admin) as customer:
        return ok(customer.get("/api/v1/offerings", params={"kind": "received"}))["items"]


def _setup(federation):
    trust = establish_trust(
        federation.msp, federation.msp_account, federation.customer, federation.customer_account
    )
    desk = build_msp_desk(federation.msp, federation.msp_account)
    return trust, desk


def test_an_offering_is_signed_by_the_msp_and_held_by_the_customer(federation):
    trust, desk = _setup(federation)
    offered = offer(federation.msp, federation.msp_account, desk, trust)
    assert (offered["kind"], offered["trust_id"], offered["revision"]) == ("offered", trust, 1)

    [held] = _received(federation)
    assert (held["kind"], held["remote_id"], held["team_name"]) == (
        "received",
        offered["id"],
        "Service Desk",
    )
    assert held["peer_account"] == federation.msp_account.id
    # The terms are held as the customer's own rows, marked as the trust's.
    with federation.customer.client(federation.customer_account.admin) as customer:
        sla = ok(customer.get(f"/api/v1/slas/{held['customer_sla_id']}"))
        assert (sla["name"], sla["provided_by"]) == ("Gold", trust)
        assert sla["targets"]["p1"] == {"response": 60, "resolution": 240}
        calendar = ok(customer.get(f"/api/v1/calendars/{sla['calendar_id']}"))
        assert calendar["provided_by"] == trust
        services = ok(customer.get("/api/v1/services"))["items"]
        assert [s["provided_by"] for s in services if s["id"] == held["service_id"]] == [trust]
        changed = customer.patch(f"/api/v1/slas/{sla['id']}", json={"name": "Mine now"})
        assert changed.status_code == 409
        assert changed.json()["code"] == "held_for_trust"


def test_the_customers_end_users_raise_requests_on_it_with_the_offered_sla(federation):
    trust, desk = _setup(federation)
    offered = offer(federation.msp, federation.msp_account, desk, trust)
    [held] = _received(federation, federation.customer_account.end_user)
    with federation.customer.client(federation.customer_account.end_user) as customer:
        raised = ok(
            customer.post(
                "/api/v1/requests",
                json={
                    "subject": "Laptop will not boot",
                    "offering_id": held["id"],
                    "priority": "p2",
                },
            ),
            201,
        )
    assert (raised["sla"]["name"], raised["sla"]["source"]) == ("Gold", "offering")
    assert raised["sla"]["reason"] == "customer default on offering Workplace support: Gold"
    assert raised["team_id"] is None
    # The MSP raises no requests on its own copy: they live on the customer's node.
    with federation.msp.client(federation.msp_account.admin) as msp:
        refused = msp.post("/api/v1/requests", json={"subject": "x", "offering_id": offered["id"]})
    assert refused.status_code == 422
    assert refused.json()["code"] == "offering_closed"


def test_expiring_stops_new_requests_at_once_on_the_customer_node(federation):
    trust, desk = _setup(federation)
    offered = offer(federation.msp, federation.msp_account, desk, trust)
    [held] = _received(federation)
    with federation.msp.client(federation.msp_account.admin) as msp:
        expired = ok(msp.post(f"/api/v1/offerings/{offered['id']}/expire"))
    assert (expired["open"], expired["revision"]) == (False, 2)
    [after] = _received(federation)
    assert (after["open"], after["revision"]) == (False, 2)
    assert after["ends_at"] == expired["ends_at"]  # the end the signed revision gives
    with federation.customer.client(federation.customer_account.end_user) as customer:
        response = customer.post(
            "/api/v1/requests", json={"subject": "Too late", "offering_id": held["id"]}
        )
        assert response.status_code == 422
        assert response.json()["code"] == "offering_closed"
        assert ok(customer.get("/api/v1/offerings"))["items"] == []


def test_an_offering_is_written_on_neither_side_when_the_customer_node_is_down(federation):
    trust, desk = _setup(federation)
    federation.customer.stop()
    body = {
        "trust_id": trust,
        "service_id": desk.service,
        "name": "Workplace",
        "team_id": desk.team,
    }
    with federation.msp.client(federation.msp_account.admin) as msp:
        response = msp.post("/api/v1/offerings", json=body)
        assert response.status_code == 502
        assert response.json()["code"] == "peer_unavailable"
        assert ok(msp.get("/api/v1/offerings"))["items"] == []


def test_only_the_trusted_side_of_an_active_trust_offers(federation):
    trust, _ = _setup(federation)
    with federation.customer.client(federation.customer_account.admin) as customer:
        response = customer.post(
            "/api/v1/offerings",
            json={"trust_id": trust, "service_id": "x", "name": "Backwards", "team_id": "y"},
        )
    assert response.status_code == 422
    assert "trust_id" in response.json()["errors"]


def test_a_deactivated_trust_stops_new_requests_on_what_it_offered(federation):
    trust, desk = _setup(federation)
    offer(federation.msp, federation.msp_account, desk, trust)
    [held] = _received(federation)
    with federation.msp.client(federation.msp_account.admin) as msp:
        ok(msp.post(f"/api/v1/trusts/{trust}/deactivate"))
    with federation.customer.client(federation.customer_account.end_user) as customer:
        assert ok(customer.get("/api/v1/offerings"))["items"] == []
        # Nor by its id: the list and the item show people the same offerings.
        assert customer.get(f"/api/v1/offerings/{held['id']}").status_code == 404
        response = customer.post(
            "/api/v1/requests", json={"subject": "After the end", "offering_id": held["id"]}
        )
    assert response.status_code == 422
    assert response.json()["code"] == "offering_closed"


def _count_requests(federation) -> int:
    with federation.customer.client(federation.customer_account.admin) as customer:
        return len(ok(customer.get("/api/v1/requests", params={"limit": 200}))["items"])


def test_a_held_service_is_raised_on_through_its_offering_only(federation):
    """Named directly, a service held for a trust would skip what its offering decides:
    whether it is open, until when, and which MSP team it is routed to. Before and after
    the trust ends, the service id alone is refused and nothing is written."""
    trust, desk = _setup(federation)
    offer(federation.msp, federation.msp_account, desk, trust)
    [held] = _received(federation)

    def by_service() -> dict:
        with federation.customer.client(federation.customer_account.end_user) as customer:
            body = {"subject": "Around the offering", "service_id": held["service_id"]}
            response = customer.post("/api/v1/requests", json=body)
        assert response.status_code == 422, response.text
        return dict(response.json())

    assert "offering_id" in by_service()["errors"]["service_id"][0]
    with federation.msp.client(federation.msp_account.admin) as msp:
        ok(msp.post(f"/api/v1/trusts/{trust}/deactivate"))
    assert "service_id" in by_service()["errors"]
    assert _count_requests(federation) == 0
