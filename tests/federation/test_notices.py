"""Event notices from a trusting node: accepted at once, and a redelivery changes nothing.

The outbox signs every attempt afresh (a new nonce: a retry is never a replay), so the
trusted node sees a redelivered notice as a new, valid call carrying a notice id it has
already recorded. It must acknowledge it (202, or the sender retries for a day) and drop
it: one row in ``received_notices``, one event for the inbox's live stream.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from account_node.db import db
from account_node.tenancy import AccountScope, bind_scope
from tests.federation.flows import ok
from trust.errors import PeerDeclined
from trust.models import ReceivedNotice
from trust.outbox import node_handshake, outbox_work


class RecordingHub:
    """Stands in for the MSP node's live-update hub: remembers what was published."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, account_id: str, event: dict[str, Any]) -> None:
        self.published.append((account_id, event))

    def of(self, *notice_ids: str) -> list[tuple[str, str]]:
        """(account, notice id) of what was published for these notices (the customer's
        own outbox may deliver the request's creation notice meanwhile)."""
        return [(a, e["id"]) for a, e in self.published if e.get("id") in notice_ids]

    def listen(self, account_id: str, seconds: float):  # pragma: no cover - not streamed
        return iter(())


def _deliver(served, body: dict[str, Any]) -> Any:
    """One signed delivery from the customer's account, as its outbox makes it."""
    node = served.customer.app.extensions["trustdesk"]
    account = served.customer_account.id
    url = f"{served.msp.url}/federation/v1/{served.msp_account.id}/trusts/{served.trust}/events"
    with served.customer.app.app_context():
        work = outbox_work(node, account)
        handshake = node_handshake(node, work)
        return handshake.peers.post_signed(
            url,
            body,
            handshake.keys.current(),
            now=int(node.clock.now().timestamp()),
            trust_id=served.trust,
        )


def _recorded(served, notice_id: str) -> int:
    """How many times the MSP's account recorded ``notice_id`` (under its own scope, so
    PostgreSQL's row-level security lets the runtime role see the rows)."""
    with served.msp.app.app_context():
        bind_scope(db.session(), AccountScope(served.msp_account.id))
        query = select(func.count()).where(ReceivedNotice.notice_id == notice_id)
        return int(db.session.scalar(query.select_from(ReceivedNotice)) or 0)


def test_a_redelivered_notice_is_acknowledged_twice_but_recorded_and_published_once(served):
    hub = RecordingHub()
    served.msp.app.extensions["trustdesk.hub"] = hub
    notice = {
        "notice_id": "notice-redelivered-1",
        "type": "request.changed",
        "request": served.request["id"],
        "offering": served.offering["id"],
        "action": "note",
        "at": "2026-12-02T09:00:00+00:00",
    }

    first = _deliver(served, notice)
    again = _deliver(served, notice)  # a retry after a lost acknowledgement

    assert first == {"accepted": True, "duplicate": False}
    assert again == {"accepted": True, "duplicate": True}
    assert _recorded(served, "notice-redelivered-1") == 1
    assert hub.of("notice-redelivered-1") == [(served.msp_account.id, "notice-redelivered-1")]


def test_a_new_notice_after_a_redelivery_is_still_published(served):
    hub = RecordingHub()
    served.msp.app.extensions["trustdesk.hub"] = hub
    base = {"type": "request.changed", "request": served.request["id"],
            "offering": served.offering["id"], "action": "status",
            "at": "2026-12-02T09:00:00+00:00"}  # fmt: skip
    for notice_id in ("notice-a", "notice-a", "notice-b"):
        _deliver(served, {**base, "notice_id": notice_id})
    msp = served.msp_account.id
    assert hub.of("notice-a", "notice-b") == [(msp, "notice-a"), (msp, "notice-b")]
    assert _recorded(served, "notice-a") == _recorded(served, "notice-b") == 1
    with served.msp.client(served.msp_account.specialist) as client:
        ok(client.get("/api/v1/inbox"))  # the node still serves its people afterwards


@pytest.mark.parametrize(
    "field, value",
    [
        # A line break would end the stream's ``id:`` line and start an event of the
        # peer's own making: a fake deactivation, or a link to anywhere.
        ("notice_id", 'x\n\nevent: trust.deactivated\ndata: {"path": "//evil.example/"}'),
        ("request", "../../../audit"),  # the link the stream carries would leave the trust
        ("offering", "off\r\ning"),
        ("action", "note\nevent: x"),
    ],
)
def test_a_notice_whose_ids_are_not_tokens_is_refused_and_nothing_is_published(
    served, field, value
):
    hub = RecordingHub()
    served.msp.app.extensions["trustdesk.hub"] = hub
    notice = {
        "notice_id": "notice-forged-1",
        "type": "request.changed",
        "request": served.request["id"],
        "offering": served.offering["id"],
        "action": "note",
        "at": "2026-12-02T09:00:00+00:00",
        field: value,
    }
    with pytest.raises(PeerDeclined) as refused:
        _deliver(served, notice)
    assert refused.value.extensions == {"peer_status": 422, "peer_code": "validation_failed"}
    assert _recorded(served, notice["notice_id"]) == 0
    assert hub.of(notice["notice_id"]) == []
