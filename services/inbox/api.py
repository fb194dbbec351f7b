"""``/api/v1/inbox``: the cross-account inbox, and its live stream of changes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from account_node.http import NodeBlueprint, json_response, node, work
from services.inbox import notices
from services.inbox.events import Hub, hub_for
from services.inbox.live import event_stream_response
from services.inbox.service import Inbox
from trust.api import handshake_for, json_body, refused, trust_call
from trust.errors import FederationRefused

inbox_api = NodeBlueprint(
    "inbox", __name__, url_prefix="/api/v1/inbox", description="The cross-account inbox"
)
inbox_federation = Blueprint("inbox_federation", __name__, url_prefix="/federation/v1")
READERS = ("admin", "specialist", "auditor")


def hub() -> Hub:
    return hub_for(current_app.extensions, node().settings.redis_url)


notices.connect(hub)


class InboxArgs(Schema):
    account = fields.String(validate=validate.Length(min=1, max=64))
    offering = fields.String(validate=validate.Length(min=1, max=64))
    team = fields.String(validate=validate.Length(min=1, max=64))
    service = fields.String(validate=validate.Length(min=1, max=64))
    sla_state = fields.String(
        validate=validate.OneOf(["on_track", "at_risk", "breached", "met"]),
        metadata={
            "description": "the worse of the two clocks' states: breached, at_risk, on_track, met"
        },
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class InboxItem(Schema):
    """One open request of the inbox page (documentation: the page is written as
    ``services.inbox.service.Inbox.gather`` builds it)."""

    id = fields.String()
    reference = fields.String()
    subject = fields.String()
    status = fields.String()
    priority = fields.String()
    offering = fields.String(allow_none=True)
    offering_name = fields.String(metadata={"description": "of another account's request"})
    requester = fields.String(metadata={"description": "of another account's request"})
    urgency_at = fields.DateTime(metadata={"description": "the resolution due: the order"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    sla = fields.Dict(metadata={"description": "name, source, reason, and both clocks"})
    allowed_transitions = fields.List(
        fields.String(), metadata={"description": "the statuses staff may move it to now"}
    )
    account = fields.String()
    account_name = fields.String()
    trust_id = fields.String(
        allow_none=True, metadata={"description": "null for this account's own request"}
    )
    path = fields.String(metadata={"description": "where to read and work the request"})


class InboxSource(Schema):
    account = fields.String()
    account_name = fields.String()
    trust_id = fields.String(allow_none=True)
    node = fields.String()
    status = fields.String(validate=validate.OneOf(["ok", "unreachable", "refused"]))
    latency_ms = fields.Float()
    count = fields.Integer(metadata={"description": "rows it sent"})
    more = fields.Boolean(metadata={"description": "it holds more open requests than it sent"})


class InboxPage(Schema):
    items = fields.List(fields.Nested(InboxItem))
    sources = fields.List(fields.Nested(InboxSource))


@inbox_api.route("")
class InboxView(MethodView):
    @inbox_api.arguments(InboxArgs, location="query")
    @inbox_api.alt_response(200, schema=InboxPage, success=True)
    def get(self, args: dict[str, Any]) -> Any:
        """Open requests routed to the caller's teams, from this account and every account
        that trusts it, soonest SLA due first. ``sources`` says how each node answered
        (``ok``, ``unreachable`` or ``refused``), in how long, how many of its rows it
        sent (``count``: a node is asked only for the rows that may make the page) and
        whether it holds ``more``."""
        current = work(*READERS)
        timeout = node().settings.inbox_timeout_ms / 1000
        inbox = Inbox(current, handshake_for(current), timeout)
        return json_response(inbox.gather(**args))


@inbox_api.route("/events")
class InboxEvents(MethodView):
    @inbox_api.doc(
        responses={
            "200": {
                "description": "text/event-stream of request.changed events, and "
                "trust.deactivated as the last event of a stream under that trust"
            }
        }
    )
    def get(self) -> Any:
        """Server-sent events: a change to a request in the caller's inbox, as it happens
        (references only; read the item at its ``path``). The stream ends after five
        minutes (``inbox_stream_seconds``) and the browser reconnects, so access is
        re-checked regularly; it ends at once, after a ``trust.deactivated`` event, when
        a trust it reaches is deactivated: the reconnected stream no longer reaches it."""
        return event_stream_response(work(*READERS))


@inbox_federation.post("/<account_id>/trusts/<trust_id>/events")
def receive_event(account_id: str, trust_id: str) -> Any:
    """A signed notice from a trusting node: 202 whether new or a redelivery."""
    try:
        current, call = trust_call(account_id, trust_id, role="trusted")
        fresh = notices.receive_notice(current, call, json_body(), hub())
    except FederationRefused as error:
        return refused(account_id, error)
    return json_response({"accepted": True, "duplicate": not fresh}, 202)
