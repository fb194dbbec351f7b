"""Finished federation traffic is deleted after the retention period, and nothing else.

The outbox keeps what is still to be delivered however old, each peer's latest delivered
message and every key notice (the keys page reads them); the ids of received notices go
once no sender would retry them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from account_node.db import db
from account_node.tenancy import AccountScope, bind_scope
from tests.factories.accounts import make_account
from tests.integration.trust.outbox_fakes import RecordedJobs, work_for
from trust.handshake import TrustStore
from trust.models import KEY_NOTICE, OutboxMessage, ReceivedNotice, Trust
from trust.retention import prune, prune_account

DAYS = 30


def _trust(account, peer: str, now: datetime) -> Trust:
    return Trust(
        id=f"trust-{peer}-{account.id}", role="trusting", peer_account=peer,
        peer_node=f"http://{peer}.example", status="active",
        agreement={"document": {}, "signatures": []}, created_at=now,
    )  # fmt: skip


@pytest.fixture
def account(app):
    account = make_account(app, kind="customer", prefix="retain")
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        for peer in ("msp", "other"):
            TrustStore(work.session, work.scope).add(_trust(account, peer, work.clock.now()))
        db.session.commit()
    return account


def _message(
    work, peer: str, name: str, *, delivered=None, abandoned=None, key=False, path="/events",
    age_days: float = 90,
) -> None:  # fmt: skip
    trust = TrustStore(work.session, work.scope).get(f"trust-{peer}-{work.scope.account_id}")
    now = work.clock.now()
    work.session.add(
        OutboxMessage(
            id=f"{name}-{work.scope.account_id}"[:32], account_id=work.scope.account_id,
            trust_id=trust.id, peer_account=peer, peer_node=trust.peer_node, path=path,
            body={"n": name}, created_at=now - timedelta(days=age_days), attempts=1,
            next_attempt_at=None if delivered or abandoned else now,
            delivered_at=delivered, abandoned_at=abandoned, last_error=None,
            precedence=KEY_NOTICE if key else 1, signing_key="k1" if key else None,
            key_refused=False,
        )
    )  # fmt: skip


def _left(app, account) -> list[str]:
    with app.app_context():
        bind_scope(db.session(), AccountScope(account.id))
        ids = db.session.scalars(select(OutboxMessage.id)).all()
        db.session.rollback()
        return sorted(i.split("-")[0] for i in ids)


def test_finished_messages_go_after_the_retention_period_but_not_what_is_read_back(
    app, account, clock
):
    now = clock.now()
    old, recent = now - timedelta(days=DAYS + 1), now - timedelta(days=DAYS - 1)
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        # To "msp", events: the newest event (created last) is kept for its kind, the
        # latest delivery is kept for the peer; the others go.
        _message(work, "msp", "olddelivered", delivered=old - timedelta(hours=2), age_days=95)
        _message(work, "msp", "oldabandoned", abandoned=old, age_days=94)
        _message(work, "msp", "latestmsp", delivered=old, age_days=93)
        _message(work, "msp", "newestevent", delivered=old - timedelta(hours=1), age_days=89)
        # Key notices stay; so does what is pending, however old.
        _message(work, "msp", "oldnotice", delivered=old - timedelta(days=9), key=True)
        _message(work, "msp", "pending", age_days=91)
        # Audit heads: the witness reads back the newest one it sent over the trust.
        heads = "/federation/v1/msp/trusts/t/audit-heads"
        _message(work, "msp", "oldhead", delivered=old - timedelta(days=3), path=heads, age_days=80)
        _message(
            work, "msp", "lasthead", delivered=old - timedelta(days=2), path=heads, age_days=70
        )
        # To "other": a recent delivery stays; an older one goes.
        _message(work, "other", "recent", delivered=recent, age_days=40)
        _message(work, "other", "olderother", delivered=old, age_days=50)
        db.session.commit()

        pruned = prune_account(work_for(app, account, RecordedJobs()), DAYS)
        db.session.commit()

    assert _left(app, account) == [
        "lasthead", "latestmsp", "newestevent", "oldnotice", "pending", "recent",
    ]  # fmt: skip
    assert pruned.messages == 4


def test_after_pruning_the_next_audit_head_still_names_the_last_one_sent(app, account, clock):
    """The witness's link from one head to the next survives the retention period."""
    from tests.integration.trust.outbox_fakes import RecordedJobs as Jobs
    from trust.witness import send_head

    node = app.extensions["trustdesk"]
    with app.app_context():
        work = work_for(app, account, Jobs())
        work.record("person.update", "person", account.admin.id, after={"n": 1})
        db.session.commit()
        send_head(work_for(app, account, Jobs()), app.config["SECRET_KEY"])
        db.session.commit()
        bind_scope(db.session(), AccountScope(account.id))
        for message in db.session.scalars(select(OutboxMessage)):
            message.delivered_at = clock.now()
        db.session.commit()
    clock.advance(timedelta(hours=1))
    with app.app_context():  # later traffic: the heads are no longer each peer's latest
        work = work_for(app, account, Jobs())
        for peer in ("msp", "other"):
            _message(work, peer, f"event{peer}", delivered=clock.now(), age_days=0)
        db.session.commit()
    clock.advance(timedelta(days=DAYS + 1))
    with app.app_context():
        prune_account(work_for(app, account, Jobs()), DAYS)
        work = work_for(app, account, Jobs())
        work.record("person.update", "person", account.admin.id, after={"n": 2})
        db.session.commit()
        assert send_head(work_for(app, account, Jobs()), node.settings.secret_key) == 2
        db.session.commit()
        bind_scope(db.session(), AccountScope(account.id))
        heads = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
        ).all()
        previous = [m.body["head"]["document"]["previous"] for m in heads]
        db.session.rollback()
    assert len(previous) == 2 and all(p is not None and p["hash"] for p in previous)


def test_received_notice_ids_go_once_no_sender_would_retry_them(app, account, clock):
    now = clock.now()
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        for name, days in (("old", DAYS + 1), ("young", 1)):
            work.session.add(
                ReceivedNotice(
                    account_id=account.id, peer_account="msp", notice_id=name,
                    received_at=now - timedelta(days=days),
                )
            )  # fmt: skip
        db.session.commit()
        assert prune_account(work_for(app, account, RecordedJobs()), DAYS).notices == 1
        db.session.commit()
        bind_scope(db.session(), AccountScope(account.id))
        left = db.session.scalars(select(ReceivedNotice.notice_id)).all()
        db.session.rollback()
    assert left == ["young"]


def test_the_job_prunes_every_account_and_only_its_own_rows(app, account, clock):
    neighbour = make_account(app, kind="customer", prefix="retain")
    with app.app_context():
        work = work_for(app, neighbour, RecordedJobs())
        TrustStore(work.session, work.scope).add(_trust(neighbour, "msp", clock.now()))
        db.session.commit()
    for owner in (account, neighbour):
        with app.app_context():
            work = work_for(app, owner, RecordedJobs())
            _message(work, "msp", "stale", delivered=clock.now() - timedelta(days=DAYS + 5))
            _message(
                work, "msp", "last", delivered=clock.now() - timedelta(days=DAYS + 2), age_days=80
            )
            db.session.commit()

    node = app.extensions["trustdesk"]
    with app.app_context():
        pruned = prune(node, reschedule=False)
        db.session.commit()

    assert pruned.messages >= 2  # other tests' accounts may have had some too
    assert _left(app, account) == _left(app, neighbour) == ["last"]
