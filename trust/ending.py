"""Ending a trust: from this side, or on the peer's notice.

Deactivation is final and takes effect on the deactivating side at once; the peer is
told, and every later call under the trust is refused by each side's own record even if
that notice is lost. That holds for a proposal withdrawn before it is accepted too: the
invited side, which pins the proposer's key only on accept, checks the notice with the
key the proposal names; and if the notice is lost the proposer refuses the
countersignature (``ProposalWithdrawn``).

Both ways of ending read the trust under its row lock (``TrustStore.locked``) and end it
only if it has not ended: an accept or a countersignature racing the end is taken before
it (and the end then ends the trust it made active) or after it (and refuses), never
written over it. The lock is released by the commit before the peer is told, so a peer
on this same node can take the notice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from account_node.context import Work
from trust.agreement import party_key
from trust.crypto.httpsig import HttpRequestParts, VerifiedSignature
from trust.crypto.keys import KeyRef
from trust.errors import FederationForbidden
from trust.handshake import Handshake, summary
from trust.inbox import authenticate
from trust.keystore import OwnKey
from trust.models import Trust
from trust.signals import trust_deactivated

if TYPE_CHECKING:
    from trust.calls import TrustCall


@dataclass
class Deactivations:
    """One account's ends of its trusts, through its ``handshake``."""

    handshake: Handshake

    @property
    def work(self) -> Work:
        return self.handshake.work

    def deactivate(self, trust_id: str, commit: Callable[[], None]) -> Trust:
        """End the trust here, make that durable (``commit``), then tell the peer.

        In that order: the end takes effect at once whatever the peer does (each side
        refuses calls under it by its own record), and recording it locks the account's
        audit chain until the commit, so a slow peer told before the commit would hold
        up every other write of the account. A notice the peer did not take is audited
        (``trust.notice_undelivered``); the peer's calls are refused all the same.

        A proposal ended before it was accepted (withdrawn, or declined) is told the
        same way, signed with the key the proposal names while this account still has
        it: the peer knows no other yet (``authenticate_proposer``).

        Ended under the trust's row lock (see the module docstring): on PostgreSQL an
        accept whose countersignature is out holds it, and this waits for the accept."""
        trust = self.handshake.trusts.locked(trust_id)
        if trust.status == "deactivated":
            return trust
        own = self._notice_key(trust)
        self._end(trust, f"{self.handshake.account} ({self.work.actor.name})")
        commit()
        try:
            self.handshake.peers.post_signed(
                f"{trust.peer_node}/federation/v1/{trust.peer_account}/trusts/{trust.id}/deactivation",
                {"trust": trust.id},
                own,
                now=int(self.work.clock.now().timestamp()),
                trust_id=trust.id,
                actor=self.work.actor.person_id,
            )
        except Exception:
            self.work.record("trust.notice_undelivered", "trust", trust.id)
        return trust

    def _notice_key(self, trust: Trust) -> OwnKey:
        """The key to sign ``trust``'s deactivation notice with: the current one, or for a
        proposal the one it names for this account, if this account still has it."""
        if trust.status == "proposed":
            named = trust.agreement["document"][trust.role]["keyid"]
            try:
                return self.handshake.keys.own(KeyRef.parse(named).key_id)
            except LookupError:
                pass
        return self.handshake.keys.current()

    def awaiting_acceptance(self, trust_id: str) -> Trust | None:
        """The proposal ``trust_id`` if this account received it and has not accepted it."""
        trust = self.handshake.trusts.find(trust_id)
        if trust is None or trust.role != "trusted" or trust.status != "proposed":
            return None
        return trust

    def authenticate_proposer(self, parts: HttpRequestParts, trust: Trust) -> VerifiedSignature:
        """Authenticate a call under a proposal this account holds (``awaiting_acceptance``)
        against the key the proposal names: the proposer's key is pinned here only on
        accept, and ``receive_proposal`` checked the proposal and its call with that key.
        The call must cover the trust; the key is the proposer account's by construction
        (``party_key``), at the node the trust names."""
        trusting = trust.agreement["document"]["trusting"]
        verified = authenticate(
            self.work.session,
            parts,
            {trusting["keyid"]: party_key(trusting)}.get,
            self.work.clock.now(),
            self.work.settings.redis_url,
        )
        if verified.trust != trust.id:
            raise FederationForbidden(
                "the signature does not cover this trust", reason="trust_not_covered"
            )
        return verified

    def receive(self, call: TrustCall) -> Trust:
        """``call``: authenticated under the trust, by its peer, whatever the trust's
        status (``authenticate_trust_call``, or ``authenticate_proposer`` for a proposal
        not accepted here): only the peer may end it from its side. Read again under
        the row lock: an accept here may have made it active since it was authenticated."""
        trust = self.handshake.trusts.locked(call.trust.id)
        if trust.status != "deactivated":
            self._end(trust, f"{trust.peer_account} (peer notice)")
        return trust

    def _end(self, trust: Trust, by: str) -> None:
        before = summary(trust)
        trust.status, trust.deactivated_at, trust.deactivated_by = (
            "deactivated",
            self.work.clock.now(),
            by,
        )
        self.work.session.flush()
        self.work.record("trust.deactivate", "trust", trust.id, before, summary(trust))
        trust_deactivated.send(trust, work=self.work)
