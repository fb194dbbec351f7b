"""The keys page on one node: who may use it, rotating, and what it says of each peer.

Confirming a peer's key against a real peer's descriptor is in test_federated_pages.py;
here the peer never answers (port 9 on loopback).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from account_node.audit.service import AuditLog
from account_node.db import db
from account_node.tenancy import AccountScope, bind_scope
from tests.integration.portal.conftest import errors_next_to
from tests.integration.portal.test_trusts import _trust
from trust.keystore import AccountKeyStore
from trust.models import PinnedKey

FINGERPRINT = re.compile(r'<code id="current-fingerprint">([^<]+)</code>')


def _fingerprint(html: str) -> str:
    return FINGERPRINT.search(html).group(1)


def _keys(app, account_id: str) -> list[tuple[str, str]]:
    with app.app_context():
        rows = AccountKeyStore(db.session, AccountScope(account_id)).with_status(
            "current", "previous", "revoked"
        )
        found = [(row.key_id, row.status) for row in rows]
        db.session.rollback()
        return found


def _pinned(app, account_id: str) -> list[tuple[str, str, bool]]:
    """The peer keys the account has pinned: (peer, key id, revoked)."""
    with app.app_context():
        bind_scope(db.session(), AccountScope(account_id))
        rows = db.session.scalars(select(PinnedKey)).all()
        found = sorted((r.peer_account, r.key_id, r.revoked_at is not None) for r in rows)
        db.session.rollback()
        return found


def _peer_state(html: str, peer: str) -> str:
    match = re.search(rf'data-peer="{re.escape(peer)}" data-state="(\w+)"', html)
    return match.group(1) if match else ""


@pytest.mark.parametrize("role", ["specialist", "end_user", "auditor"])
def test_the_keys_page_and_its_forms_are_for_admins_only(app, as_role, desk, role):
    browser = as_role(role)
    before = _keys(app, desk.account.id)
    assert browser.get("/admin/keys").status_code == 403
    rotate = browser.post("/admin/keys/rotate", {"compromised": "no"}, page="/requests")
    confirm = browser.post(
        "/admin/keys/peer-key", {"trust_id": "x", "fingerprint": "SHA256:x" * 3}, page="/requests"
    )
    assert rotate.status_code == confirm.status_code == 403
    assert 'href="/admin/keys"' not in browser.text("/")
    assert _keys(app, desk.account.id) == before


def test_a_form_without_its_csrf_token_changes_nothing(app, as_role, desk):
    admin = as_role("admin")
    admin.text("/admin/keys")  # the account has a key from here on
    before = _keys(app, desk.account.id)
    response = admin.post("/admin/keys/rotate", {"compromised": "no"}, csrf=False)
    assert response.status_code == 400
    assert _keys(app, desk.account.id) == before


def test_the_admin_finds_the_key_and_no_peers_yet(as_role):
    html = as_role("admin").text("/admin/keys")
    assert 'href="/admin/keys" aria-current="page"' in html
    assert _fingerprint(html).startswith("SHA256:")
    assert "No active trusts: no peer holds this key yet." in html
    assert 'href="/admin/keys"' in as_role("admin").text("/admin/trusts")


def test_a_routine_rotation_makes_a_new_key_and_keeps_the_old_one_listed(app, as_role, desk, clock):
    admin = as_role("admin")
    old = _fingerprint(admin.text("/admin/keys"))
    clock.advance(timedelta(minutes=1))

    response = admin.post("/admin/keys/rotate", {"compromised": "no"}, page="/admin/keys")

    assert response.status_code == 303
    html = admin.text("/admin/keys")
    new = _fingerprint(html)
    assert new != old and f"The account&#39;s key is now {new}." in html
    assert "Earlier keys (1)" in html and old in html
    assert [status for _, status in _keys(app, desk.account.id)] == ["previous", "current"]
    with app.app_context():
        log = AuditLog(db.session, AccountScope(desk.account.id), clock)
        audited = log.page(action="key.rotate")
        assert [e.actor_id for e in audited] == [desk.account.admin.id]
        db.session.rollback()


def test_a_compromise_rotation_asks_first_and_changes_nothing_unasked(app, as_role, desk):
    admin = as_role("admin")
    admin.text("/admin/keys")
    before = _keys(app, desk.account.id)

    response = admin.post("/admin/keys/rotate", {"compromised": "yes"}, page="/admin/keys")

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Tick this" in errors_next_to(html, "understood")
    assert 'value="yes" checked> The key may be stolen' in html
    assert _keys(app, desk.account.id) == before


def test_after_a_compromise_each_peer_must_confirm_the_fingerprint_handed_over(
    app, as_role, desk, clock
):
    admin = as_role("admin")
    admin.text("/admin/keys")
    _trust(app, desk.account.id)  # an active trust with "contoso"
    assert _peer_state(admin.text("/admin/keys"), "contoso") == "holds"
    assert "Must confirm our key" not in admin.text("/admin/trusts")
    clock.advance(timedelta(minutes=1))

    form = {"compromised": "yes", "understood": "yes"}
    assert admin.post("/admin/keys/rotate", form, page="/admin/keys").status_code == 303

    html = admin.text("/admin/keys")
    new = _fingerprint(html)
    assert _peer_state(html, "contoso") == "unconfirmed"
    assert f"Hand their admin this fingerprint: <code>{new}</code>" in html
    assert "nothing was announced" in html
    statuses = [status for _, status in _keys(app, desk.account.id)]
    assert statuses == ["revoked", "current"]
    assert "Earlier keys" not in html  # a revoked key is not offered anywhere
    trusts = admin.text("/admin/trusts")
    assert re.search(r'href="/admin/keys">Must confirm our key</a>', trusts)


def test_confirming_a_peer_key_checks_the_form_before_asking_anyone(app, as_role, desk):
    admin = as_role("admin")
    trust = _trust(app, desk.account.id)

    short = admin.post(
        "/admin/keys/peer-key", {"trust_id": trust, "fingerprint": "SHA"}, page="/admin/keys"
    )
    assert short.status_code == 422
    assert "Between 10 and 80" in errors_next_to(short.get_data(True), "fingerprint")

    other = admin.post(
        "/admin/keys/peer-key",
        {"trust_id": "trust-of-someone-else", "fingerprint": "SHA256:" + "A" * 43},
        page="/admin/keys",
    )
    assert other.status_code == 422
    assert "active trusts" in errors_next_to(other.get_data(True), "trust_id")


def test_a_peer_that_does_not_answer_confirms_nothing_and_is_not_quoted(app, as_role, desk):
    admin = as_role("admin")
    trust = _trust(app, desk.account.id)  # its node is 127.0.0.1:9: nobody answers
    admin.text("/admin/keys")
    pinned_before = _pinned(app, desk.account.id)

    response = admin.post(
        "/admin/keys/peer-key",
        {"trust_id": trust, "fingerprint": "SHA256:" + "A" * 43},
        page="/admin/keys",
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "did not answer with its keys, so nothing was confirmed" in html
    assert f'<option value="{trust}" selected>' in html
    assert _pinned(app, desk.account.id) == pinned_before
