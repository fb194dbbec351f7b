"""Authenticating a call made under a trust (DESIGN section 5, the receiver's checks).

The signature checks come first (pinned key, signature, window, nonce, digest), so an
unauthenticated caller learns nothing about this account's trusts; then this account's
own record of the trust: it must exist, name the signer's account as the peer, be
active, and be the one the signature covers. A deactivated trust is refused here even if
the peer never heard of the deactivation. What the trust offers (offerings, requests) is
the calling slice's check, made next.

The trust is read without a lock, unlike where its status changes (trust.handshake,
trust.ending). A call checked just before a deactivation commits may finish just after
it, its writes stamped a few milliseconds past ``deactivated_at`` (taken before that
commit): it is ordered before the deactivation, as a call that came a moment earlier
would be, and every call checked after the commit is refused. No call under a trust
changes the trust's status, so this cannot undo an end. A lock would cost every call:
on PostgreSQL a ``FOR SHARE`` writes a lock into the trust's row on every read (the
inbox's fan-out makes one per page per customer) and makes a deactivation wait for
the slowest call in flight; on SQLite the only lock there is is the node's one write
lock, which would make every call under every trust wait for every other.
"""

from __future__ import annotations

from dataclasses import dataclass

from account_node.context import Work
from trust.crypto.httpsig import HttpRequestParts, VerifiedSignature
from trust.crypto.keys import KeyRef
from trust.errors import FederationForbidden
from trust.handshake import TrustStore
from trust.inbox import authenticate
from trust.keyring import Keyring
from trust.models import Trust


@dataclass(frozen=True)
class TrustCall:
    """An authenticated call: the trust it came under and who signed it."""

    trust: Trust
    signature: VerifiedSignature

    @property
    def peer_account(self) -> str:
        return self.trust.peer_account

    @property
    def actor_id(self) -> str | None:
        return self.signature.actor


def authenticate_trust_call(
    work: Work,
    parts: HttpRequestParts,
    trust_id: str,
    *,
    role: str | None = None,
    active: bool = True,
) -> TrustCall:
    """Check a call made to this account under ``trust_id``; ``role`` is this account's
    side the call requires (``trusting`` for the visibility API). ``active=False`` skips
    only the status check, for the handshake's own calls (a countersignature comes while
    the trust is a proposal; a deactivation notice whatever it is): the signer must still
    be the trust's peer, at the trust's node."""
    keyring = Keyring(work.session, work.scope, work.clock)
    verified = authenticate(
        work.session, parts, keyring.resolve, work.clock.now(), work.settings.redis_url
    )
    if verified.trust != trust_id:
        raise FederationForbidden(
            "the signature does not cover this trust", reason="trust_not_covered"
        )
    trust = TrustStore(work.session, work.scope).find(trust_id)
    signer = KeyRef.parse(verified.keyid).account
    # The node too: an account id is only a name, which another node's proposal could
    # claim; a key pinned from that node must not sign for the trust with this one.
    if (
        trust is None
        or trust.peer_account != signer
        or keyring.node_of(verified.keyid) != trust.peer_node
    ):
        raise FederationForbidden("no such trust with the signing account", reason="trust_unknown")
    if active and trust.status != "active":
        # Deactivation is final; a trust still proposed here (its countersignature's
        # answer lost on the way) may yet become active: callers retry only the latter.
        reason = "trust_pending" if trust.status == "proposed" else "trust_inactive"
        raise FederationForbidden(f"the trust is {trust.status}", reason=reason)
    if role is not None and trust.role != role:
        raise FederationForbidden(
            f"this account is not the {role} side of the trust", reason="trust_role"
        )
    return TrustCall(trust, verified)
