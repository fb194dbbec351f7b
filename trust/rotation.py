"""Routine key rotation, announced to every peer the account trusts or is trusted by.

The notice is signed by the old and the new key (DESIGN section 5); the call carrying it
is signed by the new key. A peer accepts it only if the old key is one it pinned, then
checks the call with the new key. A peer that cannot be reached keeps the old key until
it can (its validity window still covers what that key signed); the undelivered notice is
audited. After a suspected compromise, rotate and re-confirm fingerprints out of band.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from trust.crypto.httpsig import HttpRequestParts
from trust.crypto.keys import KeyRef
from trust.errors import FederationRefused, PeerDeclined, PeerNotAllowed, PeerUnavailable
from trust.handshake import Handshake
from trust.inbox import authenticate
from trust.models import Trust


@dataclass
class RotationReport:
    old: str
    new: str
    delivered: list[str] = field(default_factory=list)
    undelivered: list[str] = field(default_factory=list)


def rotate_and_announce(handshake: Handshake, commit: Callable[[], None]) -> RotationReport:
    """Rotate, make the new key durable (``commit``), then tell the peers.

    In that order: a peer that gets the notice retires the old key at once, so a notice
    sent before the commit, followed by a failure (a slow peer past the worker's timeout,
    a failed commit), would leave the account signing with an old key its peers no longer
    accept and a new one it no longer has."""
    work = handshake.work
    notice = handshake.keys.rotate()
    report = RotationReport(notice["document"]["old"], notice["document"]["new"])
    work.record("key.rotate", "key", report.new, {"key": report.old}, {"key": report.new})
    commit()
    new_key = handshake.keys.current()
    active = handshake.trusts.session.scalars(select(Trust).where(Trust.status == "active"))
    for trust in list(active):
        try:
            handshake.peers.post_signed(
                f"{trust.peer_node}/federation/v1/{trust.peer_account}/keys/rotation",
                {"notice": notice},
                new_key,
                now=int(work.clock.now().timestamp()),
                trust_id=trust.id,
                actor=work.actor.person_id,
            )
            report.delivered.append(trust.peer_account)
        except (PeerUnavailable, PeerDeclined, PeerNotAllowed):
            report.undelivered.append(trust.peer_account)
    work.record("key.announce", "key", report.new, after=_as_dict(report))
    return report


def receive_rotation(handshake: Handshake, parts: HttpRequestParts, body: dict[str, Any]) -> str:
    notice = body.get("notice")
    if not isinstance(notice, dict):
        raise FederationRefused("no rotation notice in the body", reason="notice_invalid")
    try:
        pinned = handshake.keyring.accept_rotation(notice)
    except Exception as exc:
        code = getattr(exc, "code", "notice_invalid")
        raise FederationRefused("the rotation notice does not verify", reason=code) from exc
    verified = authenticate(
        handshake.work.session,
        parts,
        handshake.keyring.resolve,
        handshake.work.clock.now(),
        handshake.work.settings.redis_url,
    )
    if KeyRef.parse(verified.keyid).account != pinned.peer_account:
        raise FederationRefused(
            "a rotation must come from the rotating account", reason="notice_invalid"
        )
    new = f"{pinned.peer_account}#{pinned.key_id}"
    handshake.work.record(
        "key.peer_rotated", "pinned_key", new, after={"peer": pinned.peer_account}
    )
    return new


def _as_dict(report: RotationReport) -> dict[str, Any]:
    return {"key": report.new, "delivered": report.delivered, "undelivered": report.undelivered}
