"""HTTP edges of the visibility API.

- ``/federation/v1/<account>/trusts/<trust>/requests[...]``: the trusting node answers
  the trusted node's signed calls (checked in DESIGN section 5's order, then the
  offering); every refusal is audited with its own reason.
- ``/api/v1/trusts/<trust>/requests[...]``: the trusted node's people reach a trusting
  account's requests live through those calls.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask.views import MethodView
from marshmallow import ValidationError

from account_node.errors import ValidationFailed
from account_node.http import NodeBlueprint, json_response, work
from services.visibility import schemas
from services.visibility.remote import TrustedRequests
from services.visibility.service import SharedRequests
from trust.api import handshake_for, json_body, refused, trust_call
from trust.errors import FederationForbidden, FederationRefused

visibility_federation = Blueprint("visibility_federation", __name__, url_prefix="/federation/v1")
trust_requests_api = NodeBlueprint(
    "trust_requests",
    __name__,
    url_prefix="/api/v1/trusts/<trust_id>/requests",
    description="Requests of a trusting account, reached live through its trust",
)
STAFF = ("admin", "specialist", "auditor")
# Built once: a schema's construction binds every field, and the list is the hot path of
# every trusted node's inbox (a call per page per node). Loading keeps no state on it.
LIST_ARGS = schemas.ListArgs()
WORKERS = ("admin", "specialist")


# --- the trusting node answers ------------------------------------------------------------


def _shared(account_id: str, trust_id: str, acting: bool = False) -> SharedRequests:
    current, call = trust_call(account_id, trust_id, role="trusting")
    if acting and not call.actor_id:
        raise FederationForbidden("an action must name the acting person", reason="actor_missing")
    return SharedRequests(current, call.trust)


def _load(schema: Any, data: Any) -> dict[str, Any]:
    try:
        return dict(schema.load(data))
    except ValidationError as exc:
        raise ValidationFailed(errors=exc.messages_dict) from exc


@visibility_federation.get("/<account_id>/trusts/<trust_id>/requests")
def shared_list(account_id: str, trust_id: str) -> Any:
    try:
        shared = _shared(account_id, trust_id)
    except FederationRefused as error:
        return refused(account_id, error)
    args = _load(
        LIST_ARGS,
        {k: request.args.getlist(k) if k in ("offering", "status") else v
         for k, v in request.args.items()},
    )  # fmt: skip
    page = shared.page(
        offerings=args["offering"],
        statuses=tuple(args["status"]),
        sla_state=args.get("sla_state"),
        text=args.get("q"),
        sort=args["sort"],
        cursor=args.get("cursor"),
        limit=args["limit"],
    )
    return json_response(page)


@visibility_federation.get("/<account_id>/trusts/<trust_id>/requests/<request_id>")
def shared_detail(account_id: str, trust_id: str, request_id: str) -> Any:
    try:
        return json_response(_shared(account_id, trust_id).detail(request_id))
    except FederationRefused as error:
        return refused(account_id, error)


@visibility_federation.post("/<account_id>/trusts/<trust_id>/requests/<request_id>/notes")
def shared_note(account_id: str, trust_id: str, request_id: str) -> Any:
    try:
        shared = _shared(account_id, trust_id, acting=True)
        body = _load(schemas.NoteIn(), json_body())
        return json_response(shared.add_note(request_id, body["body"], body["public"]), 201)
    except FederationRefused as error:
        return refused(account_id, error)


@visibility_federation.post("/<account_id>/trusts/<trust_id>/requests/<request_id>/status")
def shared_status(account_id: str, trust_id: str, request_id: str) -> Any:
    try:
        shared = _shared(account_id, trust_id, acting=True)
        body = _load(schemas.StatusIn(), json_body())
        return json_response(shared.change_status(request_id, body["status"], body["reason"]))
    except FederationRefused as error:
        return refused(account_id, error)


# --- the trusted node's people reach them ----------------------------------------------


def _trusted(*roles: str) -> TrustedRequests:
    current = work(*roles)
    return TrustedRequests(current, handshake_for(current))


@trust_requests_api.route("")
class TrustRequestList(MethodView):
    @trust_requests_api.arguments(schemas.ListArgs, location="query")
    @trust_requests_api.alt_response(200, schema=schemas.SharedPage, success=True)
    def get(self, args: dict[str, Any], trust_id: str) -> Any:
        """The trusting account's requests on offerings routed to the caller's teams,
        live from its node: the most urgent open ones, or all newest first."""
        return json_response(_trusted(*STAFF).list(trust_id, args))


@trust_requests_api.route("/<request_id>")
class TrustRequestItem(MethodView):
    @trust_requests_api.alt_response(200, schema=schemas.SharedRequestDetail, success=True)
    def get(self, trust_id: str, request_id: str) -> Any:
        """One request with its full timeline, live from the trusting account's node."""
        return json_response(_trusted(*STAFF).read(trust_id, request_id))

    @trust_requests_api.arguments(schemas.StatusPatch)
    @trust_requests_api.alt_response(200, schema=schemas.SharedRequestDetail, success=True)
    def patch(self, body: dict[str, Any], trust_id: str, request_id: str) -> Any:
        """Move the customer's request through its status machine, as yourself (the same
        body as a local request's PATCH; only ``status`` crosses a trust)."""
        return json_response(
            _trusted(*WORKERS).change_status(
                trust_id, request_id, body["status"], body["status_reason"]
            )
        )


@trust_requests_api.route("/<request_id>/notes")
class TrustRequestNotes(MethodView):
    @trust_requests_api.arguments(schemas.NoteIn)
    @trust_requests_api.alt_response(201, schema=schemas.SharedEvent, success=True)
    def post(self, body: dict[str, Any], trust_id: str, request_id: str) -> Any:
        """Write a note as yourself on the customer's request (audited there)."""
        event = _trusted(*WORKERS).add_note(trust_id, request_id, body["body"], body["public"])
        return json_response(event, 201)
