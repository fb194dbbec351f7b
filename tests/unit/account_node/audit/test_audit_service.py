"""``AuditLog.record`` appends to the account's chain in the caller's transaction:
consecutive sequence numbers, each event linked to the one before, the head moved along;
``verify`` checks the stored chain against that head."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from account_node.audit.chain import HASHED_FIELDS, event_hash
from account_node.audit.models import GENESIS, AuditEvent
from account_node.audit.service import Actor, AuditLog
from account_node.clock import FakeClock
from account_node.db import db
from account_node.tenancy import AccountScope
from tests.factories.accounts import make_account


def actor_of(account, role: str = "admin") -> Actor:
    member = account.members[role]
    return Actor(member.id, account.id, f"{role} <{member.email}>")


def test_record_assigns_consecutive_seqs_and_links_each_event_to_the_last(app):
    account = make_account(app)
    clock = FakeClock(app.extensions["trustdesk"].clock.now() + timedelta(minutes=1))
    with app.app_context():
        log = AuditLog(db.session, AccountScope(account.id), clock)
        head = log.store.head()
        start_seq, previous = head.seq, head.hash
        recorded = [
            log.record(actor_of(account), "team.create", "team", "t1", after={"name": "NOC"}),
            log.record(actor_of(account), "team.update", "team", "t1", {"name": "NOC"}, {}),
            log.record(actor_of(account, "specialist"), "team.delete", "team", "t1"),
        ]
        assert [e.seq for e in recorded] == [start_seq + 1, start_seq + 2, start_seq + 3]
        for event in recorded:
            assert event.prev_hash == previous
            fields = {name: getattr(event, name) for name in HASHED_FIELDS}
            assert event.hash == event_hash(fields)
            previous = event.hash
        assert (log.store.head().seq, log.store.head().hash) == (start_seq + 3, previous)
        db.session.commit()

        report = log.verify()
        assert report.ok and report.events == report.head_seq == start_seq + 3


def test_an_event_records_who_what_and_when(app):
    account = make_account(app)
    clock = FakeClock(app.extensions["trustdesk"].clock.now() + timedelta(hours=2))
    with app.app_context():
        log = AuditLog(db.session, AccountScope(account.id), clock)
        actor = Actor("p-foreign", "msp-1", "Sam <sam@msp.test>", vouched_by="msp-1@node-a")
        event = log.record(actor, "request.note", "request", 17, before=None, after={"n": 1})
        assert (event.account_id, event.at, event.target_id) == (account.id, clock.now(), "17")
        assert (event.actor_id, event.actor_account_id, event.actor_name, event.vouched_by) == (
            "p-foreign",
            "msp-1",
            "Sam <sam@msp.test>",
            "msp-1@node-a",
        )
        db.session.rollback()


def test_each_account_has_its_own_chain_starting_at_genesis(app):
    first, second = make_account(app), make_account(app)
    with app.app_context():
        for account in (first, second):
            log = AuditLog(db.session, AccountScope(account.id), FakeClock())
            oldest = next(log.store.in_order())
            assert (oldest.seq, oldest.prev_hash, oldest.action) == (1, GENESIS, "account.create")
            assert all(e.account_id == account.id for e in log.store.in_order())
            db.session.rollback()


def test_a_rolled_back_event_leaves_neither_event_nor_head_behind(app):
    account = make_account(app)
    with app.app_context():
        log = AuditLog(db.session, AccountScope(account.id), FakeClock())
        before = (log.store.head().seq, log.store.head().hash)
        log.record(actor_of(account), "team.create", "team", "t1")
        db.session.rollback()
        assert (log.store.head().seq, log.store.head().hash) == before
        assert log.verify().ok


def test_the_log_pages_newest_first_and_filters_by_action(app):
    account = make_account(app)
    with app.app_context():
        log = AuditLog(db.session, AccountScope(account.id), FakeClock())
        newest = log.page(limit=3)
        assert [e.seq for e in newest] == sorted((e.seq for e in newest), reverse=True)
        older = log.page(after_seq=newest[-1].seq, limit=100)
        assert older and max(e.seq for e in older) == newest[-1].seq - 1
        issued = log.page(limit=100, action="token.issue")
        assert len(issued) == 4 and {e.action for e in issued} == {"token.issue"}


def test_verify_is_not_fooled_by_an_event_committed_while_it_reads(app):
    """A busy account keeps writing while an auditor verifies: no false alarm."""
    account = make_account(app)
    scope = AccountScope(account.id)
    with app.app_context():
        log = AuditLog(db.session, scope, FakeClock())
        read_events = log.store.in_order

        def in_order_after_a_concurrent_write(*args, **kwargs):
            with Session(db.engine) as other:
                AuditLog(other, scope, FakeClock()).record(
                    actor_of(account), "team.create", "team", "concurrent"
                )
                other.commit()
            return read_events(*args, **kwargs)

        log.store.in_order = in_order_after_a_concurrent_write  # type: ignore[method-assign]
        report = log.verify()
        assert report.ok, report
        db.session.rollback()
        stored = db.session.scalars(select(AuditEvent).where(AuditEvent.target_id == "concurrent"))
        assert len(stored.all()) == 1


def test_two_writers_of_one_account_queue_up_instead_of_failing(app):
    """The head is locked while appending: the second writer waits, then appends after."""
    account = make_account(app)
    scope = AccountScope(account.id)
    with app.app_context():
        engine = db.engine
        first = Session(engine)
        mine = AuditLog(first, scope, FakeClock()).record(actor_of(account), "a.first", "t", "1")
        first_seq = mine.seq
        outcome: dict[str, object] = {}

        def second_writer() -> None:
            with Session(engine) as second:
                try:
                    log = AuditLog(second, scope, FakeClock())
                    event = log.record(actor_of(account), "a.second", "t", "2")
                    second.commit()
                    outcome["seq"] = event.seq
                except Exception as exc:  # reported through the assertion below
                    outcome["error"] = repr(exc)

        thread = threading.Thread(target=second_writer)
        thread.start()
        time.sleep(0.3)  # let the second writer reach the lock
        first.commit()
        first.close()
        thread.join(timeout=30)

        assert outcome == {"seq": first_seq + 1}
        assert AuditLog(db.session, scope, FakeClock()).verify().ok


def test_names_and_values_beyond_ascii_hash_the_same_in_the_database_as_in_python(app):
    """On PostgreSQL the database finishes each event's hash: it must agree byte for byte
    with Python's for any text, or ``verify`` would report a broken chain."""
    account = make_account(app)
    with app.app_context():
        log = AuditLog(db.session, AccountScope(account.id), app.extensions["trustdesk"].clock)
        someone = Actor(account.admin.id, account.id, 'Zoë Ångström 東京 \u2028 "quoted"')
        event = log.record(
            someone, "team.update", "team", "t-ü", {"name": "Café"}, {"name": "Café ☕", "n": 1.5}
        )
        fields = {name: getattr(event, name) for name in HASHED_FIELDS}
        assert event.hash == event_hash(fields)
        db.session.commit()
        assert log.verify().ok
