"""After a suspected compromise the MSP rotates without a notice, and the customer's admin
confirms the new key's fingerprint, handed over out of band, before the customer accepts
anything the new key signs; from then on the old key verifies nothing, not even inside
the window it was valid in (DESIGN section 5, key rotation).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from account_node.db import db
from account_node.tenancy import AccountScope, bind_scope
from tests.federation.flows import down, ok
from trust.crypto.keys import KeyRef, SigningKey
from trust.errors import PeerDeclined
from trust.keystore import OwnKey, rotation_notice
from trust.models import KEY_NOTICE, OutboxMessage, PinnedKey
from trust.outbox import node_handshake, outbox_work


def _rotate_compromised(served) -> dict[str, Any]:
    with served.msp.client(served.msp_account.admin) as admin:
        return dict(ok(admin.post("/api/v1/keys/rotate", json={"compromised": True})))


def _confirm(served, fingerprint: str, member=None, trust: str | None = None) -> Any:
    with served.customer.client(member or served.customer_account.admin) as client:
        return client.post(
            f"/api/v1/trusts/{trust or served.trust}/peer-key", json={"fingerprint": fingerprint}
        )


def _inbox_source(served) -> str:
    with served.msp.client(served.msp_account.specialist) as specialist:
        inbox = ok(specialist.get("/api/v1/inbox"))
    [source] = [s for s in inbox["sources"] if s["account"] == served.customer_account.id]
    return str(source["status"])


def _audited(node, member, action: str) -> list[dict[str, Any]]:
    with node.client(member) as client:
        return list(ok(client.get("/api/v1/audit", params={"action": action}))["items"])


def _pinned(served) -> dict[str, bool]:
    """The MSP keys the customer has pinned: key id → revoked."""
    with served.customer.app.app_context():
        bind_scope(db.session(), AccountScope(served.customer_account.id))
        rows = db.session.scalars(select(PinnedKey)).all()
        pinned = {row.key_id: row.revoked_at is not None for row in rows}
        db.session.rollback()
        return pinned


def _msp_key(served) -> OwnKey:
    trustdesk = served.msp.app.extensions["trustdesk"]
    with served.msp.app.app_context():
        key = node_handshake(
            trustdesk, outbox_work(trustdesk, served.msp_account.id)
        ).keys.current()
        db.session.remove()
    return key


def _list_signed_with(served, key: OwnKey) -> Any:
    """The visibility call the MSP's inbox makes, signed with ``key`` (say, a stolen one)."""
    trustdesk = served.msp.app.extensions["trustdesk"]
    url = (
        f"{served.customer.url}/federation/v1/{served.customer_account.id}"
        f"/trusts/{served.trust}/requests"
    )
    with served.msp.app.app_context():
        handshake = node_handshake(trustdesk, outbox_work(trustdesk, served.msp_account.id))
        try:
            return handshake.peers.signed(
                "GET", url, key, now=int(trustdesk.clock.now().timestamp()), trust_id=served.trust
            )
        finally:
            db.session.remove()


def test_the_customer_refuses_the_msp_after_a_compromise_until_its_admin_confirms_the_key(
    served,
):
    old = _msp_key(served)
    rotated = _rotate_compromised(served)

    assert rotated["compromised"] is True and rotated["old"] == str(old.ref)
    assert rotated["confirm_with"] == [served.customer_account.id]
    assert rotated["delivered"] == rotated["pending"] == []
    with served.msp.client(served.msp_account.admin) as admin:
        listed = ok(admin.get("/api/v1/keys"))
    assert [(k["status"], k["fingerprint"]) for k in listed] == [
        ("current", rotated["fingerprint"])
    ]  # the revoked key is no longer offered
    with served.msp.client(served.msp_account.admin) as admin:
        described = ok(admin.get("/.well-known/trustdesk-node"))["document"]["accounts"]
    [msp] = [a for a in described if a["id"] == served.msp_account.id]
    assert [k["key_id"] for k in msp["keys"]] == [rotated["new"].split("#")[1]]
    notices = [m for m in _outbox(served) if m.precedence == KEY_NOTICE]
    assert notices == []  # a notice signed by a possibly stolen key proves nothing
    [audited] = _audited(served.msp, served.msp_account.auditor, "key.rotate")
    assert audited["after"]["compromised"] is True

    assert _inbox_source(served) == "refused"

    confirmed = ok(_confirm(served, rotated["fingerprint"]))

    assert confirmed["key"] == rotated["new"] and confirmed["revoked"] == [rotated["old"]]
    assert _inbox_source(served) == "ok"
    [event] = _audited(served.customer, served.customer_account.auditor, "key.peer_confirmed")
    assert event["target_id"] == rotated["new"]
    assert event["after"]["fingerprint"] == rotated["fingerprint"]
    assert event["after"]["revoked"] == [rotated["old"]]

    again = ok(_confirm(served, rotated["fingerprint"]))  # idempotent
    assert again["key"] == rotated["new"] and again["revoked"] == []
    assert (
        len(_audited(served.customer, served.customer_account.auditor, "key.peer_confirmed")) == 1
    )


