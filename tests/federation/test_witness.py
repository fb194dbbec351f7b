"""Audit chain heads witnessed across a trust: a rewritten history shows on the other node."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text

from account_node.audit.chain import event_hash
from account_node.audit.models import AuditEvent, AuditHead
from account_node.db import db
from account_node.migrations.sqlite_guards import create_guards, drop_guards
from tests.federation.flows import ok
from trust.witness import send_heads


def _send(node) -> int:
    """Run the periodic job once on ``node`` and let its outbox deliver."""
    with node.app.app_context():
        queued = send_heads(node.app.extensions["trustdesk"], reschedule=False)
        db.session.commit()
    node.app.extensions["trustdesk"].jobs.drain()
    return queued


def _witnessed(served) -> list[dict]:
    with served.msp.client(served.msp_account.auditor) as msp:
        return ok(msp.get(f"/api/v1/trusts/{served.trust}/audit-heads"))


def _customer_head(served) -> tuple[int, str]:
    engine = create_engine(served.customer.app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":  # the runtime role sees its account only
            connection.execute(
                text("SELECT set_config('app.account_id', :a, false)"),
                {"a": served.customer_account.id},
            )
        row = connection.execute(
            select(AuditHead.seq, AuditHead.hash).where(
                AuditHead.account_id == served.customer_account.id
            )
        ).one()
    engine.dispose()
    return int(row.seq), str(row.hash)


def test_each_side_keeps_the_head_its_peer_signed_and_a_resend_changes_nothing(served):
    assert _send(served.customer) == 1
    seq, hash_ = _customer_head(served)
    [head] = _witnessed(served)
    assert (head["peer_account"], head["seq"], head["hash"]) == (
        served.customer_account.id,
        seq,
        hash_,
    )
    assert head["conflict"] is None
    assert head["document"]["signatures"]  # as the customer signed it
    assert _send(served.customer) == 0  # nothing new to witness

    # The MSP's head goes the other way over the same trust.
    assert _send(served.msp) == 1
    with served.customer.client(served.customer_account.admin) as customer:
        [theirs] = ok(customer.get(f"/api/v1/trusts/{served.trust}/audit-heads"))
    assert theirs["peer_account"] == served.msp_account.id and theirs["conflict"] is None


def test_only_admins_and_auditors_read_witnessed_heads(served):
    with served.msp.client(served.msp_account.specialist) as msp:
        response = msp.get(f"/api/v1/trusts/{served.trust}/audit-heads")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("federation", ["sqlite"], indirect=True)
def test_a_history_rewritten_on_the_customer_node_shows_on_the_msp_node(served):
    """SQLite only: on PostgreSQL only a superuser could switch the triggers off."""
    _send(served.customer)
    witnessed_seq, _ = _customer_head(served)

    # Someone with the database file drops the guard triggers, edits an early event and
    # recomputes every hash after it, so the customer's own `audit verify` finds nothing
    # wrong...
    engine = create_engine(served.customer.app.config["SQLALCHEMY_DATABASE_URI"])
    account = served.customer_account.id
    with engine.begin() as connection:
        drop_guards(connection.exec_driver_sql)
        events = connection.execute(
            select(AuditEvent.__table__).where(AuditEvent.account_id == account).order_by("seq")
        ).mappings()
        previous = None
        for event in [dict(e) for e in events]:
            if event["seq"] == 1:
                event["actor_name"] = "Someone Else"
            if previous is not None:
                event["prev_hash"] = previous
            event["hash"] = previous = event_hash(event)
            connection.execute(
                AuditEvent.__table__.update()
                .where(AuditEvent.account_id == account, AuditEvent.seq == event["seq"])
                .values(actor_name=event["actor_name"], prev_hash=event["prev_hash"],
                        hash=event["hash"])
            )  # fmt: skip
        connection.execute(
            AuditHead.__table__.update()
            .where(AuditHead.account_id == account)
            .values(hash=previous)
        )
        create_guards(connection.exec_driver_sql)
    engine.dispose()
    with served.customer.client(served.customer_account.auditor) as customer:
        assert ok(customer.get("/api/v1/audit/verify"))["ok"] is True

    # ...and life goes on: the next head carries what the chain now says of the last one.
    with served.customer.client(served.customer_account.end_user) as customer:
        [held] = ok(customer.get("/api/v1/offerings"))["items"]
        ok(customer.post("/api/v1/requests", json={"subject": "More", "offering_id": held["id"]}),
           201)  # fmt: skip
    assert _send(served.customer) == 1

    newest, first = _witnessed(served)
    assert first["seq"] == witnessed_seq and first["conflict"] is None
    assert newest["seq"] > witnessed_seq
    assert f"event {witnessed_seq} now hashes to" in newest["conflict"]
    with served.msp.client(served.msp_account.auditor) as msp:
        audit = ok(msp.get("/api/v1/audit", params={"action": "audit.witness_conflict"}))
    [flagged] = audit["items"]
    assert flagged["target_id"] == served.customer_account.id
