"""Typed errors of the requests slice, each with a stable code."""

from __future__ import annotations

from account_node.errors import Conflict, NotFound, ValidationFailed


class RequestNotFound(NotFound):
    code = "request_not_found"


class IllegalTransition(Conflict):
    code = "illegal_transition"
    title = "That status change is not allowed from the request's current status"


class RequestClosed(Conflict):
    code = "request_closed"
    title = "The request is closed or cancelled"


class IdempotencyKeyReused(ValidationFailed):
    """A create sent an ``Idempotency-Key`` its requester already raised a different
    request with: 422, per draft-ietf-httpapi-idempotency-key-header section 2.7. The
    differing fields are named, beside the key; ``first_number`` is the request the key
    raised, for pages that show it to its requester (it is not in the problem)."""

    code = "idempotency_key_reused"
    title = "The Idempotency-Key was already used for a different request"

    def __init__(self, first_number: int, fields: list[str]) -> None:
        differs = "differs from the request first sent with this Idempotency-Key"
        super().__init__(
            errors={
                "Idempotency-Key": ["was already used for a different request"],
                **{name: [differs] for name in fields},
            }
        )
        self.first_number = first_number
