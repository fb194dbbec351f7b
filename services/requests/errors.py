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


class InvalidRequest(ValidationFailed):
    code = "invalid_request"
