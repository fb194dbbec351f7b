"""Bodies for configuration items."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.cmdb.models import CI_STATUSES

_ref = validate.Length(min=1, max=64)


class CiOut(Schema):
    id = fields.String()
    type = fields.String()
    name = fields.String()
    owner_id = fields.String(allow_none=True)
    status = fields.String()
    parent_id = fields.String(allow_none=True)
    sla_id = fields.String(allow_none=True)
    effective_sla_id = fields.String(allow_none=True)
    sla_inherited_from = fields.String(allow_none=True)
    created_at = fields.DateTime()


class CiPage(Schema):
    items = fields.List(fields.Nested(CiOut))
    next_cursor = fields.String(allow_none=True)


class CiArgs(Schema):
    cursor = fields.String(validate=validate.Length(max=512))
    limit = fields.Integer(validate=validate.Range(min=1, max=200), load_default=25)
    type = fields.String(validate=validate.Length(max=60))
    status = fields.String(validate=validate.OneOf(CI_STATUSES))
    parent_id = fields.String(validate=_ref)
    owner_id = fields.String(validate=_ref)


class CiCreate(Schema):
    type = fields.String(required=True, validate=validate.Length(min=1, max=60))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    owner_id = fields.String(allow_none=True, validate=_ref)
    status = fields.String(load_default="active", validate=validate.OneOf(CI_STATUSES))
    parent_id = fields.String(allow_none=True, validate=_ref)
    sla_id = fields.String(allow_none=True, validate=_ref)


class CiUpdate(Schema):
    type = fields.String(validate=validate.Length(min=1, max=60))
    name = fields.String(validate=validate.Length(min=1, max=200))
    owner_id = fields.String(allow_none=True, validate=_ref)
    status = fields.String(validate=validate.OneOf(CI_STATUSES))
    parent_id = fields.String(allow_none=True, validate=_ref)
    sla_id = fields.String(allow_none=True, validate=_ref)
