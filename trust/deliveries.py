"""What the outbox holds, for the people who run the node.

A peer that stays down, refuses this account's key, or answers with errors shows up
first here: each message with its peer, its state, how often it was tried, when it is
tried next, and the last failure in this node's own words (``last_error``: the peer's
text is never kept). Read-only; the outbox alone decides what is sent (trust.outbox).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from account_node.pagination import Page
from account_node.tenancy import ScopedStore
from trust.models import KEY_NOTICE, OutboxMessage

STATES = ("pending", "waiting_for_key", "delivered", "abandoned")


def state_of(message: OutboxMessage) -> str:
    if message.delivered_at is not None:
        return "delivered"
    if message.abandoned_at is not None:
        return "abandoned"
    return "waiting_for_key" if message.key_refused else "pending"


def _in_state(state: str) -> ColumnElement[bool]:
    unsent = OutboxMessage.delivered_at.is_(None) & OutboxMessage.abandoned_at.is_(None)
    return {
        "pending": unsent & OutboxMessage.key_refused.is_(False),
        "waiting_for_key": unsent & OutboxMessage.key_refused.is_(True),
        "delivered": OutboxMessage.delivered_at.is_not(None),
        "abandoned": OutboxMessage.abandoned_at.is_not(None),
    }[state]


class Deliveries(ScopedStore[OutboxMessage]):
    model = OutboxMessage

    def listing(
        self, cursor: str | None, limit: int, *, state: str | None = None, peer: str | None = None
    ) -> Page[OutboxMessage]:
        """Messages oldest first (a queue's order), in ``state`` and to ``peer`` (an
        account id) if given."""
        criteria = []
        if state is not None:
            criteria.append(_in_state(state))
        if peer is not None:
            criteria.append(OutboxMessage.peer_account == peer)
        return self.page(cursor, limit, *criteria)


def delivery(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "trust_id": message.trust_id,
        "peer_account": message.peer_account,
        "peer_node": message.peer_node,
        "kind": "key_notice" if message.precedence == KEY_NOTICE else "message",
        "path": message.path,
        "state": state_of(message),
        "attempts": message.attempts,
        "created_at": message.created_at,
        "next_attempt_at": message.next_attempt_at,
        "delivered_at": message.delivered_at,
        "abandoned_at": message.abandoned_at,
        "last_error": message.last_error,
    }
