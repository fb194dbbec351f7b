"""Raising a request: routing, the SLA that applies and why, and what bad input gets."""

from __future__ import annotations

from datetime import datetime, timedelta


def _due(body, clock_name):
    return datetime.fromisoformat(body["sla"][clock_name]["due"])


def test_an_end_user_raises_a_request_that_is_routed_and_measured(desk, clock):
    body = desk.raise_request(description="Smoke everywhere")
    assert body["reference"] == f"REQ-{body['number']}"
    assert body["status"] == "new"
    assert body["team_id"] == desk.team
    assert body["requester_id"] == desk.account.end_user.id
    assert body["sla"]["source"] == "offering"
    assert body["sla"]["reason"] == "customer default on offering Printing for HQ: Customer"
    created = datetime.fromisoformat(body["created_at"])
    assert _due(body, "response") - created == timedelta(hours=2)
    assert _due(body, "resolution") - created == timedelta(hours=8)
    assert body["sla"]["response"]["state"] == "on_track"


def test_numbers_count_up_per_account(desk):
    first, second = desk.raise_request(), desk.raise_request()
    assert second["number"] == first["number"] + 1


def test_the_creation_is_on_the_timeline_and_in_the_audit_log(desk):
    body = desk.raise_request()
    timeline = desk.get(f"/api/v1/requests/{body['id']}/timeline", who="end_user").get_json()
    assert [e["kind"] for e in timeline] == ["created"]
    assert timeline[0]["actor"]["id"] == desk.account.end_user.id
    audit = desk.get("/api/v1/audit", who="auditor", action="request.create").get_json()
    assert audit["items"][0]["target_id"] == body["id"]


def test_a_retry_with_the_same_idempotency_key_returns_the_first_request(desk):
    """As the first answer did: 201 (see test_idempotency_keys for the rest)."""
    body = {"subject": "Once", "offering_id": desk.offering}
    first = desk.post("/api/v1/requests", body, "end_user", **{"Idempotency-Key": "k-1"})
    again = desk.post("/api/v1/requests", body, "end_user", **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]


def test_a_ci_of_another_account_is_refused_and_nothing_is_written(desk, app, client):
    from tests.integration.services.requests.conftest import build_desk

    other = build_desk(app, client)
    before = desk.get("/api/v1/requests", who="admin").get_json()["items"]
    response = desk.post(
        "/api/v1/requests",
        {"subject": "x", "offering_id": desk.offering, "ci_id": other.child_ci},
        "end_user",
    )
    assert response.status_code == 422
    assert "ci_id" in response.get_json()["errors"]
    assert desk.get("/api/v1/requests", who="admin").get_json()["items"] == before


def test_an_end_user_names_only_their_own_ci_and_anothers_is_as_unknown_as_a_made_up_one(desk):
    before = desk.get("/api/v1/requests").get_json()["items"]
    answers = [
        desk.post(
            "/api/v1/requests",
            {"subject": "x", "offering_id": desk.offering, "ci_id": ci_id},
            "end_user",
        )
        for ci_id in (desk.parent_ci, "no-such-ci")
    ]
    assert [a.status_code for a in answers] == [422, 422]
    assert [a.get_json()["errors"] for a in answers] == [
        {"ci_id": ["no such ci in this account"]}
    ] * 2
    assert desk.get("/api/v1/requests").get_json()["items"] == before


def test_an_end_users_own_ci_gives_its_sla_even_one_inherited_from_a_ci_they_do_not_see(desk):
    laptop = desk.created(
        "/api/v1/cis",
        {"type": "laptop", "name": "LT-1", "owner_id": desk.account.end_user.id,
         "parent_id": desk.parent_ci},
    )["id"]  # fmt: skip
    body = desk.raise_request(ci_id=laptop)
    assert (body["ci_id"], body["sla"]["source"], body["sla"]["id"]) == (laptop, "ci", desk.ci_sla)


def test_a_specialist_names_any_ci_of_the_account_for_a_requester(desk):
    body = desk.raise_request(
        "specialist", requester_id=desk.account.end_user.id, ci_id=desk.child_ci
    )
    assert (body["ci_id"], body["sla"]["source"]) == (desk.child_ci, "ci")


def test_a_service_of_another_account_is_refused(desk, app, client):
    from tests.integration.services.requests.conftest import build_desk

    other = build_desk(app, client)
    response = desk.post(
        "/api/v1/requests", {"subject": "x", "service_id": other.service}, "end_user"
    )
    assert response.status_code == 422
    assert "service_id" in response.get_json()["errors"]


def test_an_expired_offering_takes_no_new_requests_but_keeps_old_ones_readable(desk):
    old = desk.raise_request()
    expired = desk.post(f"/api/v1/offerings/{desk.offering}/expire", {})
    assert expired.status_code == 200, expired.get_data(as_text=True)
    response = desk.post(
        "/api/v1/requests", {"subject": "x", "offering_id": desk.offering}, "end_user"
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "offering_closed"
    assert desk.get(f"/api/v1/requests/{old['id']}", who="end_user").status_code == 200


def test_end_users_cannot_raise_requests_for_someone_else(desk):
    response = desk.post(
        "/api/v1/requests",
        {"subject": "x", "offering_id": desk.offering, "requester_id": desk.account.admin.id},
        "end_user",
    )
    assert response.status_code == 403


def test_a_specialist_raises_a_request_on_behalf_of_a_user(desk):
    body = desk.raise_request(who="specialist", requester_id=desk.account.end_user.id)
    assert body["requester_id"] == desk.account.end_user.id
    assert desk.get(f"/api/v1/requests/{body['id']}", who="end_user").status_code == 200


def test_auditors_read_but_do_not_raise(desk):
    response = desk.post(
        "/api/v1/requests", {"subject": "x", "offering_id": desk.offering}, "auditor"
    )
    assert response.status_code == 403


def test_invalid_fields_are_named(desk):
    response = desk.post(
        "/api/v1/requests", {"subject": "", "priority": "p9", "colour": "red"}, "end_user"
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"subject", "priority", "colour"}


def test_a_calendar_without_business_hours_is_refused(desk):
    response = desk.post("/api/v1/calendars", {"name": "Never", "definition": {"timezone": "UTC"}})
    assert response.status_code == 422
    assert "definition.weekly" in response.get_json()["errors"]


def test_absurd_numbers_are_refused_not_crashed_on(desk):
    huge = {p: {"response": 10**12, "resolution": 10**12} for p in ("p1", "p2", "p3", "p4")}
    response = desk.post(
        "/api/v1/slas", {"name": "Forever", "calendar_id": desk.calendar, "targets": huge}
    )
    assert response.status_code == 422
    assert desk.get("/api/v1/audit", who="auditor", before_seq=2**70).status_code == 422
    preview = desk.post(
        "/api/v1/calendars/preview",
        {"calendar": {"timezone": "UTC", "weekly": {"mon": [["09:00", "10:00"]]}},
         "start": "2026-01-05T09:00:00Z", "end": "9999-01-01T00:00:00Z"},
    )  # fmt: skip
    assert preview.status_code == 422
