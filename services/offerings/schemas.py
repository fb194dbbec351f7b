"""Bodies for offerings."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

_ref = validate.Length(min=1, max=64)


class OfferingOut(Schema):
    id = fields.String()
    service_id = fields.String()
    name = fields.String()
    customer_sla_id = fields.String(allow_none=True)
    team_id = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime(allow_none=True)
    open = fields.Boolean()
    created_at = fields.DateTime()


class OfferingPage(Schema):
    items = fields.List(fields.Nested(OfferingOut))
    next_cursor = fields.String(allow_none=True)


class OfferingCreate(Schema):
    service_id = fields.String(required=True, validate=_ref)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    team_id = fields.String(required=True, validate=_ref)
    customer_sla_id = fields.String(allow_none=True, validate=_ref)
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime(allow_none=True)


class OfferingUpdate(Schema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    team_id = fields.String(validate=_ref)
    customer_sla_id = fields.String(allow_none=True, validate=_ref)
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime(allow_none=True)
