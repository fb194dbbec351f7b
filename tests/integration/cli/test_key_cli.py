"""The account's keys from the command line: ``key show``, ``key rotate`` (routine and
after a suspected compromise) and ``trust confirm-key``, against the node's own database
(SQLite and PostgreSQL). The peer here is down; tests/federation/test_key_cli.py has one
that answers."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from account_node.audit.models import AuditEvent
from account_node.audit.service import Actor
from account_node.cli import main as cli
from account_node.context import Work
from account_node.db import db
from account_node.tenancy import AccountScope, bind_scope
from tests.factories.accounts import make_account
from tests.factories.keys import account_keys, keyring
from trust.handshake import TrustStore
from trust.models import Trust
from trust.outbox import OutboxStore


@pytest.fixture
def account(app):
    return make_account(app)


@pytest.fixture
def env(app):
    settings = app.extensions["trustdesk"].settings
    return {
        "TRUSTDESK_DATABASE_URL": settings.database_url,
        "TRUSTDESK_DATA_DIR": settings.data_dir,
        "TRUSTDESK_SECRET_KEY": settings.secret_key,
        "TRUSTDESK_FEDERATION_ALLOW_HTTP": "true",
        "TRUSTDESK_FEDERATION_ALLOW_PRIVATE": "true",
        "TRUSTDESK_FEDERATION_TIMEOUT_SECONDS": "2",
    }


def run(env, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def admin(account) -> list[str]:
    return ["--account", account.id, "--as", account.admin.email]


def down_peer_url() -> str:
    """A loopback port nothing listens on: the peer is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def trust_with_down_peer(app, account, peer_account: str = "msp") -> Trust:
    """An active trust (this account trusting ``peer_account``) whose node is down."""
    node = app.extensions["trustdesk"]
    with app.app_context():
        actor = Actor(account.admin.id, account.id, "Ada Admin")
        work = Work(
            db.session(), AccountScope(account.id), actor, node.clock, node.jobs, node.settings
        )
        trust = TrustStore(work.session, work.scope).add(
            Trust(
                id=f"trust-{account.id}",
                role="trusting",
                peer_account=peer_account,
                peer_node=down_peer_url(),
                status="active",
                agreement={"document": {}, "signatures": []},
                created_at=node.clock.now(),
            )
        )
        db.session.commit()
        db.session.expunge(trust)
        db.session.remove()
    return trust


def keys_by_status(app, account_id: str) -> dict[str, list[str]]:
    with app.app_context():
        rows = account_keys(app, account_id).store.with_status("current", "previous", "revoked")
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row.status, []).append(row.key_id)
        db.session.remove()
    return found


def audited(app, account_id: str, action: str) -> list[AuditEvent]:
    with app.app_context():
        bind_scope(db.session(), AccountScope(account_id))
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        db.session.expunge_all()
        db.session.remove()
    return events


def fingerprint_of(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith("fingerprint ")]
    return line.split()[1]


def test_key_show_prints_the_current_key_and_its_fingerprint(app, account, env):
    output = run(env, "key", "show", "--account", account.id)

    with app.app_context():
        current = account_keys(app, account.id).current()
        db.session.remove()
    [line] = output.splitlines()
    status, key_id, fingerprint, validity = line.split("\t")
    assert (status, key_id) == ("current", current.ref.key_id)
    assert fingerprint == current.signing.verify_key.fingerprint
    assert validity.startswith("valid from ") and "until" not in validity


def test_a_routine_rotation_prints_the_new_fingerprint_and_the_admin_is_audited(app, account, env):
    before = run(env, "key", "show", "--account", account.id)

    output = run(env, "key", "rotate", *admin(account))

    keys = keys_by_status(app, account.id)
    with app.app_context():
        current = account_keys(app, account.id).current()
        db.session.remove()
    assert fingerprint_of(output) == current.signing.verify_key.fingerprint
    assert fingerprint_of(output) not in before
    assert keys["current"] == [current.ref.key_id] and len(keys["previous"]) == 1
    [event] = audited(app, account.id, "key.rotate")
    assert event.actor_id == account.admin.id
    assert event.actor_name == f"Ada Admin <{account.admin.email}>"
    assert event.after == {"key": f"{account.id}#{current.ref.key_id}"}


def test_key_show_lists_the_previous_key_with_the_time_it_stopped_being_valid(app, account, env):
    [first] = run(env, "key", "show", "--account", account.id).splitlines()
    run(env, "key", "rotate", *admin(account))

    current, previous = run(env, "key", "show", "--account", account.id).splitlines()

    assert current.startswith("current\t") and "until" not in current
    assert previous.startswith("previous\t")
    assert previous.split("\t")[1:3] == first.split("\t")[1:3]  # same key id, fingerprint
    assert " until " in previous.split("\t")[3]


