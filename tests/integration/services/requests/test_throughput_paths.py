"""The short cuts the create and list paths take keep their guarantees.

Creating takes the request number and the audit head with one UPDATE each, late, and
writes the request with its audit event; listing skips the pause query for requests whose
clocks never moved. These tests pin what must still hold: consecutive numbers and an
intact chain under concurrent creates, and pauses shown wherever a request has them.
"""

from __future__ import annotations

import threading

from tests.integration.services.requests.conftest import build_desk


def test_concurrent_creates_get_consecutive_numbers_and_keep_the_chain_intact(
    postgres_app,
):
    desk = build_desk(postgres_app, postgres_app.test_client())
    start = desk.raise_request()["number"]
    numbers: list[int] = []
    failures: list[str] = []

    def raise_some() -> None:
        client = postgres_app.test_client()
        for _ in range(5):
            response = client.post(
                "/api/v1/requests",
                json={"subject": "Concurrent", "offering_id": desk.offering},
                headers=desk.account.end_user.headers,
            )
            if response.status_code != 201:
                failures.append(response.get_data(as_text=True))
            else:
                numbers.append(response.get_json()["number"])

    threads = [threading.Thread(target=raise_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert sorted(numbers) == list(range(start + 1, start + 21))
    report = desk.get("/api/v1/audit/verify", who="auditor").get_json()
    assert report["ok"] is True, report
    creates = desk.get("/api/v1/audit", who="auditor", action="request.create", limit=50)
    assert len(creates.get_json()["items"]) == 21


def test_the_list_shows_pauses_of_requests_that_paused_and_none_for_new_ones(desk, clock):
    from datetime import timedelta

    paused = desk.raise_request(subject="Waiting on the customer")
    fresh = desk.raise_request(subject="Brand new")
    desk.patch(f"/api/v1/requests/{paused['id']}", {"status": "waiting_for_customer"})
    clock.advance(timedelta(minutes=5))
    listed = {r["id"]: r for r in desk.get("/api/v1/requests", limit=50).get_json()["items"]}
    [pause] = listed[paused["id"]]["sla"]["pauses"]
    assert pause["status"] == "waiting_for_customer" and pause["ended_at"] is None
    assert listed[paused["id"]]["sla"]["resolution"]["paused"] is True
    assert listed[fresh["id"]]["sla"]["pauses"] == []
    shown = desk.get(f"/api/v1/requests/{paused['id']}").get_json()
    assert shown["sla"]["pauses"] == listed[paused["id"]]["sla"]["pauses"]


def test_a_request_is_created_with_its_timeline_entry_and_audit_event_together(desk):
    body = desk.raise_request()
    [created] = desk.get(f"/api/v1/requests/{body['id']}/timeline").get_json()
    assert created["kind"] == "created"
    events = desk.get("/api/v1/audit", who="auditor", action="request.create", limit=1)
    [event] = events.get_json()["items"]
    assert event["target_id"] == body["id"]
    assert event["after"]["number"] == body["number"]
