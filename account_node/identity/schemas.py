"""Request and response bodies for people, teams and tokens."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from account_node.identity.models import ROLES

MAX_MEMBERS = 500

_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
_roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), validate=validate.Length(min=1))


class TeamRef(Schema):
    id = fields.String()
    name = fields.String()


class PersonOut(Schema):
    id = fields.String()
    email = fields.String()
    name = fields.String()
    roles = fields.List(fields.String())
    time_zone = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()
    teams = fields.List(fields.Nested(TeamRef))


class PersonPage(Schema):
    items = fields.List(fields.Nested(PersonOut))
    next_cursor = fields.String(allow_none=True)


class PersonCreate(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = _name
    roles = fields.List(
        fields.String(validate=validate.OneOf(ROLES)),
        required=True,
        validate=validate.Length(min=1),
    )
    password = fields.String(validate=validate.Length(min=10, max=256))
    time_zone = fields.String(load_default="UTC", validate=validate.Length(max=64))


class PersonUpdate(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    roles = _roles
    time_zone = fields.String(validate=validate.Length(max=64))
    active = fields.Boolean()
    password = fields.String(validate=validate.Length(min=10, max=256))


class MeUpdate(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    time_zone = fields.String(validate=validate.Length(max=64))
    password = fields.String(validate=validate.Length(min=10, max=256))
    current_password = fields.String(validate=validate.Length(max=256))


class UserFilter(Schema):
    cursor = fields.String(validate=validate.Length(max=512))
    limit = fields.Integer(validate=validate.Range(min=1, max=200), load_default=25)
    role = fields.String(validate=validate.OneOf(ROLES))


class AccountRef(Schema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()


class MeOut(PersonOut):
    account = fields.Nested(AccountRef)
    via = fields.String(metadata={"description": "token or session"})


class PersonRef(Schema):
    id = fields.String()
    name = fields.String()
    email = fields.String()


class TeamOut(Schema):
    id = fields.String()
    name = fields.String()
    description = fields.String()
    shares_requests = fields.Boolean()
    created_at = fields.DateTime()
    members = fields.List(fields.Nested(PersonRef))


class TeamPage(Schema):
    items = fields.List(fields.Nested(TeamOut))
    next_cursor = fields.String(allow_none=True)


class TeamCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    shares_requests = fields.Boolean(load_default=False)
    # A team is made in one call: its members are bounded like a page (MAX_MEMBERS).
    member_ids = fields.List(
        fields.String(validate=validate.Length(max=64)),
        load_default=list,
        validate=validate.Length(max=MAX_MEMBERS),
    )


class TeamUpdate(Schema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    description = fields.String(validate=validate.Length(max=1000))
    shares_requests = fields.Boolean()


class MemberAdd(Schema):
    person_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class TokenOut(Schema):
    id = fields.String()
    name = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class TokenIssued(TokenOut):
    token = fields.String(metadata={"description": "Shown once; store it now."})


class TokenCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    days = fields.Integer(strict=True, validate=validate.Range(min=0, max=3650))
