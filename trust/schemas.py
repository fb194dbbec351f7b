"""Bodies for trusts and invitations."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from trust.deliveries import STATES as DELIVERY_STATES


class InvitationOut(Schema):
    node_url = fields.String()
    account = fields.String()
    fingerprint = fields.String()
    code = fields.String(metadata={"description": "One-time; hand it over out of band."})
    expires_at = fields.DateTime()


class ProposalIn(Schema):
    """An invitation as the trusted account's admin handed it over."""

    node_url = fields.String(required=True, validate=validate.Length(min=8, max=300))
    account = fields.String(required=True, validate=validate.Length(min=2, max=64))
    fingerprint = fields.String(required=True, validate=validate.Length(min=10, max=80))
    code = fields.String(required=True, validate=validate.Length(min=10, max=100))
    # Taken as the invitation gives it, so that it can be handed over whole; the inviting
    # node holds the code's expiry and refuses it once past.
    expires_at = fields.DateTime(load_default=None, metadata={"description": "Ignored."})


class TrustOut(Schema):
    id = fields.String()
    role = fields.String()
    peer_account = fields.String()
    peer_name = fields.String(metadata={"description": "for people; checks use peer_account"})
    peer_node = fields.String()
    status = fields.String()
    agreement = fields.Dict()
    created_at = fields.DateTime()
    activated_at = fields.DateTime(allow_none=True)
    deactivated_at = fields.DateTime(allow_none=True)
    deactivated_by = fields.String(allow_none=True)


class WitnessedHeadOut(Schema):
    trust_id = fields.String()
    peer_account = fields.String()
    seq = fields.Integer()
    hash = fields.String()
    signed_at = fields.DateTime()
    received_at = fields.DateTime()
    conflict = fields.String(allow_none=True)
    document = fields.Dict(metadata={"description": "the head as the peer signed it"})


class TrustPage(Schema):
    items = fields.List(fields.Nested(TrustOut))
    next_cursor = fields.String(allow_none=True)


class KeyOut(Schema):
    key_id = fields.String()
    public_key = fields.String()
    fingerprint = fields.String()
    status = fields.String()
    created_at = fields.String()
    retired_at = fields.String(allow_none=True)


class RotationIn(Schema):
    compromised = fields.Boolean(
        load_default=False,
        metadata={
            "description": "The current key may be stolen: revoke it and announce nothing; "
            "each peer's admin must confirm the new fingerprint (handed over out of band)."
        },
    )


class RotationOut(Schema):
    old = fields.String()
    new = fields.String()
    fingerprint = fields.String(metadata={"description": "the new key's"})
    compromised = fields.Boolean()
    confirm_with = fields.List(
        fields.String(),
        metadata={
            "description": "peer accounts whose admins must confirm the new fingerprint "
            "(POST /api/v1/trusts/<id>/peer-key on their node): all of them after a "
            "compromise; after a routine rotation, those that refused its notice (they "
            "never confirmed a key this account took after a compromise)"
        },
    )
    delivered = fields.List(
        fields.String(), metadata={"description": "peer accounts that have the notice now"}
    )
    pending = fields.List(
        fields.String(),
        metadata={"description": "peer accounts the outbox keeps trying (with backoff)"},
    )


class PeerKeyIn(Schema):
    """The fingerprint the peer's admin handed over out of band after a compromise."""

    fingerprint = fields.String(required=True, validate=validate.Length(min=10, max=80))


class PeerKeyOut(Schema):
    trust_id = fields.String()
    peer_account = fields.String()
    key = fields.String(metadata={"description": "<account>#<key id>, now pinned"})
    fingerprint = fields.String()
    revoked = fields.List(
        fields.String(), metadata={"description": "the peer's keys revoked by this confirmation"}
    )


class PeerKeyStatusOut(Schema):
    """Whether a peer holds this account's current key (trust.key_status)."""

    peer_account = fields.String()
    peer_name = fields.String()
    peer_node = fields.String()
    trust_ids = fields.List(fields.String())
    state = fields.String(
        metadata={"description": "holds, announcing, refused, unconfirmed or unknown"}
    )
    must_confirm = fields.Boolean(
        metadata={
            "description": "the peer's admin must confirm this account's key fingerprint "
            "(POST /api/v1/trusts/<id>/peer-key on their node)"
        }
    )
    since = fields.DateTime(allow_none=True)
    detail = fields.String()
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)


class OutboxArgs(Schema):
    state = fields.String(validate=validate.OneOf(DELIVERY_STATES))
    peer = fields.String(validate=validate.Length(min=1, max=64))
    cursor = fields.String(validate=validate.Length(max=512))
    limit = fields.Integer(validate=validate.Range(min=1, max=200), load_default=25)


class DeliveryOut(Schema):
    id = fields.String()
    trust_id = fields.String()
    peer_account = fields.String()
    peer_node = fields.String()
    kind = fields.String(metadata={"description": "key_notice or message"})
    path = fields.String(metadata={"description": "the call's path on the peer's node"})
    state = fields.String(metadata={"description": ", ".join(DELIVERY_STATES)})
    attempts = fields.Integer()
    created_at = fields.DateTime()
    next_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    abandoned_at = fields.DateTime(allow_none=True)
    last_error = fields.String(
        allow_none=True, metadata={"description": "this node's words, never the peer's"}
    )


class DeliveryPage(Schema):
    items = fields.List(fields.Nested(DeliveryOut))
    next_cursor = fields.String(allow_none=True)
