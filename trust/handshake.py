"""The trust handshake: invitation, signed proposal, countersignature.

1. The trusted account's admin issues an invitation: this node's URL, the account, its
   key fingerprint and a one-time code, handed to the customer out of band.
2. The trusting account's admin proposes: the node fetches the trusted node's descriptor,
   accepts its key only if the fingerprint matches the invitation (no trust on first use)
   and the descriptor is the node's at the invitation's URL (``trust.descriptor``), signs
   the agreement (RFC 8785 canonical JSON) and sends it with the code.
3. The trusted account's admin accepts: the node countersigns and sends the agreement
   back. Both sides store it with both signatures and pin each other's keys from it.

Each step that sends writes its own side first: the key pinned and the trust stored,
flushed, so whatever this account's records refuse (a key pinned otherwise, the peer
known at another node) is refused before the peer hears of anything. Then the peer is
called; if that fails the error propagates and the boundary's rollback undoes the local
write (the service flushes, never commits), so neither side is left holding half a
handshake. After the peer's success only the audit event and the boundary's commit are
left. The event comes after the call because recording it locks the account's audit
chain until the commit: every other write of the account would wait on a slow peer.
On SQLite, whose one write lock would keep a peer on the same node from taking its side
of the step, the refusals are checked by reading first and the write comes after the
call (``Handshake._write_and_send``).
A step whose answer was lost is sent once more, signed anew; the receivers answer the
repeat of a step they took as they answered it (the same trust, no second one).

Every change of a trust's status (accepted, countersigned, deactivated) reads the row
under a lock held until the commit and checks the status again under it
(``TrustStore.locked``): two changes racing each other are taken one after the other,
and the second sees what the first did. So a deactivation, once committed, is final: an
accept or a countersignature that comes after it finds the trust ended and refuses,
never writes ``active`` over it. On PostgreSQL the accept's lock is taken with its
write, before the call to the peer, and a deactivation here waits for the accept to
end; on SQLite it is taken after the call (``_write_and_send``), and a deactivation
made while the countersignature was out makes the accept fail (``ProposalWithdrawn``)
though the peer took it: that deactivation's own notice ends the peer's side (DESIGN
section 5: the other is told).

A key rotated while a proposal waits does not break it. Until the trust is active no
rotation notice goes to the peer (trust.rotation announces to active trusts), so the
accept carries them: the accepting side sends its notices since the key the agreement
names before the countersignature, and the proposer answers with its own. Each side's
keyring takes them as it takes any rotation (signed by the pinned old key and the new
one). A key revoked since (a compromise rotation) vouches for nothing: the proposal
must be made again (``ProposalStale``).

Deactivation, of a trust or of a proposal not yet accepted, is ``trust.ending``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from account_node.context import Work
from account_node.errors import ValidationFailed
from account_node.identity.models import Account
from account_node.tenancy import ScopedStore
from trust.agreement import (
    AGREEMENT,
    check_proposal,
    draft,
    party,
    party_key,
    signed_agreement,
    verify_countersigned,
)
from trust.client import PeerClient
from trust.crypto.documents import countersign, sign_document
from trust.crypto.errors import SignatureError
from trust.crypto.httpsig import HttpRequestParts
from trust.crypto.keys import KeyRef, VerifyKey
from trust.descriptor import invited_peer
from trust.errors import (
    FederationRefused,
    PeerDeclined,
    PeerNotAllowed,
    PeerUnavailable,
    ProposalStale,
    ProposalWithdrawn,
    TrustConflict,
    TrustInactive,
    TrustNotFound,
)
from trust.inbox import authenticate
from trust.keyring import Keyring
from trust.keystore import AccountKeys, KeyChainRevoked, OwnKey
from trust.models import Invitation, Trust

if TYPE_CHECKING:
    from trust.calls import TrustCall

log = logging.getLogger(__name__)
INVITATION_DAYS = 7
MAX_CHAIN = 100  # rotation notices taken from a countersignature's answer


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class TrustStore(ScopedStore[Trust]):
    model = Trust
    not_found = TrustNotFound

    def active_trusted(self) -> list[Trust]:
        """Every active trust in which this account is the trusted one, oldest first.
        Not a page: ended trusts stay forever (an end is final), so a first page of all
        trusts would in time hold none of the newest customers."""
        query = select(Trust).where(Trust.role == "trusted", Trust.status == "active")
        return list(self.session.scalars(query.order_by(Trust.created_at, Trust.id)))

    def locked(self, trust_id: str) -> Trust:
        """The trust read afresh, its row locked until commit: read it so before changing
        its status, and check the status on what this returns. A copy the session read
        earlier without the lock is replaced (it has no unsaved changes: flushed first).

        On PostgreSQL, ``FOR UPDATE``: a second writer waits, then reads what the first
        committed. On SQLite reads take no lock and ``FOR UPDATE`` does nothing, so the
        database's one write lock is taken first by an UPDATE that changes nothing (as
        ``RequestStore.lock_for_writing`` does); never call this before a call to a
        peer that may be this same node (``Handshake._write_and_send``)."""
        if self.session.get_bind().dialect.name != "postgresql":
            self.session.execute(
                update(Trust)
                .where(Trust.account_id == self.scope.account_id, Trust.id == trust_id)
                .values(status=Trust.status)
                .execution_options(synchronize_session=False)
            )
        query = select(Trust).where(Trust.id == trust_id).with_for_update()
        found = self.session.scalars(query.execution_options(populate_existing=True)).first()
        if found is None:
            raise TrustNotFound(f"trust {trust_id} not found")
        return found


class InvitationStore(ScopedStore[Invitation]):
    model = Invitation

    def by_code(self, code: str) -> Invitation | None:
        """The invitation, locked until commit (PostgreSQL): two proposals racing with
        one code must not both find it unused."""
        query = select(Invitation).where(Invitation.code_hash == code_hash(code))
        return self.session.scalars(query.with_for_update()).first()


@dataclass
class Handshake:
    """One account's side of its trusts. ``node_url`` is this node's public base URL."""

    work: Work
    node_url: str
    node_secret: str
    peers: PeerClient

    def __post_init__(self) -> None:
        self.trusts = TrustStore(self.work.session, self.work.scope)
        self.keys = AccountKeys(
            self.work.session, self.work.scope, self.work.clock, self.node_secret
        )
        self.keyring = Keyring(self.work.session, self.work.scope, self.work.clock)

    @property
    def account(self) -> str:
        return self.work.scope.account_id

    # --- step 1: the trusted side invites ----------------------------------------------

    def invite(self) -> dict[str, Any]:
        code = secrets.token_urlsafe(18)
        now = self.work.clock.now()
        invitation = Invitation(
            code_hash=code_hash(code),
            created_by=self.work.actor.person_id,
            created_at=now,
            expires_at=now + timedelta(days=INVITATION_DAYS),
            used_at=None,
        )
        InvitationStore(self.work.session, self.work.scope).add(invitation)
        self.work.record("trust.invite", "invitation", invitation.id)
        return {
            "node_url": self.node_url,
            "account": self.account,
            "fingerprint": self.keys.current().signing.verify_key.fingerprint,
            "code": code,
            "expires_at": invitation.expires_at,
        }

    # --- step 2: the trusting side proposes ------------------------------------------

    def propose(self, invitation: dict[str, Any]) -> Trust:
        """Propose to the invitation's account; the peer is sent the proposal only once
        it is stored here (see the module docstring). Raises ``ValidationFailed`` for an
        invitation the peer's descriptor does not bear out, ``TrustConflict`` for one
        this account's records refuse (both before anything is sent), or the peer's
        failure (``PeerDeclined``, ``PeerUnavailable``) with the local write to roll back."""
        peer_account = invitation["account"]
        if peer_account == self.account:
            raise ValidationFailed(
                errors={"account": ["an account cannot trust itself: this is its own invitation"]}
            )
        try:
            descriptor = self.peers.get_json(
                f"{invitation['node_url'].rstrip('/')}/.well-known/trustdesk-node"
            )
        except PeerNotAllowed as exc:  # the typed URL itself: name the field
            raise PeerNotAllowed(
                exc.detail, errors={"node_url": [exc.detail]}, **exc.extensions
            ) from exc
        peer = invited_peer(
            descriptor, invitation["node_url"], peer_account, invitation["fingerprint"]
        )
        own = self.keys.current()
        own_name = self.work.session.get(Account, self.account)
        agreement = draft(
            f"trust-{secrets.token_hex(8)}",
            party(
                self.account,
                own_name.name if own_name else self.account,
                self.node_url,
                own.ref,
                own.signing.verify_key,
            ),
            party(peer_account, peer.name, peer.node, peer.ref, peer.key),
            self.work.clock.now().isoformat(),
            {"id": self.work.actor.person_id, "name": self.work.actor.name},
        )
        signed = sign_document(agreement, own.signing, str(own.ref), AGREEMENT)

        def write() -> Trust:
            self._pin(peer.ref, peer.key, peer.node)
            return self._store(agreement["id"], "trusting", peer_account, peer.node, signed)

        trust = self._write_and_send(
            write,
            lambda: self._check_pinnable(peer.ref, peer.key, peer.node),
            lambda: self._send(
                f"{peer.node}/federation/v1/{peer_account}/trusts/proposals",
                {"agreement": signed, "code": invitation["code"]},
                own,
                agreement["id"],
            ),
        )
        self.work.record("trust.propose", "trust", trust.id, after=summary(trust))
        return trust

    # --- step 2, received by the trusted side -------------------------------------------

    def receive_proposal(self, parts: HttpRequestParts, body: dict[str, Any]) -> Trust:
        """Keep a proposal made with one of this account's invitation codes. A proposal
        made again (its answer lost) is answered with the trust it made, once it passes
        every check the first passed, signature and nonce included; any other use of a
        used code is refused."""
        signed, code = signed_agreement(body), body.get("code")
        invitations = InvitationStore(self.work.session, self.work.scope)
        invitation = invitations.by_code(code) if isinstance(code, str) else None
        now = self.work.clock.now()
        repeated = self._proposal_made_with(invitation, signed["document"])
        if repeated is None and (
            invitation is None or invitation.used_at is not None or invitation.expires_at <= now
        ):
            raise FederationRefused(
                "the invitation code is unknown, used or expired", reason="invitation_invalid"
            )
        trust_id, trusting, their_key = check_proposal(signed, self.account, self.keys.current())
        verified = authenticate(
            self.work.session,
            parts,
            {trusting["keyid"]: their_key}.get,
            now,
            self.work.settings.redis_url,
        )
        if verified.trust != trust_id:
            raise FederationRefused(
                "the signature does not cover this agreement", reason="trust_not_covered"
            )
        self._check_known(trusting, their_key)
        if repeated is not None:
            return repeated
        assert invitation is not None  # refused above otherwise
        invitation.used_at = now
        trust = self._store(trust_id, "trusted", trusting["account"], trusting["node"], signed)
        invitation.trust_id = trust.id
        self.work.record("trust.proposal_received", "trust", trust.id, after=summary(trust))
        return trust

    def _proposal_made_with(
        self, invitation: Invitation | None, document: dict[str, Any]
    ) -> Trust | None:
        """The trust the used ``invitation`` made, if ``document`` is its very agreement
        and the trust still stands (a deactivated one is not proposed again)."""
        if invitation is None or invitation.used_at is None:
            return None
        trust = self.trusts.find(invitation.trust_id)
        if trust is None or trust.role != "trusted" or trust.status == "deactivated":
            return None
        return trust if trust.agreement.get("document") == document else None

    def _check_known(self, party: dict[str, str], key: VerifyKey) -> None:
        """Refuse a proposer that claims an account this account already knows otherwise
        (``_known_otherwise``). Account ids are only names; what binds a trust to an
        account is the node and the keys pinned from it, and calls are checked against
        both (``authenticate_trust_call``)."""
        conflict = self._known_otherwise(KeyRef.parse(party["keyid"]), key, party["node"])
        if conflict is not None:
            raise FederationRefused(conflict, reason="agreement_mismatch")

    def _known_otherwise(self, ref: KeyRef, key: VerifyKey, node: str) -> str | None:
        """Why ``ref`` (``key``, at ``node``) contradicts the keys pinned here, if it does:
        its account is known at another node, or the key id is pinned to another key."""
        for pinned in self.keyring.store.of_peer(ref.account):
            if pinned.peer_node != node:
                return f"account {ref.account} is known here at another node"
            if pinned.key_id == ref.key_id and pinned.public_key != key.to_b64url():
                return f"{ref} is already pinned to another key"
        return None

    # --- step 3: the trusted side accepts ------------------------------------------------

    def accept(self, trust_id: str) -> Trust:
        """Countersign a proposal: pinned and active here first, then sent, then audited (see
        the module docstring). ``TrustConflict`` if the proposer's account has since
        become known here otherwise (another proposal claiming it, accepted meanwhile);
        ``ProposalWithdrawn`` if the proposal ended before (here, or by the proposer's
        record, whose notice may have been lost); ``ProposalStale`` if either side's key
        named in it was replaced after a suspected compromise.

        Countersigned with this account's current key. If that is not the key the
        proposal names (a routine rotation since), the proposer is sent the rotation's
        notices first, as the rotation would have sent them had the trust been active:
        it then takes the new key for the named one. The proposer's answer carries its
        own notices, if it rotated since it proposed, and ours takes them likewise.

        The status is checked again, under the trust's row lock, as the accept is
        written (``TrustStore.locked``): a deactivation committed since the first check
        is final, and the accept is refused (on SQLite, where the write follows the
        call, after the peer took the countersignature: see the module docstring)."""
        trust = _awaiting_acceptance(self.trusts.get(trust_id))
        own = self.keys.current()
        vouching = self.notices_since(trust.agreement["document"]["trusted"]["keyid"])
        countersigned = countersign(trust.agreement, own.signing, str(own.ref), AGREEMENT)
        trusting = countersigned["document"]["trusting"]
        ref, key = KeyRef.parse(trusting["keyid"]), party_key(trusting)
        before, answers = summary(trust), []
        peer = f"{trust.peer_node}/federation/v1/{trust.peer_account}"

        def write() -> Trust:
            locked = _awaiting_acceptance(self.trusts.locked(trust_id))  # `trust`, reread
            self._pin(ref, key, locked.peer_node)
            locked.agreement, locked.status, locked.activated_at = (
                countersigned,
                "active",
                self.work.clock.now(),
            )
            self.work.session.flush()
            return locked

        def send() -> None:
            if vouching:
                self._send(f"{peer}/keys/rotation", {"notices": vouching}, own, trust.id)
            body = {"agreement": countersigned}
            answers.append(
                self._send(f"{peer}/trusts/{trust.id}/countersignature", body, own, trust.id)
            )

        try:
            accepted = self._write_and_send(
                write, lambda: self._check_pinnable(ref, key, trust.peer_node), send
            )
        except PeerDeclined as exc:
            raise _proposal_refused(exc) from exc
        self._take_rotations(trusting["keyid"], answers[0])
        self.work.record("trust.accept", "trust", accepted.id, before, summary(accepted))
        return accepted

    # --- step 3, received by the trusting side ------------------------------------------

    def receive_countersignature(
        self, call: TrustCall, body: dict[str, Any]
    ) -> tuple[Trust, list[dict[str, Any]]]:
        """``call``: authenticated under the trust, by its peer (``authenticate_trust_call``
        without the status check: the trust is still a proposal here). The countersigned
        agreement of a trust already active here is a repeat (the peer lost our answer):
        answered as before, once its signatures verify, and nothing changes.

        The countersignature may be by a newer key of the peer than the agreement names,
        if the peer sent us that rotation's notices (``verify_countersigned``). Returned
        with the trust: our own rotation notices since the key our proposal names, for
        the peer to take in turn (``notices_since``; ``ProposalStale`` if that key was
        revoked since). ``ProposalWithdrawn`` if the proposal was withdrawn here.

        The trust is read again under its row lock (``TrustStore.locked``), held until
        the commit: a withdrawal here either committed before, and the countersignature
        is refused, or waits, and then ends the trust this made active."""
        signed = signed_agreement(body)
        trust = self.trusts.locked(call.trust.id)
        if trust.role == "trusting" and trust.status == "deactivated" and not trust.activated_at:
            raise ProposalWithdrawn(f"trust {trust.id} was withdrawn before it was accepted")
        if trust.role != "trusting" or trust.status not in ("proposed", "active"):
            raise TrustConflict(f"trust {trust.id} is not awaiting a countersignature")
        if signed["document"] != trust.agreement["document"]:
            raise FederationRefused(
                "the countersigned agreement differs from the proposal", reason="agreement_mismatch"
            )

        named = signed["document"]["trusted"]["keyid"]
        verify_countersigned(signed, lambda keyid: self._successor(named, keyid, trust.peer_node))
        notices = self.notices_since(signed["document"]["trusting"]["keyid"])
        if trust.status == "active":
            return trust, notices
        before = summary(trust)
        trust.agreement, trust.status, trust.activated_at = signed, "active", self.work.clock.now()
        self.work.session.flush()
        self.work.record("trust.activated", "trust", trust.id, before, summary(trust))
        return trust, notices

    # --- keys rotated while a proposal waited --------------------------------------------

    def notices_since(self, keyid: str) -> list[dict[str, Any]]:
        """This account's rotation notices from its key ``keyid`` to its current key
        (``AccountKeys.notices_since``): a peer that pinned ``keyid`` with a proposal
        was sent none. ``ProposalStale`` if a key of the chain was revoked (a compromise
        rotation, whose new key its admins confirm out of band, never by notice) or
        ``keyid`` is not this account's."""
        ref = KeyRef.parse(keyid)
        try:
            if ref.account != self.account:
                raise LookupError(keyid)
            return self.keys.notices_since(ref.key_id)
        except KeyChainRevoked as exc:
            raise ProposalStale(
                f"account {self.account} replaced the key the proposal names after a suspected "
                "compromise: the proposal no longer holds; propose again with a new invitation"
            ) from exc
        except LookupError as exc:
            raise ProposalStale(
                f"{keyid} is not a key of account {self.account}: propose again"
            ) from exc

    def _successor(self, named: str, keyid: str, node: str) -> VerifyKey | None:
        """``keyid``'s key if the keyring holds it, valid now, from ``node``, pinned since
        the key ``named`` was rotated out (by the notices that retired it), so that it
        descends from ``named``: not an older key of the account pinned for another trust."""
        try:
            old, new = self.keyring.store.by_ref(KeyRef.parse(named)), KeyRef.parse(keyid)
        except ValueError:
            return None
        row, key = self.keyring.store.by_ref(new), self.keyring.resolve(keyid)
        if old is None or old.valid_until is None or row is None or key is None:
            return None
        return key if row.peer_node == node and row.valid_from >= old.valid_until else None

    def _take_rotations(self, keyid: str, answer: Any) -> None:
        """Take the rotation notices the proposer answered with, from ``keyid`` (the key
        the agreement names, pinned now) to its current key (``Keyring.accept_chain``).
        The trust is active on both sides by now: a notice that does not check is
        logged and left, and the proposer's calls with that key are refused until it
        rotates again."""
        notices = answer.get("notices") if isinstance(answer, dict) else None
        chain = notices[:MAX_CHAIN] if isinstance(notices, list) else []
        for accepted in self.keyring.accept_chain(keyid, chain):
            if accepted.fresh:
                after = {"peer": accepted.pinned.peer_account}
                self.work.record("key.peer_rotated", "pinned_key", accepted.ref, after=after)

    def _write_and_send(
        self, write: Callable[[], Trust], check: Callable[[], None], send: Callable[[], None]
    ) -> Trust:
        """A handshake step: this side's ``write``, then ``send`` to the peer (the caller
        audits the step after: see the module docstring).

        On PostgreSQL the write is made and flushed first, so anything this account's
        records refuse surfaces before the peer hears of the step, and a failed ``send``
        leaves only a write for the boundary to roll back. SQLite has one write lock for
        the whole file, held from the first write to the commit: a peer on this same
        node (an MSP hosting a customer) could not take its side of the step while we
        hold it, and the step would time out. There the refusals are ``check``ed first,
        by reading, then the step is sent, then written (a write racing ours in between
        is the one way left to fail after the peer's success)."""
        if self.work.session.get_bind().dialect.name == "sqlite":
            check()
            send()
            return write()
        done = write()
        self.work.session.flush()  # all of it, before the peer hears of anything
        send()
        return done

    def _send(self, url: str, body: dict[str, Any], own: OwnKey, trust_id: str) -> Any:
        """One handshake step to the peer, sent once more (signed anew, so no replay) if
        no answer came: the peer may have taken the step and lost its answer, and it
        answers a repeat of a step it took as it answered the step. A refusal is final."""
        for attempt in (1, 2):
            try:
                return self.peers.post_signed(
                    url,
                    body,
                    own,
                    now=int(self.work.clock.now().timestamp()),
                    trust_id=trust_id,
                    actor=self.work.actor.person_id,
                )
            except PeerUnavailable:
                if attempt == 2:
                    raise
        return None

    # --- deactivation ------------------------------------------------------------------

    def _check_pinnable(self, ref: KeyRef, key: VerifyKey, node: str) -> None:
        """``TrustConflict`` if pinning ``key`` as ``ref`` at ``node`` contradicts what is
        pinned (``_known_otherwise``): a trust whose calls the keyring would then refuse
        or misattribute must not be made."""
        conflict = self._known_otherwise(ref, key, node)
        if conflict is not None:
            raise TrustConflict(conflict)

    def _pin(self, ref: KeyRef, key: VerifyKey, node: str) -> None:
        """Pin the peer's key for a trust with it at ``node`` (``_check_pinnable``)."""
        self._check_pinnable(ref, key, node)
        try:
            self.keyring.pin(ref, key, node, "handshake")
        except SignatureError as exc:
            raise TrustConflict(exc.detail) from exc

    def require_active(self, trust_id: str) -> Trust:
        trust = self.trusts.get(trust_id)
        if trust.status != "active":
            raise TrustInactive(f"trust {trust_id} is {trust.status}")
        return trust

    def _store(
        self, trust_id: str, role: str, peer_account: str, peer_node: str, signed: dict[str, Any]
    ) -> Trust:
        if self.trusts.find(trust_id) is not None:
            raise TrustConflict(f"trust {trust_id} already exists")
        trust = Trust(
            id=trust_id,
            role=role,
            peer_account=peer_account,
            peer_node=peer_node,
            status="proposed",
            agreement=signed,
            created_at=self.work.clock.now(),
            activated_at=None,
            deactivated_at=None,
            deactivated_by=None,
        )
        return self.trusts.add(trust)


def _awaiting_acceptance(trust: Trust) -> Trust:
    """``trust`` if it is a proposal this account received and may accept; else
    ``ProposalWithdrawn`` if it ended before it was accepted, ``TrustConflict`` if not."""
    if trust.role == "trusted" and trust.status == "deactivated" and not trust.activated_at:
        raise ProposalWithdrawn(f"trust {trust.id} ended before it was accepted")
    if trust.role != "trusted" or trust.status != "proposed":
        raise TrustConflict(f"trust {trust.id} is not a proposal awaiting this account")
    return trust


def _proposal_refused(exc: PeerDeclined) -> Exception:
    """The peer's refusal of a countersignature in this node's words, if its stable code
    says the proposal no longer holds there; else the refusal as it is."""
    code = exc.extensions.get("peer_code")
    if code == ProposalWithdrawn.code:
        return ProposalWithdrawn("the proposer withdrew this proposal before it was accepted")
    if code == ProposalStale.code:
        return ProposalStale(
            "the proposer replaced the key its proposal names after a suspected compromise: "
            "the proposal no longer holds; it must propose again with a new invitation"
        )
    return exc


def summary(trust: Trust) -> dict[str, Any]:
    return {"role": trust.role, "peer_account": trust.peer_account, "status": trust.status}