def test_a_rotation_reports_a_peer_that_is_down_as_pending_and_keeps_the_notice(app, account, env):
    trust = trust_with_down_peer(app, account)

    output = run(env, "key", "rotate", *admin(account))

    assert "msp: notice pending (the outbox retries)" in output
    assert "delivered" not in output
    with app.app_context():
        store = OutboxStore(db.session(), AccountScope(account.id))
        [notice] = store.pending_key_notices(trust.peer_node, "msp")
        assert notice.attempts == 1 and notice.next_attempt_at is not None
        db.session.remove()
    [announced] = audited(app, account.id, "key.announce")
    assert announced.after["pending"] == ["msp"] and announced.actor_id == account.admin.id


def test_a_compromise_rotation_revokes_the_old_key_and_names_who_must_confirm(app, account, env):
    trust = trust_with_down_peer(app, account)
    old = run(env, "key", "show", "--account", account.id).split("\t")[1]

    output = run(env, "key", "rotate", *admin(account), "--compromised")

    fingerprint = fingerprint_of(output)
    assert f"{account.id}#{old} (revoked)" in output
    assert f"msp: its admin must confirm {fingerprint}" in output
    assert "pending" not in output  # nothing is announced
    keys = keys_by_status(app, account.id)
    assert keys["revoked"] == [old] and "previous" not in keys
    [shown] = run(env, "key", "show", "--account", account.id).splitlines()
    assert shown.split("\t")[2] == fingerprint  # the revoked key is not offered
    with app.app_context():
        store = OutboxStore(db.session(), AccountScope(account.id))
        assert store.pending_key_notices(trust.peer_node, "msp") == []
        db.session.remove()
    [event] = audited(app, account.id, "key.rotate")
    assert event.after["compromised"] is True and event.actor_id == account.admin.id


def test_rotating_needs_an_admin(app, account, env):
    acting = ["--account", account.id, "--as", account.auditor.email]

    output = run(env, "key", "rotate", *acting, code=1)

    assert "needs one of the roles admin" in output
    assert audited(app, account.id, "key.rotate") == []


def test_confirming_a_malformed_fingerprint_fails_and_writes_nothing(app, account, env):
    trust = trust_with_down_peer(app, account)

    output = run(env, "trust", "confirm-key", *admin(account), trust.id, "abc", code=1)

    assert "the fingerprint is not one" in output
    assert audited(app, account.id, "key.peer_confirmed") == []


def test_confirming_a_key_of_a_peer_that_is_down_fails_and_pins_nothing(app, account, env):
    trust = trust_with_down_peer(app, account)
    fingerprint = "SHA256:" + "A" * 43

    output = run(env, "trust", "confirm-key", *admin(account), trust.id, fingerprint, code=1)

    assert "Error:" in output and "Traceback" not in output
    with app.app_context():
        assert keyring(app, account.id).store.of_peer("msp") == []
        db.session.remove()
    assert audited(app, account.id, "key.peer_confirmed") == []


def test_confirming_under_a_trust_this_account_does_not_have_is_an_error(account, env):
    fingerprint = "SHA256:" + "A" * 43

    output = run(env, "trust", "confirm-key", *admin(account), "trust-nope", fingerprint, code=1)

    assert "trust-nope" in output


def test_key_peers_says_which_peers_hold_the_key_and_who_must_confirm(app, account, env, clock):
    assert run(env, "key", "peers", "--account", account.id).strip() == "no active trusts"
    trust_with_down_peer(app, account)
    clock.advance(timedelta(minutes=1))

    run(env, "key", "rotate", *admin(account))  # the peer is down: the notice waits
    [announcing, detail] = run(env, "key", "peers", "--account", account.id).splitlines()
    assert announcing.split("\t")[:2] == ["msp", "announcing"]
    assert "must confirm" not in announcing and "outbox keeps trying" in detail

    clock.advance(timedelta(minutes=1))
    run(env, "key", "rotate", *admin(account), "--compromised")
    [listed] = json.loads(run(env, "key", "peers", "--account", account.id, "--json"))
    assert (listed["state"], listed["must_confirm"]) == ("unconfirmed", True)
    assert listed["trust_ids"] == [f"trust-{account.id}"]


def test_outbox_list_shows_the_notice_waiting_for_a_down_peer(app, account, env):
    assert run(env, "outbox", "list", "--account", account.id).strip() == (
        "the outbox holds nothing of that"
    )
    trust_with_down_peer(app, account)
    run(env, "key", "rotate", *admin(account))  # the peer is down: the notice waits

    [listed] = json.loads(run(env, "outbox", "list", "--account", account.id, "--json"))
    assert (listed["state"], listed["kind"], listed["peer_account"]) == (
        "pending", "key_notice", "msp",
    )  # fmt: skip
    assert listed["attempts"] == 1 and listed["last_error"]
    text = run(env, "outbox", "list", "--account", account.id, "--state", "pending")
    assert text.startswith("pending\tmsp\tkey_notice\t1 attempt(s)")
    delivered = run(env, "outbox", "list", "--account", account.id, "--state", "delivered")
    assert delivered.strip() == "the outbox holds nothing of that"
    run(env, "outbox", "list", "--account", account.id, "--state", "stuck", code=2)