def test_a_call_signed_with_the_old_key_is_refused_once_the_new_key_is_confirmed(served):
    stolen = _msp_key(served)
    rotated = _rotate_compromised(served)
    # Until the customer's admin confirms, the customer cannot know the key was stolen.
    assert _list_signed_with(served, stolen)["items"]

    ok(_confirm(served, rotated["fingerprint"]))

    with pytest.raises(PeerDeclined) as refused:
        _list_signed_with(served, stolen)
    assert refused.value.extensions == {"peer_status": 401, "peer_code": "key_unknown"}
    assert _pinned(served) == {stolen.ref.key_id: True, rotated["new"].split("#")[1]: False}


def test_a_thief_who_rotates_the_stolen_key_to_the_new_key_id_cannot_block_confirmation(served):
    """The new key's id is public in the MSP's descriptor at once, and the stolen key is
    valid at the customer until its admin confirms: the thief rotates it to that id,
    bound to a key of the thief's own. The confirmed fingerprint must still win."""
    stolen = _msp_key(served)
    rotated = _rotate_compromised(served)
    new_id = rotated["new"].split("#")[1]
    thief = OwnKey(KeyRef(served.msp_account.id, new_id), SigningKey.generate())
    trustdesk = served.msp.app.extensions["trustdesk"]
    notice = rotation_notice(stolen, thief, trustdesk.clock.now())
    url = f"{served.customer.url}/federation/v1/{served.customer_account.id}/keys/rotation"
    with served.msp.app.app_context():
        handshake = node_handshake(trustdesk, outbox_work(trustdesk, served.msp_account.id))
        handshake.peers.signed(
            "POST",
            url,
            thief,
            body={"notices": [notice]},
            now=int(trustdesk.clock.now().timestamp()),
            trust_id=served.trust,
        )
        db.session.remove()
    assert _list_signed_with(served, thief)["items"]  # the squat took, for now

    confirmed = ok(_confirm(served, rotated["fingerprint"]))

    assert confirmed["key"] == rotated["new"] and confirmed["revoked"] == [rotated["old"]]
    for key in (thief, stolen):
        with pytest.raises(PeerDeclined):
            _list_signed_with(served, key)
    assert _inbox_source(served) == "ok"  # the MSP's real new key
    [event] = _audited(served.customer, served.customer_account.auditor, "key.peer_confirmed")
    assert event["after"]["replaced_another_key"] is True


def test_a_wrong_fingerprint_is_refused_and_changes_nothing(served):
    old = _msp_key(served)
    _rotate_compromised(served)
    before = _pinned(served)

    for fingerprint in (old.signing.verify_key.fingerprint, "SHA256:" + "A" * 43):
        response = _confirm(served, fingerprint)
        assert response.status_code == 422, response.text
        assert list(response.json()["errors"]) == ["fingerprint"]

    assert _pinned(served) == before
    assert _inbox_source(served) == "refused"
    assert _audited(served.customer, served.customer_account.auditor, "key.peer_confirmed") == []


def test_only_an_admin_confirms_a_peer_key_and_only_under_an_active_trust(served):
    rotated = _rotate_compromised(served)
    fingerprint = rotated["fingerprint"]

    assert _confirm(served, fingerprint, served.customer_account.specialist).status_code == 403
    assert _confirm(served, fingerprint, trust="trust-0000000000000000").status_code == 404
    with down(served.msp):
        assert _confirm(served, fingerprint).status_code == 502  # the peer cannot be asked
    assert _inbox_source(served) == "refused"
    with served.customer.client(served.customer_account.admin) as admin:
        ok(admin.post(f"/api/v1/trusts/{served.trust}/deactivate"))
    assert _confirm(served, fingerprint).status_code == 409
    assert len([r for r in _pinned(served).values() if not r]) == 1  # the old key only


def _outbox(served) -> list[OutboxMessage]:
    with served.msp.app.app_context():
        bind_scope(db.session(), AccountScope(served.msp_account.id))
        messages = list(db.session.scalars(select(OutboxMessage)))
        db.session.expunge_all()
        return messages
