"""Reading the audit log and checking its chain (admins and auditors)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from account_node.http import NodeBlueprint as Blueprint
from account_node.http import work

READERS = ("admin", "auditor")

audit_api = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit log")


class AuditArgs(Schema):
    # The column is a 32-bit integer on PostgreSQL: a larger number is no event's.
    before_seq = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    limit = fields.Integer(validate=validate.Range(min=1, max=200), load_default=50)
    action = fields.String(validate=validate.Length(max=80))


class AuditEventOut(Schema):
    seq = fields.Integer()
    at = fields.DateTime()
    actor = fields.Method("actor_of")
    action = fields.String()
    target_type = fields.String()
    target_id = fields.String()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()

    def actor_of(self, event: Any) -> dict[str, Any]:
        return {
            "id": event.actor_id,
            "account": event.actor_account_id,
            "name": event.actor_name,
            "vouched_by": event.vouched_by,
        }


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEventOut))
    next_before_seq = fields.Integer(allow_none=True)


class ChainReportOut(Schema):
    ok = fields.Boolean()
    events = fields.Integer()
    head_seq = fields.Integer()
    head_hash = fields.String()
    first_broken_seq = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)


@audit_api.route("")
class AuditLogView(MethodView):
    @audit_api.arguments(AuditArgs, location="query")
    @audit_api.response(200, AuditPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Newest events first; pass ``before_seq`` from the previous page to read on."""
        limit = args["limit"]
        events = work(*READERS).audit.page(args.get("before_seq"), limit + 1, args.get("action"))
        more = len(events) > limit
        events = events[:limit]
        return {"items": events, "next_before_seq": events[-1].seq if more else None}


@audit_api.route("/verify")
class AuditVerifyView(MethodView):
    @audit_api.response(200, ChainReportOut)
    def get(self) -> dict[str, Any]:
        """Recompute the whole chain; ``first_broken_seq`` names the first bad link."""
        return work(*READERS).audit.verify().as_dict()
