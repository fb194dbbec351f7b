"""Whether each peer holds this account's current key, as far as this node can tell.

A peer learns the key in one of three ways: in a handshake countersigned since the key
was made, from a rotation notice (trust.rotation, sent by the outbox), or from its admin
confirming the fingerprint out of band (trust.reconfirm: after a compromise rotation,
or when the peer refused a notice). This node is never told of the third; it learns
only from what the peer answers to calls the key signs. So, per peer of an active trust
(an account at its node), the latest such evidence decides:

- ``holds``: the peer took a call the key signed (its notice, or any message delivered
  since the key was made), or a trust with it became active since.
- ``announcing``: the key's notice is queued; the outbox keeps trying (``last_error``
  says why it has not gone yet).
- ``refused``: the peer refused the notice or a call the key signed for a key it does
  not hold (``OutboxMessage.key_refused``): its admin must confirm the fingerprint.
- ``unconfirmed``: the key replaced one revoked after a suspected compromise, which
  announces nothing, and nothing it signed has reached the peer since: its admin must
  confirm the fingerprint (and may have: nothing sent since would say).
- ``unknown``: none of the above (no trust with the peer changed and nothing was sent
  to it since the key was made).

Refusal is judged before success: a peer that took a call and refuses the next (its
admin revoked the key, say) needs confirming again. Only the outbox's record is read;
nothing is asked of the peer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from account_node.tenancy import ScopedStore
from trust.keystore import AccountKeyStore
from trust.models import KEY_NOTICE, KEY_STATUSES, AccountKey, OutboxMessage, Trust
from trust.outbox import AWAITING_CONFIRMATION_DELAY, active_trusts

MUST_CONFIRM = ("refused", "unconfirmed")


@dataclass(frozen=True)
class PeerKeyStatus:
    peer_account: str
    peer_name: str
    peer_node: str
    trust_ids: tuple[str, ...]
    state: str
    since: datetime | None  # when the deciding evidence came (or the key was made)
    detail: str
    last_error: str | None = None
    next_attempt_at: datetime | None = None

    @property
    def must_confirm(self) -> bool:
        return self.state in MUST_CONFIRM

    def as_dict(self) -> dict[str, Any]:
        return {
            "peer_account": self.peer_account,
            "peer_name": self.peer_name,
            "peer_node": self.peer_node,
            "trust_ids": list(self.trust_ids),
            "state": self.state,
            "must_confirm": self.must_confirm,
            "since": self.since,
            "detail": self.detail,
            "last_error": self.last_error,
            "next_attempt_at": self.next_attempt_at,
        }


class _Outbox(ScopedStore[OutboxMessage]):
    model = OutboxMessage

    def latest_deliveries(self, key: AccountKey) -> dict[tuple[str, str], datetime]:
        """Per peer (node, account), its latest delivery since ``key`` was made: one row
        per peer, however much traffic there was."""
        query = (
            select(
                OutboxMessage.peer_node,
                OutboxMessage.peer_account,
                func.max(OutboxMessage.delivered_at),
            )
            .where(OutboxMessage.delivered_at >= key.created_at)
            .group_by(OutboxMessage.peer_node, OutboxMessage.peer_account)
        )
        rows = self.session.execute(query)
        return {(node, account): last for node, account, last in rows if last is not None}

    def evidence(self, key: AccountKey) -> list[OutboxMessage]:
        """The messages that can say more about ``key``: those the peer refused for a key
        and that still wait, and the key's own notice (whatever became of it)."""
        query = select(OutboxMessage).where(
            or_(
                OutboxMessage.key_refused
                & OutboxMessage.delivered_at.is_(None)
                & OutboxMessage.abandoned_at.is_(None),
                (OutboxMessage.precedence == KEY_NOTICE)
                & (OutboxMessage.signing_key == key.key_id),
            )
        )
        return list(self.session.scalars(query))


