"""A routine rotation after a compromise rotation, before the peer's admin confirmed the
key: the peer cannot take the notice (it never pinned the key that signs it), so the
rotation asks for the new key to be confirmed instead, and nothing waits for the notice.

The customer rotates here: its notes reach the MSP through the outbox.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from account_node.db import db
from account_node.tenancy import AccountScope, bind_scope
from tests.federation.flows import deliver_pending, ok
from trust.models import KEY_NOTICE, OutboxMessage


def _rotate(served, compromised: bool) -> dict[str, Any]:
    with served.customer.client(served.customer_account.admin) as admin:
        return dict(ok(admin.post("/api/v1/keys/rotate", json={"compromised": compromised})))


def _outbox(served) -> list[OutboxMessage]:
    with served.customer.app.app_context():
        bind_scope(db.session(), AccountScope(served.customer_account.id))
        query = select(OutboxMessage).order_by(OutboxMessage.created_at)
        messages = list(db.session.scalars(query))
        db.session.expunge_all()
        return messages


def _note(served, text: str) -> None:
    with served.customer.client(served.customer_account.end_user) as customer:
        path = f"/api/v1/requests/{served.request['id']}/notes"
        ok(customer.post(path, json={"body": text}), 201)
    served.customer.app.extensions["trustdesk"].jobs.drain()


def _key_states(served) -> list[tuple[str, str, bool]]:
    """What the customer's keys page says of its key, per peer."""
    with served.customer.client(served.customer_account.auditor) as auditor:
        listed = ok(auditor.get("/api/v1/keys/peers"))
    return [(p["peer_account"], p["state"], p["must_confirm"]) for p in listed]


def test_a_routine_rotation_before_the_peer_confirmed_a_compromise_asks_it_to_confirm(served):
    msp = served.msp_account.id
    assert _key_states(served) == [(msp, "holds", False)]  # pinned in the handshake
    compromise = _rotate(served, compromised=True)
    assert _key_states(served) == [(msp, "unconfirmed", True)]
    routine = _rotate(served, compromised=False)
    assert _key_states(served) == [(msp, "refused", True)]  # it refused the notice

    assert routine["old"] == compromise["new"]
    assert routine["delivered"] == [] and routine["pending"] == []
    assert routine["confirm_with"] == [served.msp_account.id]
    notices = [m for m in _outbox(served) if m.precedence == KEY_NOTICE]
    assert [m.delivered_at is None and m.abandoned_at is not None for m in notices] == [True]

    _note(served, "Refused until the MSP confirms the key.")
    [event] = [
        m for m in _outbox(served) if m.path.endswith("/events") and m.body["action"] == "note"
    ]
    assert event.delivered_at is None and "key_unknown" in (event.last_error or "")
    assert event.key_refused and event.attempts == 0  # it waits for the MSP's admin

    with served.msp.client(served.msp_account.admin) as admin:
        ok(
            admin.post(
                f"/api/v1/trusts/{served.trust}/peer-key",
                json={"fingerprint": routine["fingerprint"]},
            )
        )
    deliver_pending(served.customer, served.customer_account.id)

    events = [m for m in _outbox(served) if m.path.endswith("/events")]
    assert events and all(m.delivered_at is not None for m in events), [
        m.last_error for m in events
    ]
    assert _key_states(served) == [(msp, "holds", False)]
