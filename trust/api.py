"""Thin HTTP endpoints of the trust layer: the node descriptor, trusts, /federation/v1."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, request
from flask.views import MethodView

from account_node.audit.service import Actor, AuditLog
from account_node.context import Work
from account_node.db import db
from account_node.http import (
    NodeBlueprint,
    PageArgs,
    commit_now,
    json_response,
    node,
    page_body,
    work,
)
from account_node.identity.accounts import Accounts
from account_node.tenancy import AccountScope
from account_node.unit_of_work import rollback_keeping
from trust import schemas, witness
from trust.calls import TrustCall, authenticate_trust_call
from trust.client import PeerClient, shared_client
from trust.deliveries import Deliveries, delivery
from trust.descriptor import build_descriptor
from trust.ending import Deactivations
from trust.errors import FederationForbidden, FederationRefused
from trust.guard import OutboundPolicy
from trust.handshake import Handshake
from trust.inbox import incoming_parts
from trust.key_status import peer_key_states
from trust.keystore import key_listing
from trust.reconfirm import confirm_peer_key
from trust.refusals import UNAUTHENTICATED
from trust.rotation import receive_rotation, rotate

log = logging.getLogger(__name__)
well_known = Blueprint("well_known", __name__)
trusts_api = NodeBlueprint("trusts", __name__, url_prefix="/api/v1/trusts", description="Trusts")
federation = Blueprint("federation", __name__, url_prefix="/federation/v1")
keys_api = NodeBlueprint("keys", __name__, url_prefix="/api/v1/keys", description="Account keys")
outbox_api = NodeBlueprint(
    "outbox", __name__, url_prefix="/api/v1/outbox", description="Deliveries to peers"
)
READERS = ("admin", "auditor")


def _accounts() -> Accounts:
    services = node()
    return Accounts(
        db.session(), services.clock, services.jobs, services.settings, services.passwords
    )


def peer_client() -> PeerClient:
    """The node's one peer client: its connection pool is shared by every request."""
    settings = node().settings
    return shared_client(
        current_app.extensions,
        OutboundPolicy(settings.federation_allow_http, settings.federation_allow_private),
        settings.federation_timeout_seconds,
    )


def handshake_for(current: Work) -> Handshake:
    """This account's side of its trusts, wired to this node's URL, secret and peers."""
    return Handshake(
        current,
        node().settings.public_url.rstrip("/"),
        current_app.config["SECRET_KEY"],
        peer_client(),
    )


_handshake = handshake_for


@well_known.get("/.well-known/trustdesk-node")
def descriptor() -> Any:
    """Public: the node, its accounts and their keys, signed by those accounts."""
    services = node()
    accounts = [a for a in _accounts().all() if a.active]
    signed = build_descriptor(
        db.session(),
        services.clock,
        services.settings.public_url,
        current_app.config["SECRET_KEY"],
        accounts,
    )
    response = json_response(signed)
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


# --- the admin's side -----------------------------------------------------------------