def peer_key_states(session: Any, scope: Any) -> list[PeerKeyStatus]:
    """The state of the account's current key with each peer of an active trust, by
    peer account. None at all while the account has no key yet (it has no trust)."""
    keys = AccountKeyStore(session, scope).with_status(*KEY_STATUSES)
    current = next((k for k in keys if k.status == "current"), None)
    if current is None:
        return []
    before = [k for k in keys if k.created_at < current.created_at]
    after_compromise = bool(before) and before[-1].status == "revoked"
    peers: dict[tuple[str, str], list[Trust]] = {}
    for trust in active_trusts(session):
        peers.setdefault((trust.peer_node, trust.peer_account), []).append(trust)
    outbox = _Outbox(session, scope)
    messages: dict[tuple[str, str], list[OutboxMessage]] = {}
    for message in outbox.evidence(current):
        messages.setdefault((message.peer_node, message.peer_account), []).append(message)
    delivered = outbox.latest_deliveries(current)
    return [
        judge(current, after_compromise, trusts, messages.get(peer, []), delivered.get(peer))
        for peer, trusts in sorted(peers.items(), key=lambda item: item[0][::-1])
    ]


def judge(
    key: AccountKey,
    after_compromise: bool,
    trusts: list[Trust],
    messages: Iterable[OutboxMessage],
    latest_delivery: datetime | None = None,
) -> PeerKeyStatus:
    """One peer's state from its active ``trusts``, the outbox's ``messages`` to it and
    its ``latest_delivery`` (see the module docstring; a delivered message among
    ``messages`` counts as one too). Pure: the tests give it what they like."""
    first = trusts[0]

    def status(state: str, since: datetime | None, detail: str, **more: Any) -> PeerKeyStatus:
        return PeerKeyStatus(
            first.peer_account, first.peer_name, first.peer_node,
            tuple(t.id for t in trusts), state, since, detail, **more,
        )  # fmt: skip

    messages = list(messages)
    refusal = _latest(
        [m for m in messages if m.key_refused and (m.abandoned_at is None or _notice(m, key))],
        refused_at,
    )
    delivered_at = max(
        (
            moment
            for moment in [latest_delivery, *(m.delivered_at for m in messages)]
            if moment is not None and moment >= key.created_at
        ),
        default=None,
    )
    refused = refused_at(refusal) if refusal is not None else None
    if (
        refusal is not None
        and refused is not None
        and refused >= key.created_at  # else the key before this one was refused
        and (delivered_at is None or delivered_at < refused)
    ):
        return status(
            "refused", refused,
            "The peer refused a call this key signed: it does not hold the key. Its admin "
            "must confirm the fingerprint, handed over out of band.",
            last_error=refusal.last_error,
            next_attempt_at=refusal.next_attempt_at,
        )  # fmt: skip
    if delivered_at is not None:
        return status("holds", delivered_at, "The peer took a call this key signed.")
    joined = max((t.activated_at for t in trusts if t.activated_at), default=None)
    if joined is not None and joined >= key.created_at:
        return status("holds", joined, "The peer pinned this key when the trust became active.")
    notice = _latest(
        [m for m in messages if _notice(m, key) and m.abandoned_at is None],
        lambda m: m.created_at,
    )
    if notice is not None:
        return status(
            "announcing", notice.created_at,
            "The key's rotation notice is queued: the outbox keeps trying the peer.",
            last_error=notice.last_error,
            next_attempt_at=notice.next_attempt_at,
        )  # fmt: skip
    if after_compromise:
        return status(
            "unconfirmed", key.created_at,
            "This key replaced one revoked after a suspected compromise: the peer's admin "
            "must confirm its fingerprint, handed over out of band. Nothing it signed has "
            "reached the peer since.",
        )  # fmt: skip
    return status("unknown", key.created_at, "Nothing this key signed has reached the peer yet.")


def refused_at(message: OutboxMessage) -> datetime | None:
    """When the peer last refused ``message`` for the key: a notice is set aside then,
    any other message waits ``AWAITING_CONFIRMATION_DELAY`` from then."""
    if message.abandoned_at is not None:
        return message.abandoned_at
    if message.next_attempt_at is None:
        return None
    return message.next_attempt_at - AWAITING_CONFIRMATION_DELAY


def _notice(message: OutboxMessage, key: AccountKey) -> bool:
    return message.precedence == KEY_NOTICE and message.signing_key == key.key_id


def _latest(messages: list[OutboxMessage], moment: Any) -> OutboxMessage | None:
    dated = [m for m in messages if moment(m) is not None]
    return max(dated, key=moment) if dated else None
