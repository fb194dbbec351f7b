"""Bodies for calendars, SLAs, requester overrides and the calendar preview."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

_name = validate.Length(min=1, max=120)
MAX_SECONDS = 10 * 366 * 86_400  # budgets beyond ten years are a typo, not a contract
_ref = validate.Length(min=1, max=64)


class CalendarOut(Schema):
    id = fields.String()
    name = fields.String()
    definition = fields.Dict()
    created_at = fields.DateTime()
    provided_by = fields.String(
        allow_none=True,
        metadata={
            "description": "The trust whose terms this holds, read-only here; null if local."
        },
    )


class CalendarPage(Schema):
    items = fields.List(fields.Nested(CalendarOut))
    next_cursor = fields.String(allow_none=True)


class CalendarCreate(Schema):
    name = fields.String(required=True, validate=_name)
    definition = fields.Dict(required=True)


class CalendarUpdate(Schema):
    name = fields.String(validate=_name)
    definition = fields.Dict()


class CalendarPreview(Schema):
    calendar = fields.Dict(required=True)
    start = fields.AwareDateTime(required=True)
    seconds = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_SECONDS))
    end = fields.AwareDateTime()
    pauses = fields.List(
        fields.Tuple((fields.AwareDateTime(), fields.AwareDateTime())), load_default=list
    )


class PreviewOut(Schema):
    due = fields.DateTime()
    business_seconds = fields.Integer()


class Targets(Schema):
    response = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    resolution = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))


class SlaOut(Schema):
    id = fields.String()
    name = fields.String()
    calendar_id = fields.String()
    targets = fields.Dict(keys=fields.String(), values=fields.Nested(Targets))
    pausing_statuses = fields.List(fields.String())
    created_at = fields.DateTime()
    provided_by = fields.String(
        allow_none=True,
        metadata={
            "description": "The trust whose terms this holds, read-only here; null if local."
        },
    )


class SlaPage(Schema):
    items = fields.List(fields.Nested(SlaOut))
    next_cursor = fields.String(allow_none=True)


class SlaCreate(Schema):
    name = fields.String(required=True, validate=_name)
    calendar_id = fields.String(required=True, validate=_ref)
    targets = fields.Dict(required=True)
    pausing_statuses = fields.List(fields.String(validate=validate.Length(max=24)))


class SlaUpdate(Schema):
    name = fields.String(validate=_name)
    calendar_id = fields.String(validate=_ref)
    targets = fields.Dict()
    pausing_statuses = fields.List(fields.String(validate=validate.Length(max=24)))


class RequesterSlaOut(Schema):
    id = fields.String()
    label = fields.String()
    sla_id = fields.String()
    person_ids = fields.List(fields.String())
    created_at = fields.DateTime()


class RequesterSlaPage(Schema):
    items = fields.List(fields.Nested(RequesterSlaOut))
    next_cursor = fields.String(allow_none=True)


class RequesterSlaCreate(Schema):
    label = fields.String(required=True, validate=_name)
    sla_id = fields.String(required=True, validate=_ref)
    person_ids = fields.List(fields.String(validate=_ref), load_default=list)


class RequesterSlaUpdate(Schema):
    label = fields.String(validate=_name)
    sla_id = fields.String(validate=_ref)
    person_ids = fields.List(fields.String(validate=_ref))
