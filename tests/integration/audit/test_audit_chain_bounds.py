"""An account's audit chain is its events numbered 1 to its head, nothing more or less.

Whatever is stored outside that range, or a head that moved without its event, is a
break that verification reports at its place, and the log does not list it; what the
node's own connection could do with INSERT alone (a forged number, SQLite's REPLACE, an
upsert) is refused by the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from account_node.audit.models import GENESIS
from account_node.audit.service import AuditLog
from account_node.clock import FakeClock
from account_node.db import db
from account_node.tenancy import AccountScope, bind_scope
from tests.factories.accounts import make_account
from tests.factories.intruder import intrude

# A copy of the account's first event under another number, as anyone who may append could.
FORGE = (
    "INSERT INTO audit_events (seq, at, actor_id, actor_account_id, actor_name, action,"
    " target_type, target_id, prev_hash, hash, account_id)"
    " SELECT :seq, at, actor_id, actor_account_id, 'Mallory', 'person.delete', target_type,"
    " target_id, prev_hash, hash, account_id FROM audit_events WHERE account_id = :a AND seq = 1"
)


def as_node(app, account_id: str, statement: str, **params: object) -> None:
    """Run ``statement`` on the node's own connection (the runtime role on PostgreSQL),
    in the account's scope, and commit it."""
    with app.app_context():
        bind_scope(db.session(), AccountScope(account_id))
        try:
            db.session.execute(text(statement), {"a": account_id, **params})
            db.session.commit()
        finally:
            db.session.rollback()


def verified(client, account) -> dict:
    return client.get("/api/v1/audit/verify", headers=account.auditor.headers).get_json()


def listed(client, account) -> list[int]:
    page = client.get("/api/v1/audit?limit=200", headers=account.auditor.headers).get_json()
    return [event["seq"] for event in page["items"]]


def test_the_database_refuses_an_event_numbered_below_1(app):
    """The runtime role appends, so it could write one: a forgery nobody would see."""
    account = make_account(app)
    with pytest.raises(IntegrityError, match="ck_audit_events_seq_from_one"):
        as_node(app, account.id, FORGE, seq=0)


@contextmanager
def forged_below_1(app, request, account_id: str) -> Iterator[Session]:
    """Events at 0 and -7, as only one who can lift the CHECK could store them (the owner
    on PostgreSQL, whoever holds the file on SQLite), in a transaction rolled back after."""
    postgres = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    if postgres:
        engine = create_engine(request.getfixturevalue("postgres_urls")[0])
    else:
        engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as connection:
        if not postgres:
            connection.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
            connection.commit()
        transaction = connection.begin()
        try:
            if postgres:
                connection.exec_driver_sql(
                    "ALTER TABLE audit_events DROP CONSTRAINT ck_audit_events_seq_from_one"
                )
            for seq in (0, -7):
                connection.execute(text(FORGE), {"a": account_id, "seq": seq})
            with Session(bind=connection) as session:
                yield session
        finally:
            transaction.rollback()
            if not postgres:
                connection.exec_driver_sql("PRAGMA ignore_check_constraints = OFF")
                connection.commit()
    engine.dispose()


def test_an_event_forged_below_1_is_a_break_at_its_number_and_is_not_listed(app, request):
    account = make_account(app)
    with forged_below_1(app, request, account.id) as session:
        log = AuditLog(session, AccountScope(account.id), FakeClock())
        report = log.verify()
        seqs = [event.seq for event in log.page(limit=200)]
    assert (report.ok, report.first_broken_seq, report.reason) == (
        False,
        -7,
        "event numbered below 1",
    )
    assert min(seqs) == 1


def test_an_event_stored_beyond_the_head_is_a_break_and_is_not_listed(app, client):
    """Written with INSERT alone, the head left where it was: no event of the chain."""
    account = make_account(app)
    head = verified(client, account)["head_seq"]
    as_node(app, account.id, FORGE, seq=head + 1)
    report = verified(client, account)
    assert (report["ok"], report["first_broken_seq"]) == (False, head + 1)
    assert report["reason"] == "events beyond the recorded head"
    assert max(listed(client, account)) == head


def test_a_head_moved_on_without_its_event_is_a_break_after_the_last_event(app, client):
    account = make_account(app)
    head = verified(client, account)["head_seq"]
    as_node(app, account.id, "UPDATE audit_heads SET seq = seq + 1 WHERE account_id = :a")
    report = verified(client, account)
    assert (report["ok"], report["first_broken_seq"]) == (False, head + 1)
    assert report["reason"] == "chain ends before its recorded head"


