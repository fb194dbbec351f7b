"""Typed errors with stable codes, rendered once as RFC 9457 problem details.

Domain and protocol code raise a ``NodeError`` subclass; the HTTP edge turns it into
``application/problem+json`` (see ``account_node.http``), the portal into a page, the CLI
into a message and an exit code. ``code`` is part of the public contract: clients and
peers branch on it, so it never changes once released. ``detail`` is for people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

PROBLEM_BASE = "https://trustdesk.dev/problems/"


class NodeError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"
    # Seconds after which a call may succeed again (a ``Retry-After`` header), if known.
    retry_after: ClassVar[int | None] = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Mapping[str, Sequence[str]] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = {k: list(v) for k, v in (errors or {}).items()}
        self.extensions = extensions

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        return problem(
            self.status,
            self.code,
            self.title,
            self.detail,
            instance=instance,
            errors=self.errors or None,
            **self.extensions,
        )


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: Mapping[str, Sequence[str]] | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """One RFC 9457 document; ``code`` and ``errors`` are extension members."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = {k: list(v) for k, v in errors.items()}
    body.update(extensions)
    return body


class ValidationFailed(NodeError):
    status = 422
    code = "validation_failed"
    title = "The request has invalid fields"


class BadRequest(NodeError):
    status = 400
    code = "bad_request"
    title = "Bad request"


class NotAuthenticated(NodeError):
    status = 401
    code = "not_authenticated"
    title = "Authentication required"


class Forbidden(NodeError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class NotFound(NodeError):
    """Also raised for another account's objects: existence is never revealed."""

    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(NodeError):
    status = 409
    code = "conflict"
    title = "Conflict"


class UnsupportedBody(NodeError):
    status = 415
    code = "unsupported_media_type"
    title = "The body is not JSON"


class ConcurrentChange(Conflict):
    """The database refused a write for a rule the services had checked (a name taken,
    a member added): another change committed the same thing in between. Nothing was
    saved; a retry sees the other change and is answered for it."""

    code = "concurrent_change"
    title = "Changed at the same moment"


class ScopeViolation(NodeError):
    """Code tried to write a row for an account other than the one in scope: a bug."""

    status = 500
    code = "scope_violation"
    title = "Account scope violated"


class ServiceUnavailable(NodeError):
    status = 503
    code = "service_unavailable"
    title = "A service the node depends on is unavailable"


class UnsafeDatabaseRole(NodeError):
    code = "unsafe_database_role"
    title = "The database role can bypass row-level security"
