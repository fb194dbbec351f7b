"""What a trusting node shares about a request, checked on arrival as untrusted input."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

_id = validate.Length(min=1, max=64)
_text = validate.Length(max=300)


class _Clock(Schema):
    class Meta:
        unknown = EXCLUDE

    target_minutes = fields.Integer(required=True, strict=True)
    due = fields.AwareDateTime(required=True)
    at_risk_at = fields.AwareDateTime(required=True)
    used_seconds = fields.Integer(required=True, strict=True)
    state = fields.String(
        required=True, validate=validate.OneOf(["on_track", "at_risk", "breached", "met"])
    )
    stopped_at = fields.AwareDateTime(allow_none=True, load_default=None)
    paused = fields.Boolean(required=True)


class _Pause(Schema):
    class Meta:
        unknown = EXCLUDE

    began_at = fields.AwareDateTime(required=True)
    ended_at = fields.AwareDateTime(allow_none=True, load_default=None)
    status = fields.String(required=True, validate=_id)


class _Sla(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(max=120))
    source = fields.String(required=True, validate=validate.Length(max=20))
    reason = fields.String(required=True, validate=_text)
    response = fields.Nested(_Clock, required=True)
    resolution = fields.Nested(_Clock, required=True)
    pauses = fields.List(fields.Nested(_Pause), load_default=list)


class SharedEvent(Schema):
    class Meta:
        unknown = EXCLUDE

    seq = fields.Integer(required=True, strict=True)
    at = fields.AwareDateTime(required=True)
    kind = fields.String(required=True, validate=validate.Length(max=20))
    public = fields.Boolean(required=True)
    actor = fields.String(required=True, validate=validate.Length(max=254))
    vouched_by = fields.String(allow_none=True, load_default=None, validate=_text)
    body = fields.String(load_default="", validate=validate.Length(max=20_000))
    data = fields.Dict(allow_none=True, load_default=None)


class SharedRequest(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=_id)
    reference = fields.String(required=True, validate=validate.Length(max=40))
    subject = fields.String(required=True, validate=validate.Length(max=200))
    status = fields.String(required=True, validate=validate.Length(max=24))
    priority = fields.String(required=True, validate=validate.OneOf(["p1", "p2", "p3", "p4"]))
    offering = fields.String(required=True, validate=_id)
    offering_name = fields.String(required=True, validate=validate.Length(max=120))
    requester = fields.String(required=True, validate=validate.Length(max=200))
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    urgency_at = fields.AwareDateTime(required=True)
    allowed_transitions = fields.List(fields.String(validate=_id), load_default=list)
    sla = fields.Nested(_Sla, required=True)


class SharedRequestDetail(SharedRequest):
    description = fields.String(load_default="", validate=validate.Length(max=100_000))
    timeline = fields.List(fields.Nested(SharedEvent), load_default=list)


class SharedPage(Schema):
    class Meta:
        unknown = EXCLUDE

    items = fields.List(fields.Nested(SharedRequest), required=True)
    next_cursor = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=512)
    )


# --- bodies of the visibility calls and of the MSP's own REST paths --------------------


class NoteIn(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    public = fields.Boolean(load_default=True)
    actor_name = fields.String(validate=validate.Length(max=200))


class StatusIn(Schema):
    status = fields.String(required=True, validate=validate.Length(min=1, max=24))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    actor_name = fields.String(validate=validate.Length(max=200))


class StatusPatch(Schema):
    status = fields.String(required=True, validate=validate.Length(min=1, max=24))
    status_reason = fields.String(load_default="", validate=validate.Length(max=2000))


class ListArgs(Schema):
    offering = fields.List(fields.String(validate=_id), load_default=list)
    status = fields.List(fields.String(validate=validate.Length(max=24)), load_default=list)
    sla_state = fields.String(validate=validate.OneOf(["on_track", "at_risk", "breached", "met"]))
    q = fields.String(validate=validate.Length(max=200))
    sort = fields.String(load_default="urgency", validate=validate.OneOf(["urgency", "newest"]))
    cursor = fields.String(validate=validate.Length(max=512))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
