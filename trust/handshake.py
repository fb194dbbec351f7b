"""The trust handshake: invitation, signed proposal, countersignature; and deactivation.

1. The trusted account's admin issues an invitation: this node's URL, the account, its
   key fingerprint and a one-time code, handed to the customer out of band.
2. The trusting account's admin proposes: the node fetches the trusted node's descriptor,
   accepts its key only if the fingerprint matches the invitation (no trust on first use),
   signs the agreement (RFC 8785 canonical JSON) and sends it with the code.
3. The trusted account's admin accepts: the node countersigns and sends the agreement
   back. Both sides store it with both signatures and pin each other's keys from it.

Deactivation is final and takes effect on the deactivating side at once; the peer is
told, and every later call under the trust is refused by each side's own record even if
that notice is lost.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from account_node.context import Work
from account_node.errors import ValidationFailed
from account_node.identity.models import Account
from account_node.tenancy import ScopedStore
from trust.client import PeerClient
from trust.crypto.documents import countersign, sign_document, verify_document
from trust.crypto.errors import SignatureError
from trust.crypto.httpsig import HttpRequestParts
from trust.crypto.keys import KeyRef, VerifyKey
from trust.descriptor import account_in_descriptor
from trust.errors import FederationRefused, TrustConflict, TrustInactive, TrustNotFound
from trust.inbox import authenticate
from trust.keyring import Keyring
from trust.keystore import AccountKeys
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
        peer_node, peer_account = invitation["node_url"].rstrip("/"), invitation["account"]
        peer_ref, peer_key, peer_name = self._peer_key_from_descriptor(
            peer_node, peer_account, invitation["fingerprint"]
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
            "trusted": _party(peer_account, peer_name, peer_node, peer_ref, peer_key),
            "scopes": SCOPES,
            "start": now.isoformat(),
            "end": None,
            "proposed_by": {"id": self.work.actor.person_id, "name": self.work.actor.name},
        }
        signed = sign_document(agreement, own.signing, str(own.ref), AGREEMENT)
        self.peers.post_signed(
            f"{peer_node}/federation/v1/{peer_account}/trusts/proposals",
            {"agreement": signed, "code": invitation["code"]},
            own,
            now=int(now.timestamp()),
            trust_id=agreement["id"],
            actor=self.work.actor.person_id,
        )
        self.keyring.pin(peer_ref, peer_key, peer_node, "handshake")
        trust = self._store(agreement["id"], "trusting", peer_account, peer_node, signed)
        self.work.record("trust.propose", "trust", trust.id, after=_summary(trust))
        return trust

    def _peer_key_from_descriptor(
        self, peer_node: str, peer_account: str, fingerprint: str
    ) -> tuple[KeyRef, VerifyKey, str]:
        """The peer's pinned-to-be key and its display name, from its signed descriptor."""
        descriptor = self.peers.get_json(f"{peer_node}/.well-known/trustdesk-node")
        keys = _listed_keys(descriptor, peer_account)
        match = [k for k in keys if k["status"] == "current" and k["fingerprint"] == fingerprint]
        if not match:
            raise ValidationFailed(
                "The peer's key does not match the invitation's fingerprint",
                errors={"fingerprint": ["no current key of that account has this fingerprint"]},
            )
        ref, key = (
            KeyRef(peer_account, match[0]["key_id"]),
            VerifyKey.from_b64url(match[0]["public_key"]),
        )
        try:
            entry = account_in_descriptor(descriptor, peer_account, str(ref), key)
        except SignatureError as exc:
            raise ValidationFailed(
                errors={"node_url": [f"the descriptor is not signed: {exc.code}"]}
            ) from exc
        name = entry.get("name")
        return ref, key, name if isinstance(name, str) and name.strip() else peer_account

    # --- step 2, received by the trusted side -------------------------------------------

    def receive_proposal(self, parts: HttpRequestParts, body: dict[str, Any]) -> Trust:
        signed, code = _signed(body), body.get("code")
        invitations = InvitationStore(self.work.session, self.work.scope)
        invitation = invitations.by_code(code) if isinstance(code, str) else None
        now = self.work.clock.now()
        if invitation is None or invitation.used_at is not None or invitation.expires_at <= now:
            raise FederationRefused(
                "the invitation code is unknown, used or expired", reason="invitation_invalid"
            )
        agreement = signed["document"]
        trusting, trusted = agreement.get("trusting"), agreement.get("trusted")
        own = self.keys.current()
        if (
            not isinstance(trusted, dict)
            or trusted.get("account") != self.account
            or trusted.get("keyid") != str(own.ref)
        ):
            raise FederationRefused(
                "the agreement does not name this account's key", reason="agreement_mismatch"
            )
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
        invitation.used_at = now
        trust = self._store(trust_id, "trusted", trusting["account"], trusting["node"], signed)
        invitation.trust_id = trust.id
        self.work.record("trust.proposal_received", "trust", trust.id, after=_summary(trust))
        return trust

    def _check_known(self, party: dict[str, str], key: VerifyKey) -> None:
        """Refuse a proposer that claims an account this account already knows otherwise:
        at another node, or with another key under the same key id. Account ids are only
        names; what binds a trust to an account is the node and the keys pinned from it,
        and calls are checked against both (``authenticate_trust_call``)."""
        ref = KeyRef.parse(party["keyid"])
        for pinned in self.keyring.store.of_peer(ref.account):
            if pinned.peer_node != party["node"]:
                raise FederationRefused(
                    f"account {ref.account} is known here at another node",
                    reason="agreement_mismatch",
                )
            if pinned.key_id == ref.key_id and pinned.public_key != key.to_b64url():
                raise FederationRefused(
                    f"{ref} is already pinned to another key", reason="agreement_mismatch"
                )

    # --- step 3: the trusted side accepts ------------------------------------------------

    def accept(self, trust_id: str) -> Trust:
        trust = self.trusts.get(trust_id)
        if trust.role != "trusted" or trust.status != "proposed":
            raise TrustConflict(f"trust {trust_id} is not a proposal awaiting this account")
        own = self.keys.current()
        countersigned = countersign(trust.agreement, own.signing, str(own.ref), AGREEMENT)
        trusting = countersigned["document"]["trusting"]
        self.peers.post_signed(
            f"{trust.peer_node}/federation/v1/{trust.peer_account}/trusts/{trust.id}/countersignature",
            {"agreement": countersigned},
            own,
            now=int(self.work.clock.now().timestamp()),
            trust_id=trust.id,
            actor=self.work.actor.person_id,
        )
        self._pin(trusting, trust.peer_node)
        before = _summary(trust)
        trust.agreement, trust.status, trust.activated_at = (
            countersigned,
            "active",
            self.work.clock.now(),
        )
        self.work.session.flush()
        self.work.record("trust.accept", "trust", trust.id, before, _summary(trust))
        return trust

    # --- step 3, received by the trusting side ------------------------------------------

    def receive_countersignature(self, call: TrustCall, body: dict[str, Any]) -> Trust:
        """``call``: authenticated under the trust, by its peer (``authenticate_trust_call``
        without the status check: the trust is still a proposal here)."""
        trust = call.trust
        signed = _signed(body)
        if trust.role != "trusting" or trust.status != "proposed":
            raise TrustConflict(f"trust {trust.id} is not awaiting a countersignature")
        if signed["document"] != trust.agreement["document"]:
            raise FederationRefused(
                "the countersigned agreement differs from the proposal", reason="agreement_mismatch"
            )
        parties = signed["document"]
        _verify(
            signed, {p["keyid"]: _party_key(p) for p in (parties["trusting"], parties["trusted"])}
        )
        before = _summary(trust)
        trust.agreement, trust.status, trust.activated_at = signed, "active", self.work.clock.now()
        self.work.session.flush()
        self.work.record("trust.activated", "trust", trust.id, before, _summary(trust))
        return trust

    # --- deactivation ------------------------------------------------------------------

    def _pin(self, party: dict[str, Any], node: str) -> None:
        try:
            self.keyring.pin(KeyRef.parse(party["keyid"]), _party_key(party), node, "handshake")
        except SignatureError as exc:
            raise TrustConflict(exc.detail) from exc

    def deactivate(self, trust_id: str) -> Trust:
        trust = self.trusts.get(trust_id)
        if trust.status == "deactivated":
            return trust
        self._deactivate(trust, f"{self.account} ({self.work.actor.name})")
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
TRUST_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")  # fits trusts.id; ours are trust-<16 hex>


def _party_key(party: Any) -> VerifyKey:
    """The key one side of an agreement names, checked: well formed, matching its
    fingerprint, and a key of that very side's account (``<account>#<key id>``). Without
    the last check a proposer could have its own key pinned under another account's id
    and then sign calls as that account."""
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


def _listed_keys(descriptor: Any, account: str) -> list[dict[str, Any]]:
    accounts = (
        descriptor.get("document", {}).get("accounts", []) if isinstance(descriptor, dict) else []
    )
    for entry in accounts:
        if (
            isinstance(entry, dict)
            and entry.get("id") == account
            and isinstance(entry.get("keys"), list)
        ):
            return [k for k in entry["keys"] if isinstance(k, dict)]
    raise ValidationFailed(errors={"account": ["the node does not host this account"]})


def _summary(trust: Trust) -> dict[str, Any]:
    return {"role": trust.role, "peer_account": trust.peer_account, "status": trust.status}
