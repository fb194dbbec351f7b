"""The short cuts the create and list paths take keep their guarantees.

Creating takes the request number and the audit head last, on PostgreSQL in the one
statement that writes the request, its first timeline entry and its audit event, and
commits before rendering; listing skips the pause query for requests whose
clocks never moved. These tests pin what must still hold: consecutive numbers and an
intact chain under concurrent creates, and pauses shown wherever a request has them.
"""

from __future__ import annotations

import threading

from sqlalchemy import create_engine, text

from account_node.db import db
from services.requests.service import Requests
from tests.integration.services.requests.conftest import admin_work, build_desk
from tests.statements import statements

CREATES_PER_THREAD = 12


def _columns(row) -> dict:
    return {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs}


def test_concurrent_creates_get_consecutive_numbers_and_keep_the_chain_intact(
    postgres_app,
):
    """Each create takes the account's request number and audit head in one statement;
    the database may run a statement's parts in any order, and two creates that took
    the two locks in opposite orders would deadlock. Enough creates per connection that
    prepared statements (and their generic plans) take over, too."""
    desk = build_desk(postgres_app, postgres_app.test_client())
    start = desk.raise_request()["number"]
    numbers: list[int] = []
    failures: list[str] = []

    def raise_some() -> None:
        client = postgres_app.test_client()
        for _ in range(CREATES_PER_THREAD):
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
    assert sorted(numbers) == list(range(start + 1, start + 1 + 4 * CREATES_PER_THREAD))
    report = desk.get("/api/v1/audit/verify", who="auditor").get_json()
    assert report["ok"] is True, report
    creates = desk.get("/api/v1/audit", who="auditor", action="request.create", limit=100)
    assert len(creates.get_json()["items"]) == 1 + 4 * CREATES_PER_THREAD


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


def test_a_create_on_postgresql_sends_three_statements(postgres_app):
    """The token, the offering with its service, trust and the SLA that wins (a requester
    override's or the default) with its calendar, and the numbered request with its first
    timeline entry and audit event: the account's two locks are taken by the last
    statement, so held for one round trip and the commit. (The RLS setting travels with
    BEGIN, straight to the driver: see tenancy._begin_with_rls.) A new query on this path
    is a deliberate choice."""
    desk = build_desk(postgres_app, postgres_app.test_client())
    desk.raise_request()  # the account's first: creates the counter and audit head rows
    with statements(postgres_app) as sent:
        body = desk.raise_request()
    assert len(sent) == 3, "\n\n".join(sent)
    [created] = desk.get(f"/api/v1/requests/{body['id']}/timeline").get_json()
    assert created["kind"] == "created" and created["data"]["team_id"] == desk.team


def test_a_request_raised_in_a_unit_of_work_can_change_in_the_same_one(app, desk):
    """The create writes the request with Core on PostgreSQL: the object must still be
    the session's, so a change before commit is written too."""
    node, account = app.extensions["trustdesk"], desk.account
    with app.app_context():
        work = admin_work(node, account)
        requests = Requests(work)
        created, is_new = requests.create(subject="Raise then assign", offering_id=desk.offering)
        assert is_new and created in db.session and created not in db.session.new
        requests.assign(created.id, assignee_id=account.specialist.id)
        db.session.commit()
        request_id, number = created.id, created.number
    stored = desk.get(f"/api/v1/requests/{request_id}").get_json()
    assert (stored["assignee_id"], stored["status"], stored["number"]) == (
        account.specialist.id,
        "assigned",
        number,
    )
    timeline = desk.get(f"/api/v1/requests/{request_id}/timeline").get_json()
    assert [e["kind"] for e in timeline] == ["created", "assignment", "status"]
    report = desk.get("/api/v1/audit/verify", who="auditor").get_json()
    assert report["ok"] is True, report


def test_a_create_waiting_for_the_request_number_holds_no_lock_on_the_audit_head(
    postgres_app, postgres_urls
):
    """Every writer takes the account's request number before its audit head, or only
    the head: so no two writers ever wait for each other in a circle (a deadlock)."""
    desk = build_desk(postgres_app, postgres_app.test_client())
    desk.raise_request()  # the counter row exists from here on
    engine = create_engine(postgres_urls[1], pool_size=2, max_overflow=0)
    account = {"a": desk.account.id}
    holder = engine.connect()
    holder.begin()
    holder.execute(text("SELECT set_config('app.account_id', :a, true)"), account)
    holder.execute(text("UPDATE request_counters SET last = last WHERE account_id = :a"), account)
    result: list[int] = []
    raising = threading.Thread(target=lambda: result.append(desk.raise_request()["number"]))
    raising.start()
    try:
        raising.join(timeout=1)
        assert raising.is_alive(), "the create did not wait for the request number"
        with engine.begin() as probe:
            probe.execute(text("SELECT set_config('app.account_id', :a, true)"), account)
            probe.execute(text("SET LOCAL lock_timeout = '2s'"))
            locked = probe.execute(
                text("SELECT seq FROM audit_heads WHERE account_id = :a FOR UPDATE NOWAIT"),
                account,
            )
            assert locked.scalar() is not None
    finally:
        holder.rollback()
        holder.close()
        raising.join(timeout=30)
        engine.dispose()
    assert len(result) == 1


def test_the_request_written_in_one_statement_reads_back_as_the_session_holds_it(
    postgres_app,
):
    """The create sends each row as one JSON parameter and the database converts its
    fields: every column must read back exactly as the object the session kept."""
    desk = build_desk(postgres_app, postgres_app.test_client())
    node, account = postgres_app.extensions["trustdesk"], desk.account
    with postgres_app.app_context():
        work = admin_work(node, account)
        created, _ = Requests(work).create(
            subject="Ünïcode, \"quotes\" and a\nnewline", description="x" * 5000,
            offering_id=desk.offering, idempotency_key="k-1",
        )  # fmt: skip
        kept = _columns(created)
        [entry] = Requests(work).store.timeline(created.id, include_internal=True)
        kept_entry = _columns(entry)
        db.session.commit()
        db.session.expunge_all()
        stored = Requests(work).store.get(created.id)
        assert _columns(stored) == kept
        [entry] = Requests(work).store.timeline(created.id, include_internal=True)
        assert _columns(entry) == kept_entry
        db.session.commit()
