"""Bodies for catalog services."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class ServiceOut(Schema):
    id = fields.String()
    name = fields.String()
    description = fields.String()
    default_sla_id = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()
    provided_by = fields.String(
        allow_none=True,
        metadata={
            "description": "The trust whose terms this holds, read-only here; null if local."
        },
    )


class ServicePage(Schema):
    items = fields.List(fields.Nested(ServiceOut))
    next_cursor = fields.String(allow_none=True)


class ServiceCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    default_sla_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class ServiceUpdate(Schema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    description = fields.String(validate=validate.Length(max=2000))
    default_sla_id = fields.String(validate=validate.Length(min=1, max=64))
    active = fields.Boolean()
