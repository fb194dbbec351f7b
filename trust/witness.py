"""Witnessing audit chain heads across trusts (DESIGN section 6).

A hash chain proves nothing to someone who can rewrite all of it: whoever holds the
database can recompute every hash after an edit. So each account periodically signs its
chain head (sequence number and hash) and sends it, through the outbox, to the peer of
every active trust. The peer keeps what it received. Afterwards a history that was cut
short (a head with a lower number than one already witnessed), forked (another hash for
a number already witnessed) or rewritten shows on the peer's side, where the one who
rewrote it cannot reach:

- each head names, as ``previous``, the number of the head last sent over that trust and
  the hash the chain holds *now* for it; a rewrite changes that hash, and the peer, who
  witnessed the old one, sees the two disagree;
- a conflict is kept with the head, written to the receiving account's audit log and
  listed at ``GET /api/v1/trusts/{id}/audit-heads`` for its auditors.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from account_node.audit.service import AuditStore
from account_node.context import Work
from account_node.db import db
from account_node.errors import ValidationFailed
from account_node.http import Instant
from account_node.identity.accounts import active_account_ids
from account_node.jobs import contained, then_next_run
from account_node.tenancy import ScopedStore
from trust.calls import TrustCall
from trust.crypto.documents import sign_document, verify_document
from trust.crypto.errors import SignatureError
from trust.errors import FederationRefused
from trust.keyring import Keyring
from trust.keystore import AccountKeys
from trust.models import OutboxMessage, Trust, WitnessedHead
from trust.outbox import Outbox, outbox_work

HEAD = "audit-head"
SUFFIX = "audit-heads"
SEND = "trust.witness.send_heads"
_HASH = re.compile(r"^[0-9a-f]{64}$")


class _Previous(Schema):
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    # None: the chain no longer holds that event.
    hash = fields.String(required=True, allow_none=True, validate=validate.Regexp(_HASH))


class HeadDocument(Schema):
    account = fields.String(required=True, validate=validate.Length(min=1, max=64))
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    hash = fields.String(required=True, validate=validate.Regexp(_HASH))
    at = Instant(required=True)
    previous = fields.Nested(_Previous, allow_none=True, load_default=None)


class WitnessStore(ScopedStore[WitnessedHead]):
    model = WitnessedHead

    def of_peer(self, peer_account: str, limit: int = 100) -> list[WitnessedHead]:
        query = (
            select(WitnessedHead)
            .where(WitnessedHead.peer_account == peer_account)
            .order_by(WitnessedHead.received_at.desc(), WitnessedHead.seq.desc())
        )
        return list(self.session.scalars(query.limit(limit)))

    def highest_seq(self, peer_account: str) -> int | None:
        query = select(func.max(WitnessedHead.seq)).where(
            WitnessedHead.peer_account == peer_account
        )
        return self.session.scalar(query)

    def hashes_at(self, peer_account: str, seq: int) -> set[str]:
        query = select(WitnessedHead.hash).where(
            WitnessedHead.peer_account == peer_account, WitnessedHead.seq == seq
        )
        return set(self.session.scalars(query))

    def find_same(self, peer_account: str, seq: int, hash_: str) -> WitnessedHead | None:
        query = select(WitnessedHead).where(
            WitnessedHead.peer_account == peer_account,
            WitnessedHead.seq == seq,
            WitnessedHead.hash == hash_,
        )
        return self.session.scalars(query).first()


# --- the sending side ------------------------------------------------------------------


def send_heads(node: Any, reschedule: bool = True) -> int:
    """Periodic job: every active account sends its current head over each active trust
    whose peer has not had it yet; returns how many were queued."""
    sent = 0
    every = node.settings.audit_witness_seconds
    name = "audit-witness"
    with then_next_run(node.jobs, node.clock, "delivery", SEND, every, name, when=reschedule):
        for account_id in active_account_ids(db.session()):
            with contained(db.session(), "the audit witness", f"account {account_id}"):
                work = outbox_work(node, account_id)
                sent += send_head(work, node.app.config["SECRET_KEY"])
                work.session.commit()  # each account's on its own: the next may fail
    return sent


def send_head(work: Work, node_secret: str) -> int:
    """Queue this account's signed head for each active trust that lacks it."""
    audit = AuditStore(work.session, work.scope)
    head = audit.head()
    if head is None or head.seq == 0:
        return 0
    trusts = list(work.session.scalars(select(Trust).where(Trust.status == "active")))
    if not trusts:
        return 0
    own = AccountKeys(work.session, work.scope, work.clock, node_secret).current()
    queued = 0
    for trust in trusts:
        last = _last_sent_seq(work, trust)
        if last == head.seq:
            continue
        previous = None
        if last is not None:
            previous = {"seq": last, "hash": audit.hash_at(last)}  # None: no longer there
        document = {
            "account": work.scope.account_id,
            "seq": head.seq,
            "hash": head.hash,
            "at": work.clock.now().isoformat(),
            "previous": previous,
        }
        signed = sign_document(document, own.signing, str(own.ref), HEAD)
        Outbox(work).add(trust, SUFFIX, {"head": signed})
        queued += 1
    return queued


