"""Bodies for offerings."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from account_node.http import Instant, PageArgs

_ref = validate.Length(min=1, max=64)


class OfferingOut(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "local, offered (by me) or received (by me)"})
    trust_id = fields.String(allow_none=True)
    peer_account = fields.String(
        allow_none=True, metadata={"description": "the customer (offered) or provider (received)"}
    )
    remote_id = fields.String(allow_none=True)
    revision = fields.Integer()
    service_id = fields.String()
    name = fields.String()
    customer_sla_id = fields.String(allow_none=True)
    team_id = fields.String(allow_none=True)
    team_name = fields.String(allow_none=True)
    starts_at = fields.DateTime()
    ends_at = fields.DateTime(allow_none=True)
    open = fields.Boolean()
    created_at = fields.DateTime()


class OfferingPage(Schema):
    items = fields.List(fields.Nested(OfferingOut))
    next_cursor = fields.String(allow_none=True)


class OfferingArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf(["local", "offered", "received"]))
    trust_id = fields.String(validate=_ref)


class OfferingCreate(Schema):
    trust_id = fields.String(
        validate=_ref,
        metadata={"description": "offer over this trust (this account must be its trusted side)"},
    )
    service_id = fields.String(required=True, validate=_ref)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    team_id = fields.String(required=True, validate=_ref)
    customer_sla_id = fields.String(allow_none=True, validate=_ref)
    starts_at = Instant()
    ends_at = Instant(allow_none=True)


class OfferingUpdate(Schema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    team_id = fields.String(validate=_ref)
    customer_sla_id = fields.String(allow_none=True, validate=_ref)
    starts_at = Instant()
    ends_at = Instant(allow_none=True)


# --- the signed document a trusted account sends over a trust (untrusted input) ---------

_name = validate.Length(min=1, max=120)


class _Calendar(Schema):
    id = fields.String(required=True, validate=_ref)
    name = fields.String(required=True, validate=_name)
    definition = fields.Dict(required=True)


class _Terms(Schema):
    id = fields.String(required=True, validate=_ref)
    name = fields.String(required=True, validate=_name)
    targets = fields.Dict(required=True)
    pausing_statuses = fields.List(fields.String(validate=_ref), required=True)
    calendar = fields.Nested(_Calendar, required=True)


class _Service(Schema):
    id = fields.String(required=True, validate=_ref)
    name = fields.String(required=True, validate=_name)
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    default_sla = fields.Nested(_Terms, required=True)


class _Team(Schema):
    id = fields.String(required=True, validate=_ref)
    name = fields.String(required=True, validate=_name)


class OfferingDocument(Schema):
    id = fields.String(required=True, validate=_ref)
    revision = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    trust = fields.String(required=True, validate=_ref)
    trusted = fields.String(required=True, validate=_ref)
    trusting = fields.String(required=True, validate=_ref)
    name = fields.String(required=True, validate=_name)
    service = fields.Nested(_Service, required=True)
    customer_sla = fields.Nested(_Terms, required=True, allow_none=True)
    team = fields.Nested(_Team, required=True)
    start = Instant(required=True)
    end = Instant(required=True, allow_none=True)
