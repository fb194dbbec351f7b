"""Request bodies and answers for requests, notes, timelines and SLA actions."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from account_node.http import CURSOR
from services.requests.models import SLA_STATES, STATUSES
from services.sla.models import PRIORITIES

_id = fields.String(validate=validate.Length(min=1, max=64))


class RequestCreate(Schema):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=20_000))
    service_id = fields.String(validate=validate.Length(min=1, max=64))
    offering_id = fields.String(validate=validate.Length(min=1, max=64))
    requester_id = fields.String(validate=validate.Length(min=1, max=64))
    ci_id = fields.String(validate=validate.Length(min=1, max=64))
    priority = fields.String(load_default="p3", validate=validate.OneOf(PRIORITIES))


class RequestUpdate(Schema):
    subject = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=20_000))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    ci_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    status = fields.String(validate=validate.OneOf(STATUSES))
    status_reason = fields.String(load_default="", validate=validate.Length(max=2000))
    team_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    assignee_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))


class RequestListArgs(Schema):
    cursor = fields.String(validate=CURSOR)
    limit = fields.Integer(validate=validate.Range(min=1, max=200), load_default=25)
    status = fields.List(fields.String(validate=validate.OneOf(STATUSES)))
    service_id = _id
    offering_id = _id
    team_id = _id
    assignee_id = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "an id, or `me`"}
    )
    requester_id = _id
    sla_state = fields.String(
        validate=validate.OneOf(SLA_STATES),
        metadata={
            "description": "the worse of the two clocks' states: breached, at_risk, on_track, met"
        },
    )
    breached = fields.Boolean()
    q = fields.String(validate=validate.Length(min=1, max=200))


class ClockOut(Schema):
    target_minutes = fields.Integer()
    due = fields.DateTime()
    at_risk_at = fields.DateTime()
    used_seconds = fields.Integer()
    state = fields.String()
    stopped_at = fields.DateTime(allow_none=True)
    paused = fields.Boolean()


class PauseOut(Schema):
    began_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    status = fields.String()


class RequestSlaOut(Schema):
    id = fields.String()
    name = fields.String()
    source = fields.String()
    reason = fields.String()
    calendar = fields.Dict()
    terms = fields.Dict()
    response = fields.Nested(ClockOut)
    resolution = fields.Nested(ClockOut)
    pauses = fields.List(fields.Nested(PauseOut))


class RequestOut(Schema):
    id = fields.String()
    number = fields.Integer()
    reference = fields.String()
    subject = fields.String()
    description = fields.String()
    status = fields.String()
    priority = fields.String()
    service_id = fields.String()
    offering_id = fields.String(allow_none=True)
    requester_id = fields.String()
    ci_id = fields.String(allow_none=True)
    team_id = fields.String(allow_none=True)
    assignee_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    first_response_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    allowed_transitions = fields.List(fields.String())
    sla = fields.Nested(RequestSlaOut)


class RequestPage(Schema):
    items = fields.List(fields.Nested(RequestOut))
    next_cursor = fields.String(allow_none=True)


class NoteCreate(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    public = fields.Boolean(load_default=True)


class EventOut(Schema):
    id = fields.String()
    at = fields.DateTime()
    kind = fields.String()
    public = fields.Boolean()
    actor = fields.Method("actor_of")
    body = fields.String()
    data = fields.Dict(allow_none=True)

    def actor_of(self, event: object) -> dict[str, object]:
        return {
            "id": getattr(event, "actor_id"),  # noqa: B009
            "name": getattr(event, "actor_name"),  # noqa: B009
            "vouched_by": getattr(event, "vouched_by"),  # noqa: B009
        }


class SlaOverride(Schema):
    sla_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class Reevaluate(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))