@trusts_api.route("")
class TrustList(MethodView):
    @trusts_api.arguments(PageArgs, location="query")
    @trusts_api.response(200, schemas.TrustPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        page = _handshake(work(*READERS)).trusts.page(args.get("cursor"), args["limit"])
        return page_body(page.items, page.next_cursor)

    @trusts_api.arguments(schemas.ProposalIn)
    @trusts_api.response(201, schemas.TrustOut)
    def post(self, invitation: dict[str, Any]) -> Any:
        """Propose a trust to the account that invited us (we become the trusting side)."""
        return _handshake(work("admin")).propose(invitation)


@trusts_api.route("/invitations")
class TrustInvitations(MethodView):
    @trusts_api.response(201, schemas.InvitationOut)
    def post(self) -> dict[str, Any]:
        """Invite a customer to trust this account; hand the answer over out of band."""
        return _handshake(work("admin")).invite()


@trusts_api.route("/<trust_id>")
class TrustItem(MethodView):
    @trusts_api.response(200, schemas.TrustOut)
    def get(self, trust_id: str) -> Any:
        return _handshake(work(*READERS)).trusts.get(trust_id)


@trusts_api.route("/<trust_id>/accept")
class TrustAccept(MethodView):
    @trusts_api.response(200, schemas.TrustOut)
    def post(self, trust_id: str) -> Any:
        """Countersign a proposal; the trust becomes active on both nodes."""
        return _handshake(work("admin")).accept(trust_id)


@trusts_api.route("/<trust_id>/peer-key")
class TrustPeerKey(MethodView):
    @trusts_api.arguments(schemas.PeerKeyIn)
    @trusts_api.response(200, schemas.PeerKeyOut)
    def post(self, args: dict[str, Any], trust_id: str) -> Any:
        """Confirm the peer's new key after its compromise, by the fingerprint its admin
        handed over out of band: pinned, and every other key of the peer revoked."""
        return confirm_peer_key(_handshake(work("admin")), trust_id, args["fingerprint"])


@trusts_api.route("/<trust_id>/deactivate")
class TrustDeactivate(MethodView):
    @trusts_api.response(200, schemas.TrustOut)
    def post(self, trust_id: str) -> Any:
        """End the trust, finally, at once; the peer is told."""
        return Deactivations(_handshake(work("admin"))).deactivate(trust_id, commit_now)


# --- the peer's side (/federation/v1) ---------------------------------------------------


def peer_work(account_id: str, actor_id: str, peer: str, actor_name: str | None = None) -> Work:
    """Work done for a peer's person; only committed if the call authenticates."""
    services = node()
    _accounts().require(account_id)
    name = (actor_name or "").strip()[:120] or f"person {actor_id} of {peer}"
    actor = Actor(actor_id or "unknown", peer, name, vouched_by=peer)
    return Work(
        db.session(),
        AccountScope(account_id),
        actor,
        services.clock,
        services.jobs,
        services.settings,
    )


def trust_call(
    account_id: str, trust_id: str, role: str | None = None, *, active: bool = True
) -> tuple[Work, TrustCall]:
    """Authenticate a call under a trust and return the work it may do, done by the
    peer's person (``TrustDesk-Actor``, named in the body's ``actor_name``) and vouched for
    by the peer account. Raises ``FederationRefused`` (the caller audits it)."""
    body = request.get_json(silent=True) if request.content_length else None
    name = body.get("actor_name") if isinstance(body, dict) else None
    current = peer_work(account_id, "", "peer")
    call = authenticate_trust_call(current, incoming(), trust_id, role=role, active=active)
    peer = call.peer_account
    actor_id = call.actor_id or f"node:{peer}"
    shown = (name if isinstance(name, str) and name.strip() else actor_id)[:100]
    current.actor = Actor(actor_id, peer, f"{shown} ({peer})", vouched_by=peer)
    return current, call


def incoming() -> Any:
    """The call as signed: the target URI rebuilt from the raw request line."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    return incoming_parts(
        node().settings.public_url, request.method, raw, request.headers, request.get_data()
    )


def refused(account_id: str, error: FederationRefused) -> Any:
    """Record the refusal in its own transaction (the call's own work rolls back); one
    made before authentication only as ``UNAUTHENTICATED`` admits (see trust.refusals).
    A nonce the call's verified signature carried stays seen (``rollback_keeping``)."""
    rollback_keeping(db.session)
    services = node()
    reason = error.extensions.get("reason", error.code)
    log.warning("refused federation call %s %s: %s", request.method, request.path, reason)
    after: dict[str, Any] = {"reason": reason}
    if not isinstance(error, FederationForbidden):
        unrecorded = UNAUTHENTICATED.admit(account_id, reason)
        if unrecorded is None:
            raise error
        if unrecorded:
            after["unrecorded_before"] = unrecorded
    actor = Actor(
        "node:federation-inbox", account_id, f"federation inbox of {services.settings.node_name}"
    )
    AuditLog(db.session(), AccountScope(account_id), services.clock).record(
        actor, "federation.refused", "call", request.path[:64], after=after
    )
    db.session.commit()
    raise error


def _member(value: Any, name: str) -> dict[str, Any]:
    """``value[name]`` if both are JSON objects, else an empty one: for naming who sent a
    body before it is checked (the check refuses what is malformed, with its code)."""
    found = value.get(name) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@keys_api.route("")
class KeyList(MethodView):
    @keys_api.response(200, schemas.KeyOut(many=True))
    def get(self) -> Any:
        """This account's signing keys: current and previous (never the private part)."""
        handshake = _handshake(work(*READERS))
        handshake.keys.current()
        return [key_listing(row) for row in handshake.keys.listed()]


@outbox_api.route("")
class OutboxList(MethodView):
    @outbox_api.arguments(schemas.OutboxArgs, location="query")
    @outbox_api.response(200, schemas.DeliveryPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """What this account's outbox holds, oldest first: signed calls to peers that must
        arrive (event notices, key notices, ...), each ``pending``, ``waiting_for_key``
        (the peer refused this account's key: its admin must confirm it), ``delivered``
        or ``abandoned``, with attempts, next attempt and the last failure."""
        current = work(*READERS)
        page = Deliveries(current.session, current.scope).listing(
            args.get("cursor"), args["limit"], state=args.get("state"), peer=args.get("peer")
        )
        return page_body([delivery(m) for m in page.items], page.next_cursor)


@keys_api.route("/peers")
class KeyPeers(MethodView):
    @keys_api.response(200, schemas.PeerKeyStatusOut(many=True))
    def get(self) -> Any:
        """Whether each peer of an active trust holds this account's current key, as the
        peer's answers to calls the key signed tell (nothing is asked of the peer):
        ``holds``, ``announcing`` (its notice is on the way), or, when the peer's admin
        must confirm the fingerprint out of band, ``refused`` or ``unconfirmed``."""
        current = work(*READERS)
        return [s.as_dict() for s in peer_key_states(current.session, current.scope)]


@keys_api.route("/rotate")
class KeyRotate(MethodView):
    @keys_api.arguments(schemas.RotationIn)
    @keys_api.response(200, schemas.RotationOut)
    def post(self, args: dict[str, Any]) -> Any:
        """Rotate this account's key and announce it to every peer of an active trust:
        now if the peer answers, else through the outbox, ahead of anything else to it.
        With ``compromised``: revoke the key, announce nothing, and hand the new
        fingerprint to each peer's admin (``confirm_with``) out of band to confirm."""
        return rotate(_handshake(work("admin")), commit_now, compromised=args["compromised"])


@federation.post("/<account_id>/keys/rotation")
def receive_key_rotation(account_id: str) -> Any:
    current = peer_work(account_id, request.headers.get("TrustDesk-Actor", ""), "peer")
    try:
        new = receive_rotation(_handshake(current), incoming(), json_body())
    except FederationRefused as error:
        return refused(account_id, error)
    return json_response({"pinned": new}, 202)


@federation.post("/<account_id>/trusts/proposals")
def receive_proposal(account_id: str) -> Any:
    body = json_body()
    proposer = _member(_member(_member(body, "agreement"), "document"), "trusting")
    current = peer_work(
        account_id, request.headers.get("TrustDesk-Actor", ""), str(proposer.get("account"))
    )
    try:
        trust = _handshake(current).receive_proposal(incoming(), body)
    except FederationRefused as error:
        return refused(account_id, error)
    return json_response({"trust": trust.id, "status": trust.status}, 202)


@federation.post("/<account_id>/trusts/<trust_id>/countersignature")
def receive_countersignature(account_id: str, trust_id: str) -> Any:
    """The peer accepted our proposal; answered with our rotation notices since it (if any)."""
    try:
        current, call = trust_call(account_id, trust_id, role="trusting", active=False)
        trust, notices = _handshake(current).receive_countersignature(call, json_body())
    except FederationRefused as error:
        return refused(account_id, error)
    return json_response({"trust": trust.id, "status": trust.status, "notices": notices}, 200)


@federation.post("/<account_id>/trusts/<trust_id>/deactivation")
def receive_deactivation(account_id: str, trust_id: str) -> Any:
    """The peer ended the trust, or withdrew (or declined) a proposal not yet accepted."""
    try:
        current, call = deactivation_call(account_id, trust_id)
        trust = Deactivations(_handshake(current)).receive(call)
    except FederationRefused as error:
        return refused(account_id, error)
    return json_response({"trust": trust.id, "status": trust.status}, 202)


def deactivation_call(account_id: str, trust_id: str) -> tuple[Work, TrustCall]:
    """``trust_call`` for a deactivation notice, whatever the trust's status; for a
    proposal this account has not accepted, checked against the key the proposal names
    (``Deactivations.authenticate_proposer``): the proposer's key is not pinned here yet."""
    current = peer_work(account_id, "", "peer")
    ends = Deactivations(_handshake(current))
    proposal = ends.awaiting_acceptance(trust_id)
    if proposal is None:
        return trust_call(account_id, trust_id, active=False)
    call = TrustCall(proposal, ends.authenticate_proposer(incoming(), proposal))
    peer, actor_id = call.peer_account, call.actor_id or f"node:{call.peer_account}"
    current.actor = Actor(actor_id, peer, f"{actor_id[:100]} ({peer})", vouched_by=peer)
    return current, call


# --- witnessed audit heads (DESIGN section 6) --------------------------------------------


@trusts_api.route("/<trust_id>/audit-heads")
class TrustAuditHeads(MethodView):
    @trusts_api.response(200, schemas.WitnessedHeadOut(many=True))
    def get(self, trust_id: str) -> Any:
        """The peer's audit chain heads this account witnessed, newest first, each with
        what did not add up (``conflict``) if anything."""
        current = work(*READERS)
        trust = _handshake(current).trusts.get(trust_id)
        return witness.WitnessStore(current.session, current.scope).of_peer(trust.peer_account)


@federation.post("/<account_id>/trusts/<trust_id>/audit-heads")
def receive_audit_head(account_id: str, trust_id: str) -> Any:
    """A peer's signed chain head: kept (202), with a conflict if it does not add up."""
    try:
        current, call = trust_call(account_id, trust_id)
        _, fresh = witness.receive_head(current, call, json_body())
    except FederationRefused as error:
        return refused(account_id, error)
    return json_response({"accepted": True, "duplicate": not fresh}, 202)
