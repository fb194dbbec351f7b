"""Every change leaves a hash-chained audit event naming an authenticated person."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from account_node.cli import main as cli
from tests.factories.accounts import make_account
from tests.factories.intruder import intrude


def _events(client, account, **params):
    response = client.get("/api/v1/audit", headers=account.auditor.headers, query_string=params)
    assert response.status_code == 200
    return response.get_json()


def test_a_change_is_audited_with_the_person_who_made_it(app, client):
    account = make_account(app)
    team = client.post("/api/v1/teams", headers=account.admin.headers, json={"name": "NOC"})
    assert team.status_code == 201
    latest = _events(client, account, limit=1)["items"][0]
    assert latest["action"] == "team.create"
    assert latest["target_id"] == team.get_json()["id"]
    assert latest["after"] == {"name": "NOC", "description": "", "shares_requests": False}
    assert latest["actor"]["id"] == account.admin.id
    assert latest["actor"]["account"] == account.id


def test_a_refused_change_leaves_no_audit_event(app, client):
    account = make_account(app)
    before = _events(client, account, limit=1)["items"][0]["seq"]
    response = client.post("/api/v1/teams", headers=account.admin.headers, json={"name": ""})
    assert response.status_code == 422
    assert _events(client, account, limit=1)["items"][0]["seq"] == before


def test_the_log_pages_backwards_by_sequence(app, client):
    account = make_account(app)
    first = _events(client, account, limit=3)
    second = _events(client, account, limit=3, before_seq=first["next_before_seq"])
    seqs = [e["seq"] for e in first["items"] + second["items"]]
    assert seqs == sorted(seqs, reverse=True)
    assert len(set(seqs)) == len(seqs) == 6


def test_an_intact_chain_verifies(app, client):
    account = make_account(app)
    report = client.get("/api/v1/audit/verify", headers=account.auditor.headers).get_json()
    assert report["ok"] is True
    assert report["first_broken_seq"] is None
    assert report["events"] == report["head_seq"] > 5


TAMPER = "UPDATE audit_events SET actor_name = 'Mallory' WHERE account_id = :a AND seq = :s"


def test_a_tampered_event_is_found_by_the_api_and_the_cli(app, client, request):
    account = make_account(app)
    intrude(app, request, TAMPER, a=account.id, s=3)
    report = client.get("/api/v1/audit/verify", headers=account.admin.headers).get_json()
    assert report["ok"] is False
    assert report["first_broken_seq"] == 3
    assert "hash" in report["reason"]

    settings = app.extensions["trustdesk"].settings
    env = {
        "TRUSTDESK_DATABASE_URL": settings.database_url,
        "TRUSTDESK_DATA_DIR": settings.data_dir,
        "TRUSTDESK_SECRET_KEY": "x",
    }
    result = CliRunner().invoke(cli, ["audit", "verify", "--account", account.id], env=env)
    assert result.exit_code == 1, result.output
    assert f"{account.id}: BROKEN at event 3" in result.output


REFUSED = r"never deleted|only moves forward"
HEAD_TAMPERING = [
    "DELETE FROM audit_heads WHERE account_id = :a",  # hid every event: 0, ok
    # moved back to the second event, whole: hid every event after it
    "UPDATE audit_heads SET seq = 2, hash = (SELECT hash FROM audit_events"
    " WHERE account_id = :a AND seq = 2) WHERE account_id = :a",
]


@pytest.mark.parametrize("statement", HEAD_TAMPERING)
def test_events_beyond_a_head_that_was_deleted_or_moved_back_are_a_break(
    app, client, request, statement
):
    """Verification read events only up to the head: without the head, it answered ok
    with 0 events; moved back, it hid every later event, and any edit among them."""
    account = make_account(app)
    intrude(app, request, statement, a=account.id)
    report = client.get("/api/v1/audit/verify", headers=account.auditor.headers).get_json()
    assert report["ok"] is False
    assert report["reason"] == "events beyond the recorded head"


@pytest.mark.parametrize("statement", HEAD_TAMPERING)
def test_postgres_refuses_to_delete_or_move_back_a_chain_head(
    postgres_app, postgres_urls, statement
):
    """The node's own role writes the head on every append, forward only; neither it
    nor the owner may delete it or move it back (the trigger of 0014)."""
    from account_node.db import db
    from account_node.tenancy import AccountScope, bind_scope

    account = make_account(postgres_app)
    with postgres_app.app_context():
        bind_scope(db.session(), AccountScope(account.id))
        with pytest.raises(Exception, match=REFUSED):
            db.session.execute(text(statement), {"a": account.id})
        db.session.rollback()
    engine = create_engine(postgres_urls[0])
    with pytest.raises(Exception, match=REFUSED), engine.begin() as connection:
        connection.execute(text(statement), {"a": account.id})
    engine.dispose()


def test_postgres_refuses_to_update_or_delete_audit_events(postgres_app, postgres_urls):
    account = make_account(postgres_app)
    engine = create_engine(postgres_urls[0])  # even the owner is stopped by the trigger
    for statement in (
        "UPDATE audit_events SET action = 'x' WHERE account_id = :a",
        "DELETE FROM audit_events WHERE account_id = :a",
    ):
        with pytest.raises(Exception, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement), {"a": account.id})
    engine.dispose()


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        *[(statement, REFUSED) for statement in HEAD_TAMPERING],
        ("UPDATE audit_events SET action = 'x' WHERE account_id = :a", "append-only"),
        ("DELETE FROM audit_events WHERE account_id = :a", "append-only"),
    ],
)
def test_sqlite_refuses_what_postgres_refuses_of_the_audit_log(sqlite_app, statement, refusal):
    """The embedded default's triggers (0015): the node's own connection cannot rewrite
    an event, nor delete or move back a chain head; the chain then still verifies."""
    from account_node.db import db

    account = make_account(sqlite_app)
    with sqlite_app.app_context():
        with pytest.raises(Exception, match=refusal):
            db.session.execute(text(statement), {"a": account.id})
        db.session.rollback()
        client = sqlite_app.test_client()
        report = client.get("/api/v1/audit/verify", headers=account.auditor.headers).get_json()
    assert report["ok"] is True
