"""``/api/v1/inbox``: the cross-account inbox, and its live stream of changes."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from account_node.http import NodeBlueprint, json_response, node, work
from services.inbox.service import Inbox
from trust.api import handshake_for

inbox_api = NodeBlueprint(
    "inbox", __name__, url_prefix="/api/v1/inbox", description="The cross-account inbox"
)
READERS = ("admin", "specialist", "auditor")


class InboxArgs(Schema):
    account = fields.String(validate=validate.Length(min=1, max=64))
    offering = fields.String(validate=validate.Length(min=1, max=64))
    sla_state = fields.String(validate=validate.OneOf(["on_track", "at_risk", "breached", "met"]))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


@inbox_api.route("")
class InboxView(MethodView):
    @inbox_api.arguments(InboxArgs, location="query")
    def get(self, args: dict[str, Any]) -> Any:
        """Open requests routed to the caller's teams, from this account and every account
        that trusts it, soonest SLA due first; ``sources`` says how each node answered."""
        current = work(*READERS)
        timeout = node().settings.inbox_timeout_ms / 1000
        inbox = Inbox(current, handshake_for(current), timeout)
        return json_response(inbox.gather(**args))
