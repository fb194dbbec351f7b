"""Key rotation reaches every peer, however long it was away, before anything the new key
signs; and a notice that comes twice is acknowledged twice, changing things once.

A peer is taken down by having its server answer 503 to everything (as a node behind a
load balancer does while it restarts); it comes back when the real app is put back. The
sender's outbox is then driven by hand (``deliver_pending``), so no test waits for a
backoff to run out.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from account_node.db import db
from account_node.tenancy import AccountScope, bind_scope
from tests.federation.flows import deliver_pending, down, ok
from trust.crypto.keys import KeyRef, SigningKey
from trust.errors import PeerDeclined
from trust.keyring import Keyring
from trust.keystore import OwnKey, rotation_notice
from trust.models import KEY_NOTICE, OutboxMessage, ReceivedNotice
from trust.outbox import node_handshake, outbox_work


def _outbox(node, account_id: str) -> list[OutboxMessage]:
    with node.app.app_context():
        bind_scope(db.session(), AccountScope(account_id))
        query = select(OutboxMessage).order_by(OutboxMessage.created_at)
        messages = list(db.session.scalars(query))
        db.session.expunge_all()
        return messages


def _audited(node, member, action: str) -> list[dict[str, Any]]:
    with node.client(member) as client:
        return list(ok(client.get("/api/v1/audit", params={"action": action}))["items"])


def _rotate(node, admin) -> dict[str, Any]:
    with node.client(admin) as client:
        return dict(ok(client.post("/api/v1/keys/rotate")))


def _reads_over_the_trust(served) -> int:
    with served.msp.client(served.msp_account.specialist) as specialist:
        return specialist.get(f"/api/v1/trusts/{served.trust}/requests").status_code


def test_a_peer_down_at_the_rotation_gets_the_notice_when_it_is_back(served):
    with down(served.customer):
        rotated = _rotate(served.msp, served.msp_account.admin)
        assert rotated["delivered"] == []
        assert rotated["pending"] == [served.customer_account.id]
        [announced] = _audited(served.msp, served.msp_account.auditor, "key.announce")
        assert announced["after"]["pending"] == [served.customer_account.id]

    deliver_pending(served.msp, served.msp_account.id)

    # Every call the MSP signs now uses the new key, and the customer knows it.
    assert _reads_over_the_trust(served) == 200
    [pinned] = _audited(served.customer, served.customer_account.auditor, "key.peer_rotated")
    assert pinned["target_id"] == rotated["new"]


def test_two_rotations_while_the_peer_is_down_leave_it_pinning_the_newest_key(served):
    with down(served.customer):
        first = _rotate(served.msp, served.msp_account.admin)
        second = _rotate(served.msp, served.msp_account.admin)
    assert second["old"] == first["new"] and second["pending"] == [served.customer_account.id]

    deliver_pending(served.msp, served.msp_account.id)

    assert _reads_over_the_trust(served) == 200
    customer = served.customer.app
    with customer.app_context():
        ring = Keyring(
            db.session(),
            AccountScope(served.customer_account.id),
            customer.extensions["trustdesk"].clock,
        )
        assert ring.resolve(second["new"]) is not None
        assert ring.resolve(first["new"]) is None  # rotated out, as the chain said
        assert ring.resolve(first["old"]) is None
        db.session.rollback()
    audited = _audited(served.customer, served.customer_account.auditor, "key.peer_rotated")
    assert sorted(e["target_id"] for e in audited) == sorted([first["new"], second["new"]])
    # One notice message reached the customer; the first rotation's was superseded by it.
    notices = [m for m in _outbox(served.msp, served.msp_account.id) if m.precedence == KEY_NOTICE]
    assert [(m.delivered_at is not None, m.abandoned_at is not None) for m in notices] == [
        (False, True),
        (True, False),
    ]


def test_a_rotation_notice_goes_before_an_event_queued_while_the_peer_was_down(served):
    """The customer's note is queued (and fails) before its admin rotates: sent after the
    rotation, it is signed with the new key, so the notice must reach the MSP first."""
    with down(served.msp):
        with served.customer.client(served.customer_account.end_user) as customer:
            note = {"body": "It is jamming again."}
            ok(customer.post(f"/api/v1/requests/{served.request['id']}/notes", json=note), 201)
        served.customer.app.extensions["trustdesk"].jobs.drain()  # the note's first attempt
        rotated = _rotate(served.customer, served.customer_account.admin)
        assert rotated["pending"] == [served.msp_account.id]

    deliver_pending(served.customer, served.customer_account.id)

    messages = _outbox(served.customer, served.customer_account.id)
    assert all(m.delivered_at is not None for m in messages), [m.last_error for m in messages]
    [event] = [m for m in messages if m.path.endswith("/events") and m.body["action"] == "note"]
    with served.msp.app.app_context():
        bind_scope(db.session(), AccountScope(served.msp_account.id))
        query = select(func.count()).where(ReceivedNotice.notice_id == event.id)
        assert db.session.scalar(query.select_from(ReceivedNotice)) == 1
        db.session.rollback()


def test_a_notice_delivered_again_is_acknowledged_and_changes_nothing(served):
    rotated = _rotate(served.msp, served.msp_account.admin)
    assert rotated["delivered"] == [served.customer_account.id]
    [message] = [
        m for m in _outbox(served.msp, served.msp_account.id) if m.precedence == KEY_NOTICE
    ]

    # The first answer was lost: the outbox sends the same notice again (signed anew).
    trustdesk = served.msp.app.extensions["trustdesk"]
    with served.msp.app.app_context():
        handshake = node_handshake(trustdesk, outbox_work(trustdesk, served.msp_account.id))
        again = handshake.peers.post_signed(
            served.customer.url + message.path,
            {**message.body, "notice_id": message.id},
            handshake.keys.current(),
            now=int(trustdesk.clock.now().timestamp()),
            trust_id=served.trust,
        )
        db.session.remove()

    assert again == {"pinned": rotated["new"]}
    audited = _audited(served.customer, served.customer_account.auditor, "key.peer_rotated")
    assert [e["target_id"] for e in audited] == [rotated["new"]]
    [actor] = [e["actor"] for e in audited]  # the rotating account, not an anonymous peer
    assert (actor["account"], actor["vouched_by"]) == (served.msp_account.id,) * 2
    assert _reads_over_the_trust(served) == 200


def test_a_peer_whose_trust_ended_can_pin_no_more_keys(served):
    """Its key is still pinned (it verifies what it signed while the trust lasted), but
    deactivation is final: no rotation is taken from it, nor written to the audit log."""
    with served.customer.client(served.customer_account.admin) as customer:
        ok(customer.post(f"/api/v1/trusts/{served.trust}/deactivate"))
    trustdesk = served.msp.app.extensions["trustdesk"]
    with served.msp.app.app_context():
        handshake = node_handshake(trustdesk, outbox_work(trustdesk, served.msp_account.id))
        old = handshake.keys.current()
        new = OwnKey(KeyRef(served.msp_account.id, "k-after-the-end"), SigningKey.generate())
        notice = rotation_notice(old, new, trustdesk.clock.now())
        url = f"{served.customer.url}/federation/v1/{served.customer_account.id}/keys/rotation"
        with pytest.raises(PeerDeclined) as refused:
            handshake.peers.post_signed(
                url,
                {"notices": [notice]},
                new,
                now=int(trustdesk.clock.now().timestamp()),
                trust_id=served.trust,
            )
        db.session.remove()

    assert refused.value.extensions == {"peer_status": 403, "peer_code": "trust_inactive"}
    with served.customer.app.app_context():
        bind_scope(db.session(), AccountScope(served.customer_account.id))
        ring = Keyring(db.session(), AccountScope(served.customer_account.id), trustdesk.clock)
        assert ring.resolve(str(new.ref)) is None
        db.session.rollback()
    assert _audited(served.customer, served.customer_account.auditor, "key.peer_rotated") == []
    [entry] = _audited(served.customer, served.customer_account.auditor, "federation.refused")
    assert entry["after"]["reason"] == "trust_inactive"
