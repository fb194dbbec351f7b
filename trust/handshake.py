"""The trust handshake: invitation, signed proposal, countersignature; and deactivation.

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

Deactivation is final and takes effect on the deactivating side at once; the peer is
told, and every later call under the trust is refused by each side's own record even if
that notice is lost.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from account_node.context import Work
from account_node.identity.models import Account
from account_node.tenancy import ScopedStore
from trust.client import PeerClient
from trust.crypto.documents import countersign, sign_document, verify_document
from trust.crypto.errors import SignatureError
from trust.crypto.httpsig import HttpRequestParts
from trust.crypto.keys import KeyRef, VerifyKey
from trust.descriptor import invited_peer, is_node_url
from trust.errors import (
    FederationRefused,
    PeerUnavailable,
    TrustConflict,
    TrustInactive,
    TrustNotFound,
)
from trust.inbox import authenticate
from trust.keyring import Keyring
from trust.keystore import AccountKeys, OwnKey
from trust.models import Invitation, Trust
from trust.signals import trust_deactivated

if TYPE_CHECKING:
    from trust.calls import TrustCall

AGREEMENT = "trust-agreement"
SCOPES = ["requests:read", "requests:act", "events:send"]
INVITATION_DAYS = 7


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class TrustStore(ScopedStore[Trust]):
    model = Trust
    not_found = TrustNotFound


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
        descriptor = self.peers.get_json(
            f"{invitation['node_url'].rstrip('/')}/.well-known/trustdesk-node"
        )
        peer = invited_peer(
            descriptor, invitation["node_url"], peer_account, invitation["fingerprint"]
        )
        own = self.keys.current()
        own_name = self.work.session.get(Account, self.account)
        now = self.work.clock.now()
        agreement: dict[str, Any] = {
            "id": f"trust-{secrets.token_hex(8)}",
            "revision": 1,
            "trusting": _party(
                self.account,
                own_name.name if own_name else self.account,
                self.node_url,
                own.ref,
                own.signing.verify_key,
            ),
            "trusted": _party(peer_account, peer.name, peer.node, peer.ref, peer.key),
            "scopes": SCOPES,
            "start": now.isoformat(),
            "end": None,
            "proposed_by": {"id": self.work.actor.person_id, "name": self.work.actor.name},
        }
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
        self.work.record("trust.propose", "trust", trust.id, after=_summary(trust))
        return trust

    # --- step 2, received by the trusted side -------------------------------------------

    def receive_proposal(self, parts: HttpRequestParts, body: dict[str, Any]) -> Trust:
        """Keep a proposal made with one of this account's invitation codes. A proposal
        made again (its answer lost) is answered with the trust it made, once it passes
        every check the first passed, signature and nonce included; any other use of a
        used code is refused."""
        signed, code = _signed(body), body.get("code")
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
        agreement = signed["document"]
        trusting = agreement.get("trusting")
        self._check_names_this_account(agreement.get("trusted"))
        their_key = _party_key(trusting)
        trust_id = agreement.get("id")
        if not isinstance(trust_id, str) or not TRUST_ID.fullmatch(trust_id):
            raise FederationRefused("the agreement has no valid id", reason="agreement_invalid")
        if trusting["account"] == self.account:
            raise FederationRefused("an account cannot trust itself", reason="agreement_invalid")
        _verify(signed, {trusting["keyid"]: their_key})
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
        self.work.record("trust.proposal_received", "trust", trust.id, after=_summary(trust))
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

    def _check_names_this_account(self, trusted: Any) -> None:
        """The agreement's trusted side must be this account with its current key: the
        key itself, not only its id, since this account is to countersign the document
        and both sides keep it as the terms of the trust."""
        own = self.keys.current()
        if (
            not isinstance(trusted, dict)
            or trusted.get("account") != self.account
            or trusted.get("keyid") != str(own.ref)
            or trusted.get("public_key") != own.signing.verify_key.to_b64url()
        ):
            raise FederationRefused(
                "the agreement does not name this account's key", reason="agreement_mismatch"
            )
        _party_key(trusted)  # and is well formed throughout (its fingerprint, its node)

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
        become known here otherwise (another proposal claiming it, accepted meanwhile)."""
        trust = self.trusts.get(trust_id)
        if trust.role != "trusted" or trust.status != "proposed":
            raise TrustConflict(f"trust {trust_id} is not a proposal awaiting this account")
        own = self.keys.current()
        countersigned = countersign(trust.agreement, own.signing, str(own.ref), AGREEMENT)
        trusting = countersigned["document"]["trusting"]
        ref, key = KeyRef.parse(trusting["keyid"]), _party_key(trusting)
        before = _summary(trust)

        def write() -> Trust:
            self._pin(ref, key, trust.peer_node)
            trust.agreement, trust.status, trust.activated_at = (
                countersigned,
                "active",
                self.work.clock.now(),
            )
            self.work.session.flush()
            return trust

        self._write_and_send(
            write,
            lambda: self._check_pinnable(ref, key, trust.peer_node),
            lambda: self._send(
                f"{trust.peer_node}/federation/v1/{trust.peer_account}/trusts/{trust.id}/countersignature",
                {"agreement": countersigned},
                own,
                trust.id,
            ),
        )
        self.work.record("trust.accept", "trust", trust.id, before, _summary(trust))
        return trust

    # --- step 3, received by the trusting side ------------------------------------------

    def receive_countersignature(self, call: TrustCall, body: dict[str, Any]) -> Trust:
        """``call``: authenticated under the trust, by its peer (``authenticate_trust_call``
        without the status check: the trust is still a proposal here). The countersigned
        agreement of a trust already active here is a repeat (the peer lost our answer):
        answered as before, once its signatures verify, and nothing changes."""
        trust = call.trust
        signed = _signed(body)
        if trust.role != "trusting" or trust.status not in ("proposed", "active"):
            raise TrustConflict(f"trust {trust.id} is not awaiting a countersignature")
        if signed["document"] != trust.agreement["document"]:
            raise FederationRefused(
                "the countersigned agreement differs from the proposal", reason="agreement_mismatch"
            )
        parties = signed["document"]
        _verify(
            signed, {p["keyid"]: _party_key(p) for p in (parties["trusting"], parties["trusted"])}
        )
        if trust.status == "active":
            return trust
        before = _summary(trust)
        trust.agreement, trust.status, trust.activated_at = signed, "active", self.work.clock.now()
        self.work.session.flush()
        self.work.record("trust.activated", "trust", trust.id, before, _summary(trust))
        return trust

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

    def _send(self, url: str, body: dict[str, Any], own: OwnKey, trust_id: str) -> None:
        """One handshake step to the peer, sent once more (signed anew, so no replay) if
        no answer came: the peer may have taken the step and lost its answer, and it
        answers a repeat of a step it took as it answered the step. A refusal is final."""
        for attempt in (1, 2):
            try:
                self.peers.post_signed(
                    url,
                    body,
                    own,
                    now=int(self.work.clock.now().timestamp()),
                    trust_id=trust_id,
                    actor=self.work.actor.person_id,
                )
                return
            except PeerUnavailable:
                if attempt == 2:
                    raise

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

    def deactivate(self, trust_id: str, commit: Callable[[], None]) -> Trust:
        """End the trust here, make that durable (``commit``), then tell the peer.

        In that order: the end takes effect at once whatever the peer does (each side
        refuses calls under it by its own record), and recording it locks the account's
        audit chain until the commit, so a slow peer told before the commit would hold
        up every other write of the account. A notice the peer did not take is audited
        (``trust.notice_undelivered``); the peer's calls are refused all the same."""
        trust = self.trusts.get(trust_id)
        if trust.status == "deactivated":
            return trust
        self._deactivate(trust, f"{self.account} ({self.work.actor.name})")
        commit()
        own = self.keys.current()
        try:
            self.peers.post_signed(
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

    def receive_deactivation(self, call: TrustCall) -> Trust:
        """``call``: authenticated under the trust, by its peer, whatever the trust's
        status (``authenticate_trust_call``): only the peer may end it from its side."""
        trust = call.trust
        if trust.status != "deactivated":
            self._deactivate(trust, f"{trust.peer_account} (peer notice)")
        return trust

    def require_active(self, trust_id: str) -> Trust:
        trust = self.trusts.get(trust_id)
        if trust.status != "active":
            raise TrustInactive(f"trust {trust_id} is {trust.status}")
        return trust

    def _deactivate(self, trust: Trust, by: str) -> None:
        before = _summary(trust)
        trust.status, trust.deactivated_at, trust.deactivated_by = (
            "deactivated",
            self.work.clock.now(),
            by,
        )
        self.work.session.flush()
        self.work.record("trust.deactivate", "trust", trust.id, before, _summary(trust))
        trust_deactivated.send(trust, work=self.work)

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


def _party(account: str, name: str, node: str, ref: KeyRef, key: VerifyKey) -> dict[str, str]:
    """One side of an agreement; ``name`` is for people (inbox, trust pages), never for
    checks, which go by account id and key."""
    return {
        "account": account,
        "name": name[:200],
        "node": node,
        "keyid": str(ref),
        "public_key": key.to_b64url(),
        "fingerprint": key.fingerprint,
    }


# What each side of an agreement must name, as text (``name`` is for people only).
PARTY_FIELDS = ("account", "node", "keyid", "public_key", "fingerprint")
# Fits trusts.id (40) and trust_invitations.trust_id (32); ours are trust-<16 hex>.
TRUST_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")
NODE_URL_MAX = 300  # trusts.peer_node, pinned_keys.peer_node


def _party_key(party: Any) -> VerifyKey:
    """The key one side of an agreement names, checked: well formed, matching its
    fingerprint, and a key of that very side's account (``<account>#<key id>``). Without
    that check a proposer could have its own key pinned under another account's id and
    then sign calls as that account. The side's node must be an http(s) base URL that
    fits where it is kept (else a proposal would fail as it is stored)."""
    if not isinstance(party, dict) or not all(isinstance(party.get(f), str) for f in PARTY_FIELDS):
        raise FederationRefused("a party of the agreement is malformed", reason="agreement_invalid")
    try:
        key = VerifyKey.from_b64url(party["public_key"])
        ref = KeyRef.parse(party["keyid"])
    except (TypeError, ValueError) as exc:
        raise FederationRefused(
            "the agreement names no valid key", reason="agreement_invalid"
        ) from exc
    if ref.account != party["account"]:
        raise FederationRefused(
            "a party's key belongs to another account", reason="agreement_invalid"
        )
    if key.fingerprint != party["fingerprint"]:
        raise FederationRefused("a key does not match its fingerprint", reason="agreement_invalid")
    if len(party["node"]) > NODE_URL_MAX or not is_node_url(party["node"]):
        raise FederationRefused("a party's node is not a node URL", reason="agreement_invalid")
    return key


def _signed(body: dict[str, Any]) -> dict[str, Any]:
    signed = body.get("agreement")
    if not isinstance(signed, dict) or not isinstance(signed.get("document"), dict):
        raise FederationRefused("no signed agreement in the body", reason="agreement_invalid")
    return signed


def _verify(signed: Any, required: dict[str, VerifyKey]) -> None:
    try:
        verify_document(signed, AGREEMENT, required)
    except SignatureError as exc:
        raise FederationRefused(exc.detail, reason=exc.code) from exc


def _summary(trust: Trust) -> dict[str, Any]:
    return {"role": trust.role, "peer_account": trust.peer_account, "status": trust.status}