@pytest.mark.parametrize(
    "head",
    [
        "DELETE FROM audit_heads WHERE account_id = :a",
        "UPDATE audit_heads SET seq = 0, hash = :genesis WHERE account_id = :a",
    ],
    ids=["head deleted", "head reset"],
)
def test_a_wiped_chain_is_a_break_at_its_first_event(app, client, request, head):
    """Every account's chain begins with account.create, written with the account."""
    account = make_account(app)
    intrude(app, request, "DELETE FROM audit_events WHERE account_id = :a", a=account.id)
    intrude(app, request, head, a=account.id, genesis=GENESIS)
    report = verified(client, account)
    assert (report["ok"], report["first_broken_seq"], report["events"]) == (False, 1, 0)
    assert report["reason"] == "the chain is empty: account.create is missing"


REPLACEMENTS = [
    # the same number: REPLACE deletes the stored event, and no DELETE trigger runs
    (
        "INSERT OR REPLACE INTO audit_events (seq, at, actor_id, actor_account_id, actor_name,"
        " action, target_type, target_id, prev_hash, hash, account_id)"
        " SELECT seq, at, actor_id, actor_account_id, 'Mallory', action, target_type,"
        " target_id, prev_hash, hash, account_id FROM audit_events"
        " WHERE account_id = :a AND seq = 2",
        "append-only",
    ),
    # the same row id, another number: the stored event would vanish from its place
    (
        "INSERT OR REPLACE INTO audit_events (id, seq, at, actor_id, actor_account_id,"
        " actor_name, action, target_type, target_id, prev_hash, hash, account_id)"
        " SELECT id, 900, at, actor_id, actor_account_id, 'Mallory', action, target_type,"
        " target_id, prev_hash, hash, account_id FROM audit_events"
        " WHERE account_id = :a AND seq = 2",
        "append-only",
    ),
    (
        "INSERT OR REPLACE INTO audit_heads (account_id, seq, hash)"
        " SELECT account_id, seq, prev_hash FROM audit_events WHERE account_id = :a AND seq = 2",
        "never deleted",
    ),
    (
        "UPDATE audit_heads SET hash = (SELECT hash FROM audit_events"
        " WHERE account_id = :a AND seq = 2) WHERE account_id = :a",
        "its number with its hash",
    ),
]


@pytest.mark.parametrize(
    ("statement", "refusal"),
    REPLACEMENTS,
    ids=["event by its number", "event by its row id", "head replaced", "head rehashed"],
)
def test_sqlite_refuses_to_replace_an_event_or_a_head_or_to_rehash_a_head_in_place(
    sqlite_app, statement, refusal
):
    account = make_account(sqlite_app)
    with pytest.raises(IntegrityError, match=refusal):
        as_node(sqlite_app, account.id, statement)
    assert verified(sqlite_app.test_client(), account)["ok"] is True


UPSERT_EVENT = (
    "INSERT INTO audit_events (seq, at, actor_id, actor_account_id, actor_name, action,"
    " target_type, target_id, prev_hash, hash, account_id)"
    " SELECT seq, at, actor_id, actor_account_id, actor_name, action, target_type,"
    " target_id, prev_hash, hash, account_id"
    " FROM audit_events WHERE account_id = :a AND seq = 2"
    " ON CONFLICT (account_id, seq) DO UPDATE SET actor_name = 'Mallory'"
)
UPSERT_HEAD = (
    "INSERT INTO audit_heads (account_id, seq, hash) VALUES (:a, 0, :hash)"
    " ON CONFLICT (account_id) DO UPDATE SET hash = excluded.hash"
)


@pytest.mark.parametrize(
    ("role", "statement", "refusal"),
    [
        ("runtime", UPSERT_EVENT, "permission denied"),
        ("owner", UPSERT_EVENT, "append-only"),
        ("runtime", UPSERT_HEAD, "its number with its hash"),
        ("owner", UPSERT_HEAD, "its number with its hash"),
    ],
    ids=["event as runtime", "event as owner", "head as runtime", "head as owner"],
)
def test_postgres_refuses_an_upsert_that_would_rewrite_an_event_or_a_head(
    postgres_app, postgres_urls, role, statement, refusal
):
    """An upsert's conflict is an UPDATE: the grants and the triggers see it as one."""
    account = make_account(postgres_app)
    engine = create_engine(postgres_urls[1] if role == "runtime" else postgres_urls[0])
    with pytest.raises(Exception, match=refusal), engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.account_id', :a, true)"), {"a": account.id})
        connection.execute(text(statement), {"a": account.id, "hash": "f" * 64})
    engine.dispose()
    assert verified(postgres_app.test_client(), account)["ok"] is True