def _last_sent_seq(work: Work, trust: Trust) -> int | None:
    """The seq of the head last queued over ``trust`` (the outbox keeps what it sent)."""
    query = (
        select(OutboxMessage.body)
        .where(
            OutboxMessage.trust_id == trust.id,
            OutboxMessage.path.endswith(f"/{SUFFIX}"),
            OutboxMessage.abandoned_at.is_(None),
        )
        .order_by(OutboxMessage.created_at.desc())
    )
    body = work.session.scalars(query.limit(1)).first()
    try:
        return int(body["head"]["document"]["seq"]) if body else None
    except (KeyError, TypeError, ValueError):
        return None


# --- the receiving side ----------------------------------------------------------------


def receive_head(work: Work, call: TrustCall, body: dict[str, Any]) -> tuple[WitnessedHead, bool]:
    """Keep a peer's signed head; returns it and whether it was new. A head that does
    not add up with those witnessed before is kept all the same, with its conflict."""
    signed = body.get("head")
    key = Keyring(work.session, work.scope, work.clock).resolve(call.signature.keyid)
    try:
        if key is None:
            raise SignatureError("key_unknown", "the call's key is not pinned")
        document = verify_document(signed, HEAD, {call.signature.keyid: key})
        head = HeadDocument().load(document, unknown="exclude")
    except SignatureError as exc:
        raise FederationRefused(
            f"the audit head is not signed by the calling key: {exc}", reason="head_unsigned"
        ) from exc
    except ValidationError as exc:
        raise ValidationFailed(errors=exc.messages_dict) from exc
    peer = call.peer_account
    if head["account"] != peer:
        raise FederationRefused("the audit head is another account's", reason="head_mismatch")
    store = WitnessStore(work.session, work.scope)
    known = store.find_same(peer, head["seq"], head["hash"])
    if known is not None:
        return known, False
    conflict = conflict_of(store, peer, head)
    witnessed = WitnessedHead(
        trust_id=call.trust.id,
        peer_account=peer,
        seq=head["seq"],
        hash=head["hash"],
        signed_at=head["at"],
        received_at=work.clock.now(),
        document=signed,
        conflict=conflict,
    )
    try:
        with work.session.begin_nested():
            store.add(witnessed)
    except IntegrityError:  # the same head, delivered twice at once
        found = store.find_same(peer, head["seq"], head["hash"])
        if found is None:
            raise
        return found, False
    if conflict:
        work.record(
            "audit.witness_conflict",
            "account",
            peer,
            after={"trust": call.trust.id, "seq": head["seq"], "conflict": conflict},
        )
    return witnessed, True


def conflict_of(store: Any, peer: str, head: dict[str, Any]) -> str | None:
    """What does not add up between ``head`` and the heads witnessed before, if anything.

    ``store`` answers ``highest_seq(peer)`` and ``hashes_at(peer, seq)`` (a WitnessStore).
    """
    seq, hash_ = head["seq"], head["hash"]
    highest = store.highest_seq(peer)
    if highest is not None and seq < highest:
        return f"the chain went back from event {highest} to {seq}: cut short or rewritten"
    if store.hashes_at(peer, seq) - {hash_}:
        return f"another hash for event {seq} was witnessed before: the history forked"
    previous = head.get("previous")
    if previous:
        before = store.hashes_at(peer, previous["seq"])
        if before and previous["hash"] is None:
            return f"event {previous['seq']}, witnessed before, is gone: the chain was cut"
        if before and previous["hash"] not in before:
            return (
                f"event {previous['seq']} now hashes to {previous['hash'][:12]}..., "
                f"witnessed as {sorted(before)[0][:12]}...: the history was rewritten"
            )
    return None
