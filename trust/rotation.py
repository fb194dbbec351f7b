"""Routine key rotation, announced to every peer the account trusts or is trusted by.

The notice is signed by the old and the new key (DESIGN section 5). A peer accepts it only
if the old key is one it pinned, then checks the call carrying it with its keyring, which
now holds the new key. A peer that cannot be reached keeps the old key until it can (its
validity window still covers what that key signed).

Delivery is the outbox's (trust.outbox): the notice to each peer is written in the
rotation's own transaction, after the new key, and retried with backoff until the peer
has it, for as long as a trust with the peer is active. It goes ahead of every message
already queued to that peer (``KEY_NOTICE``): those are signed with the current key when
they are sent, and the peer would refuse the new key (``key_unknown``) before it has the
notice.

The rotation request tries every peer at once (``announce``), within one deadline (the
federation timeout), not one after the other: with many slow peers it would otherwise
take peers times the timeout. Only the calls go out on the pool's threads; the request's thread
makes each call ready and records each answer (the outbox's ``prepare`` and ``settle``),
after the commit, as before. A peer that has not answered by the deadline is
``pending``: its call is left to end on its own, and the outbox tries it again once it
must have (a repeat is taken as the first).

A routine rotation after a compromise rotation, before a peer's admin confirmed the
compromise key: the notice is signed by that key, which the peer never pinned, so it
refuses it (``key_unknown``) and always will. That cannot be known before asking (this
node is not told when a peer's admin confirms), so the notice is queued and tried as any
other; the refusal sets it aside (trust.outbox) rather than leaving it at the head of
the peer's queue, and the peer is reported in ``confirm_with``: its admin confirms the
new key's fingerprint out of band, as after the compromise (the descriptor lists only
the current key, so the compromise key's fingerprint no longer confirms anything). This
keeps the protocol's rule: a peer takes a key automatically only from a notice signed by
a key it holds. A peer that confirmed the compromise key takes the notice as usual; one
that is down at the rotation is ``pending``, and its refusal later is audited
(``outbox.abandoned``, saying its admin must confirm the key).

Several rotations before a peer hears of the first (A→B, then B→C): a peer has at most one
pending notice message, carrying the chain of notices it has not had, oldest first. A
later rotation supersedes the pending message with one carrying the chain plus its own
notice. The receiver accepts the chain notice by notice, each one's old key being the key
the one before introduced, so it ends with the newest key pinned; the call is signed by
that newest key (the message names it: ``signing_key``), which the receiver's keyring
resolves only once the chain is in. One message per peer rather than one per notice, each
call signed with its notice's own new key (which would also work): it keeps one thing to
retry and report per peer, and the call is always signed with the account's current key
(a rotation committed during an attempt aside), not with keys it has retired.

Receiving is idempotent: a notice that comes again (its first answer was lost) is verified
as fully as the first time and answered with success, without a second
``key.peer_rotated``.

After a suspected compromise (``rotate_compromised``) nothing is announced: a notice signed
by a key that may be stolen proves nothing, and a thief could announce a key of its own
just as well. The old key is revoked here, the notices still pending to peers are set
aside (they chain from keys now in doubt), and each peer's admin confirms the new key's
fingerprint, handed over out of band, on the peer's node (trust.reconfirm). Until then
the peer refuses calls signed with the new key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import select

from account_node.audit.service import Actor
from account_node.errors import NodeError
from trust.crypto.errors import SignatureError
from trust.crypto.httpsig import HttpRequestParts
from trust.crypto.keys import KeyRef
from trust.errors import FederationForbidden, FederationRefused
from trust.handshake import Handshake
from trust.inbox import authenticate
from trust.keyring import AcceptedRotation
from trust.models import KEY_NOTICE, OutboxMessage, Trust
from trust.outbox import Call, Outbox, active_trusts, send

#: The most notices one call may carry: this many rotations while one peer was away.
MAX_CHAIN = 100
MAX_FANOUT = 32  # peers a rotation calls at once


@dataclass
class RotationReport:
    """Peers (accounts) that have the notice now, and those the outbox will retry."""

    old: str
    new: str
    delivered: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    compromised: bool = False
    fingerprint: str | None = None
    #: After a compromise: peer accounts whose admins must confirm ``fingerprint``.
    confirm_with: list[str] = field(default_factory=list)


def rotate(
    handshake: Handshake, commit: Callable[[], None], *, compromised: bool = False
) -> RotationReport:
    """The rotation an admin asks for, from the API or the command line: routine
    (``rotate_and_announce``, which calls ``commit`` before it tries the peers) or, with
    ``compromised``, ``rotate_compromised`` (which leaves the commit to the boundary)."""
    if compromised:
        return rotate_compromised(handshake)
    return rotate_and_announce(handshake, commit)


def rotate_and_announce(
    handshake: Handshake, commit: Callable[[], None], *, deadline: float | None = None
) -> RotationReport:
    """Rotate and queue the notices, make both durable (``commit``), then try every peer
    at once for at most ``deadline`` seconds (default: the federation timeout).

    In that order: a peer that gets the notice retires the old key at once, so a notice
    sent before the commit, followed by a failure (a slow peer past the worker's timeout,
    a failed commit), would leave the account signing with an old key its peers no longer
    accept and a new one it no longer has. A peer that does not answer in time is
    ``pending``: the outbox retries it (with its own delivery jobs, or the sweep). A peer
    that refuses the notice for a key it does not hold is in ``confirm_with`` (see the
    module docstring)."""
    work = handshake.work
    notice = handshake.keys.rotate()
    report = RotationReport(notice["document"]["old"], notice["document"]["new"])
    report.fingerprint = handshake.keys.current().signing.verify_key.fingerprint
    work.record("key.rotate", "key", report.new, {"key": report.old}, {"key": report.new})
    queued = [(m.id, m.peer_account) for m in queue_notices(Outbox(work), notice)]
    commit()
    seconds = float(work.settings.federation_timeout_seconds if deadline is None else deadline)
    outbox = Outbox(work)
    calls: dict[str, Call] = {}
    for message_id, peer in queued:
        call = outbox.prepare(handshake, message_id)
        if isinstance(call, Call):
            calls[message_id] = call
        else:
            (report.delivered if call else report.pending).append(peer)
    answers = announce(handshake.peers, list(calls.values()), seconds)
    late = work.clock.now() + timedelta(seconds=work.settings.federation_timeout_seconds)
    for message_id, peer in queued:
        if message_id not in calls:
            continue
        if message_id not in answers:
            outbox.defer(message_id, late, "no answer within the rotation's deadline")
            report.pending.append(peer)
        elif outbox.settle(handshake, calls[message_id], answers[message_id]):
            report.delivered.append(peer)
        elif outbox.store.get(message_id).abandoned_at is not None:
            report.confirm_with.append(peer)
        else:
            report.pending.append(peer)
    work.record("key.announce", "key", report.new, after=_as_dict(report))
    return report


def announce(peers: Any, calls: list[Call], seconds: float) -> dict[str, NodeError | None]:
    """Make ``calls`` at once (no database: see ``trust.outbox.send``); per message id
    answered within ``seconds``, None if the peer took it or the failure. A call still
    out at the deadline is left to end on its own, its answer unused."""
    if not calls:
        return {}
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=min(MAX_FANOUT, len(calls)), thread_name_prefix="keys")
    try:
        futures = {pool.submit(send, peers, call): call.message_id for call in calls}
        done, _ = wait(futures, timeout=max(0.0, seconds - (time.monotonic() - started)))
        return {futures[future]: future.result() for future in done}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def rotate_compromised(handshake: Handshake) -> RotationReport:
    """Revoke the current key and make a new one, announcing nothing (see the module
    docstring); pending key notices to every peer are superseded. The boundary commits."""
    work = handshake.work
    old, new = handshake.keys.replace_compromised()
    fingerprint = new.signing.verify_key.fingerprint
    outbox = Outbox(work)
    peers = {(t.peer_node, t.peer_account) for t in work.session.scalars(select(Trust))}
    for peer_node, peer_account in sorted(peers):
        for pending in outbox.store.pending_key_notices(peer_node, peer_account):
            outbox.supersede(pending, by=f"the compromise rotation to {new.ref}")
    confirm_with = sorted({trust.peer_account for trust in active_trusts(work.session)})
    report = RotationReport(
        old, str(new.ref), compromised=True, fingerprint=fingerprint, confirm_with=confirm_with
    )
    work.record(
        "key.rotate",
        "key",
        report.new,
        {"key": old},
        {"key": report.new, "compromised": True, "fingerprint": fingerprint},
    )
    return report


def queue_notices(outbox: Outbox, notice: dict[str, Any]) -> list[OutboxMessage]:
    """Queue ``notice`` to each peer of an active trust (one message per peer account at
    its node), after the notices that peer has not had yet, whose messages it supersedes.
    Not enqueued: the caller attempts them after its commit."""
    work, new = outbox.work, KeyRef.parse(notice["document"]["new"])
    peers: dict[tuple[str, str], Trust] = {}
    for trust in active_trusts(work.session):
        peers.setdefault((trust.peer_node, trust.peer_account), trust)
    queued = []
    for peer, trust in peers.items():
        chain = []
        for earlier in outbox.store.pending_key_notices(*peer):
            chain += earlier.body["notices"]
            outbox.supersede(earlier, by=f"the rotation to {new}")
        queued.append(
            outbox.queue(
                trust,
                f"/federation/v1/{trust.peer_account}/keys/rotation",
                {"notices": [*chain, notice]},
                actor_id=work.actor.person_id,
                precedence=KEY_NOTICE,
                signing_key=new.key_id,
                enqueue=False,
            )
        )
    return queued


def receive_rotation(handshake: Handshake, parts: HttpRequestParts, body: dict[str, Any]) -> str:
    """Accept a chain of rotation notices (``notices``, or one ``notice`` as nodes sent
    before chains), then authenticate the call, which the rotating account signs with
    the newest key. Returns that key, pinned. A notice had before changes nothing."""
    accepted: list[AcceptedRotation] = []
    for notice in _chain(body):
        try:
            accepted.append(handshake.keyring.accept_rotation(notice))
        except (SignatureError, ValueError) as exc:
            code = getattr(exc, "code", "notice_invalid")
            raise FederationRefused("the rotation notice does not verify", reason=code) from exc
    verified = authenticate(
        handshake.work.session,
        parts,
        handshake.keyring.resolve,
        handshake.work.clock.now(),
        handshake.work.settings.redis_url,
    )
    newest = accepted[-1]
    peer = newest.pinned.peer_account
    if KeyRef.parse(verified.keyid).account != peer:
        raise FederationRefused(
            "a rotation must come from the rotating account", reason="notice_invalid"
        )
    # A key pinned here outlives the trusts it came with (it still verifies what it
    # signed): an ex-peer must not keep pinning keys, nor writing to this audit log.
    if not _trusts_with(handshake, newest.pinned.peer_node, peer):
        raise FederationForbidden(
            "no active or proposed trust with the rotating account", reason="trust_inactive"
        )
    actor_id = verified.actor or f"node:{peer}"
    handshake.work.actor = Actor(actor_id, peer, f"{actor_id} ({peer})", vouched_by=peer)
    for rotation in accepted:
        if rotation.fresh:
            handshake.work.record(
                "key.peer_rotated",
                "pinned_key",
                rotation.ref,
                after={"peer": rotation.pinned.peer_account},
            )
    return newest.ref


def _trusts_with(handshake: Handshake, node: str, account: str) -> bool:
    query = select(Trust.id).where(
        Trust.peer_node == node,
        Trust.peer_account == account,
        Trust.status.in_(("active", "proposed")),
    )
    return handshake.work.session.scalars(query.limit(1)).first() is not None


def _chain(body: dict[str, Any]) -> list[Any]:
    """The body's notices, oldest first: each must rotate the key the one before it
    introduced (a chain of one account's keys, without gaps or forks)."""
    notices = body.get("notices")
    if notices is None and isinstance(body.get("notice"), dict):
        notices = [body["notice"]]
    if not isinstance(notices, list) or not 0 < len(notices) <= MAX_CHAIN:
        raise FederationRefused("no rotation notices in the body", reason="notice_invalid")
    ends = [_ends(notice) for notice in notices]
    if any(after[0] != before[1] for before, after in pairwise(ends)):
        raise FederationRefused(
            "each rotation must start from the key the one before introduced",
            reason="notice_invalid",
        )
    return notices


def _ends(notice: Any) -> tuple[Any, Any]:
    """The old and the new key a notice names, as given (the keyring checks them)."""
    document = notice.get("document") if isinstance(notice, dict) else None
    if not isinstance(document, dict):
        raise FederationRefused("a rotation notice is malformed", reason="notice_invalid")
    return document.get("old"), document.get("new")


def _as_dict(report: RotationReport) -> dict[str, Any]:
    return {
        "key": report.new,
        "delivered": report.delivered,
        "pending": report.pending,
        "confirm_with": report.confirm_with,
    }
