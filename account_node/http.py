"""The kernel's HTTP helpers: the API object, problem+json rendering, who is asking.

This is one of the few places allowed to touch Flask request globals (DESIGN section 2).
Endpoints call ``principal()``/``work()`` and a service; they never query or commit:
the response hook commits a successful request and rolls back everything else.
"""

from __future__ import annotations

import http
import logging
from datetime import UTC, date, datetime
from typing import Any, Protocol

import orjson
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Flask, Response, current_app, g, json, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from marshmallow import INCLUDE, RAISE, Schema, fields, validate
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException

from account_node.clock import Clock
from account_node.context import Work
from account_node.db import db
from account_node.errors import (
    BadRequest,
    ConcurrentChange,
    NodeError,
    NotAuthenticated,
    NotFound,
    UnsupportedBody,
    ValidationFailed,
    problem,
)
from account_node.identity.authentication import Authenticator
from account_node.identity.passwords import Passwords
from account_node.identity.principal import Principal
from account_node.jobs import JobQueue
from account_node.settings import Settings
from account_node.unit_of_work import forget_kept, rollback_keeping
from account_node.unstorable import NUL, NUL_MESSAGE, may_be_unstorable, unstorable_fields

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class NodeServices(Protocol):
    settings: Settings
    clock: Clock
    jobs: JobQueue
    passwords: Passwords


def node() -> NodeServices:
    return current_app.extensions["trustdesk"]  # type: ignore[no-any-return]


# --- problem+json -------------------------------------------------------------------


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=body["status"], mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render_node_error(error: NodeError) -> Response:
    headers = {}
    if isinstance(error, NotAuthenticated):
        headers["WWW-Authenticate"] = f'Bearer realm="trustdesk", error="{_bearer_error(error)}"'
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return problem_response(error.to_problem(instance=request.path), headers)


def _bearer_error(error: NotAuthenticated) -> str:
    return "invalid_token" if error.code == "invalid_token" else "invalid_request"


def render_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = _field_errors(data.get("messages")) if status == 422 else None
    code = (error.name or "error").lower().replace(" ", "_").replace("'", "")
    title, detail = error.name, error.description or error.name
    if status == 422:  # webargs' field errors: the same problem type as ValidationFailed's
        code, title = ValidationFailed.code, ValidationFailed.title
        detail = "The request has invalid fields"
    body = problem(status, code, title, detail, instance=request.path, errors=errors)
    headers = {k: v for k, v in error.get_headers() if k.lower() not in {"content-type"}}
    return problem_response(body, headers)


def render_unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    body = problem(
        500,
        "internal_error",
        "Internal error",
        "Something went wrong on this node; nothing was saved. The error has been logged.",
        instance=request.path,
    )
    return problem_response(body)


def render_malformed_body(error: Exception) -> Response:
    log.info("malformed request body on %s %s: %r", request.method, request.path, error)
    return render_node_error(
        BadRequest("The request body is malformed: its framing (chunks or length) is broken")
    )


# PostgreSQL's verdicts on transactions that met others: a deadlock (one was chosen to
# give way) and a serialization failure. Nothing was saved, and the same call again
# will most likely pass.
RETRYABLE_STATES = frozenset({"40P01", "40001"})


def render_operational_error(error: OperationalError) -> Response:
    if getattr(error.orig, "sqlstate", None) not in RETRYABLE_STATES:
        return render_unexpected(error)
    log.warning("transaction gave way on %s %s", request.method, request.path, exc_info=True)
    rollback_keeping(db.session)
    return render_node_error(
        ConcurrentChange(
            "Another change made at the same moment held what this one needed; nothing "
            "was saved. Try again."
        )
    )


def render_data_error(error: DataError) -> Response:
    """The last resort for a value the database refused to store (one the edge let
    through): the caller's input, so a 422, not a 500. Logged, as a gap in validation."""
    log.warning("database refused a value on %s %s", request.method, request.path, exc_info=True)
    body = problem(
        422,
        "validation_failed",
        ValidationFailed.title,
        "A value in the request cannot be stored; nothing was saved.",
        instance=request.path,
    )
    return problem_response(body)


def concurrent_change(error: IntegrityError) -> ConcurrentChange:
    """What a write the database refused past the services' own checks means to the
    caller: two admins creating one team name at once both pass the check, and one
    insert meets the other's unique index. Logged, in case it is a gap in validation."""
    log.warning("database refused a write on %s %s", request.method, request.path, exc_info=True)
    rollback_keeping(db.session)  # now: what renders the answer may read (the portal's page)
    return ConcurrentChange(
        "Another change made at the same moment conflicts with this one; nothing was "
        "saved. Try again: the answer will take that change into account."
    )


def render_integrity_error(error: IntegrityError) -> Response:
    return render_node_error(concurrent_change(error))


def _field_errors(messages: Any) -> dict[str, list[str]]:
    """Flatten webargs' ``{"json": {"a": {"b": [..]}}}`` into ``{"a.b": [..]}``."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                name = str(key) if key != "_schema" else "body"
                walk(f"{prefix}.{name}" if prefix else name, inner)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat.setdefault(prefix or "body", []).extend(value)
        else:
            flat.setdefault(prefix or "body", []).append(str(value))

    for location in (messages or {}).values():
        walk("", location)
    return flat


class StrictParser(FlaskParser):
    """Malformed JSON is a 422 problem naming the body, like any other invalid input;
    a body that is not JSON at all is a 415. webargs reads such a body as no body, so a
    PATCH sent as text/plain answered 200 having changed nothing, and a key rotation
    asked, in text/plain, to treat the key as compromised rotated it as if it were not."""

    # A query parameter no endpoint takes is refused, as an unknown body field is: a
    # typo (``?stauts=open``) answered with every request, unfiltered, as if obeyed.
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": RAISE,
        "querystring": RAISE,
    }

    def _handle_invalid_json_error(self, error: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
        raise ValidationFailed(
            "The request body is not valid JSON", errors={"body": [f"invalid JSON: {error}"]}
        )

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req) and (req.content_length or req.get_data(cache=True)):
            raise UnsupportedBody(
                f"The body must be JSON, sent as application/json, not {req.mimetype or 'untyped'}"
            )
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            raise ValidationFailed(
                "The request body is not valid JSON",
                errors={"body": ["invalid JSON: it nests too deeply"]},
            ) from None


class NodeBlueprint(Blueprint):
    """flask-smorest's Blueprint with the strict JSON parser; every API module uses it."""

    ARGUMENTS_PARSER = StrictParser()

    def arguments(self, schema: Any, **kwargs: Any) -> Any:
        """Parse with one schema instance per endpoint. Given a class, webargs builds a
        new instance on every call (a deep copy of all its fields: a few percent of a
        create's CPU); our schemas keep no state between loads, so one serves all."""
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)


class Problem(Schema):
    """An RFC 9457 problem, as the node writes every error (``errors.problem``). Open to
    more members, as RFC 9457 allows: some problems carry their own (``reason``, the
    ``allowed`` moves of an illegal transition, a peer's ``peer_status``)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(required=True, metadata={"description": "a stable token to branch on"})
    instance = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "for invalid input: each field named, with what is wrong"},
    )


class NodeApi(Api):
    """flask-smorest's Api, with problem+json errors that keep Werkzeug's headers, and
    documented as they are written: flask-smorest's own error schema (``code`` a number,
    ``message``) in ``application/json`` is not what any client receives."""

    ERROR_SCHEMA = Problem

    def _init_spec(self, *args: Any, **kwargs: Any) -> None:
        """Every operation takes a personal API token as a bearer token (DESIGN section
        7), and says so: clients generated from the document send it."""
        kwargs.setdefault("security", [{"bearer": []}])
        super()._init_spec(*args, **kwargs)
        scheme = {"type": "http", "scheme": "bearer", "description": "a personal API token"}
        self.spec.components.security_scheme("bearer", scheme)

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return render_http_exception(error)

    def _register_responses(self) -> None:
        """flask-smorest's default responses, each error in ``application/problem+json``."""
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = Problem
            content_type = PROBLEM_JSON if status >= 400 else self.DEFAULT_RESPONSE_CONTENT_TYPE
            prepare_response(response, self.spec, content_type)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": Problem}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def install_error_handlers(app: Flask, malformed: tuple[type[Exception], ...] = ()) -> None:
    """Render every error once, and turn input no database can store into one of them
    before any view runs (``refuse_unstorable``). ``malformed``: what the HTTP server
    raises from the request's stream when the body's own framing is broken (a chunk
    size of letters, a missing terminator, a client gone mid-body), first seen where a
    view reads the body: the client's error, a 400, not a 500 with a traceback."""
    for error in malformed:
        app.register_error_handler(error, render_malformed_body)
    app.before_request(authenticate_api_callers)
    app.before_request(refuse_unstorable)
    app.register_error_handler(NodeError, render_node_error)
    app.register_error_handler(DataError, render_data_error)
    app.register_error_handler(OperationalError, render_operational_error)
    app.register_error_handler(IntegrityError, render_integrity_error)
    app.register_error_handler(HTTPException, render_http_exception)
    app.register_error_handler(Exception, render_unexpected)


# --- who asks, before what they ask -------------------------------------------------

API = "/api/v1/"
OPEN_TO_ALL = frozenset({"/api/v1/openapi.json"})  # the contract itself


def authenticate_api_callers() -> None:
    """A caller of the REST API is authenticated before its input is read: without a
    valid token the answer is 401, whatever the body. Parsing first told anyone without
    a token which fields each endpoint requires and how long a password must be, and
    told a client whose token had expired to fix its input. Roles are each endpoint's
    own to check (``work``/``require``), after this."""
    if request.routing_exception is not None or request.path in OPEN_TO_ALL:
        return  # no endpoint (its 404 or 405 answers), or the OpenAPI document
    if request.path.startswith(API):
        principal()


# --- input no database can store ----------------------------------------------------


def refuse_unstorable() -> None:
    """Refuse a NUL character or a lone surrogate anywhere in a request's input, for every
    endpoint alike (why no field may hold either: ``account_node.unstorable``).

    A path segment that has a NUL names nothing (404); a query argument, a form field or
    a JSON string anywhere in the body that has one is an invalid field (422), named as
    webargs names fields (``targets.p1``, ``member_ids.0``). Nothing has been read or
    written yet. (Werkzeug decodes paths, queries and forms with replacement, so a lone
    surrogate can only come in JSON.)
    """
    if request.routing_exception is not None:
        return  # no endpoint: the routing error answers
    if any(NUL in str(value) for value in (request.view_args or {}).values()):
        raise NotFound("not found")
    errors = {name: [NUL_MESSAGE] for name in _nul_arguments(request.args, "query")}
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        errors.update((name, [NUL_MESSAGE]) for name in _nul_arguments(request.form, "form"))
    if request.is_json:
        raw = request.get_data(cache=True)
        if may_be_unstorable(raw):
            try:  # as ``request.get_json`` will: raw surrogates and UTF-16 included
                body = json.loads(raw)
            except (ValueError, RecursionError):
                body = None  # not JSON after all: the parser says so, naming the body
            errors.update((name, [message]) for name, message in unstorable_fields(body))
    if errors:
        raise ValidationFailed(errors=errors)


def _nul_arguments(arguments: Any, whole: str) -> list[str]:
    """The names of the arguments holding a NUL; ``whole`` for one whose name holds one."""
    return [
        whole if NUL in name else name
        for name, value in arguments.items(multi=True)
        if NUL in name or NUL in value
    ]


def install_unit_of_work(app: Flask) -> None:
    @app.after_request
    def _finish(response: Response) -> Response:
        if response.status_code < 400:
            db.session.commit()
            forget_kept(db.session)
        else:
            rollback_keeping(db.session)
        return response


def commit_now() -> None:
    """Commit the request's unit of work before its response is rendered.

    For writes that take an account-wide lock (a request's number, the audit chain's
    head): the lock is held until commit, and every other writer of the account waits
    for it, so rendering should not happen inside it. ``_finish`` then finds nothing
    left to commit; should rendering fail, what was committed stays, as it would had the
    connection dropped after the commit (retries are safe with an ``Idempotency-Key``).
    """
    db.session.commit()
    forget_kept(db.session)


# --- JSON -------------------------------------------------------------------------


class NodeJSONProvider(DefaultJSONProvider):
    """ISO 8601 datetimes, as the OpenAPI schemas promise (Flask's default is RFC 822).

    Written by orjson: a page of 50 requests took the standard library 0.7 ms, mostly
    calling back into Python for each datetime, against 0.04 ms; both sides of an inbox
    page write one. Its output is the same JSON with two differences no client may rely
    on: text beyond ASCII is written as UTF-8 rather than escaped (JSON's own encoding),
    and a float that is not a number is ``null`` rather than an invalid ``NaN``. Keys
    keep the order the code built them in: no client may depend on key order either."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime | date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # a layout asked for (Flask indents in debug): the standard library's
            return super().dumps(obj, **kwargs)
        try:
            return orjson.dumps(obj, default=self.default, option=orjson.OPT_NON_STR_KEYS).decode()
        except orjson.JSONEncodeError:
            return super().dumps(obj)  # what orjson refuses: an integer past 64 bits

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """A body nested past the parser's recursion limit (``[[[[...``) is malformed
        JSON to the caller, a 400 like any other, not a crash of the parser."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("the JSON nests too deeply") from exc


def json_response(body: Any, status: int = 200) -> Response:
    """A ready response: hot endpoints build plain dicts and skip a second schema dump."""
    return current_app.response_class(
        current_app.json.dumps(body), status=status, mimetype="application/json"
    )


# --- who is asking ------------------------------------------------------------------


class _TokenHolder:
    def __init__(self, principal: Principal) -> None:
        self.principal = principal


class _Validator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> _TokenHolder:
        services = node()
        authenticator = Authenticator(
            db.session(), services.clock, services.passwords, services.settings
        )
        return _TokenHolder(authenticator.bearer(token_string))

    def validate_token(self, token: Any, scopes: Any, request: Any) -> None:
        """Expiry and revocation were checked while authenticating."""


resource_protector = ResourceProtector()
resource_protector.register_token_validator(_Validator())


def principal() -> Principal:
    """The authenticated person of this request (401 problem if there is none)."""
    found = g.get("principal")
    if found is not None:
        return found  # type: ignore[no-any-return]
    try:
        holder = resource_protector.acquire_token()
    except OAuth2Error as exc:
        raise NotAuthenticated(exc.description or "a bearer token is required") from exc
    g.principal = holder.principal
    return holder.principal  # type: ignore[no-any-return]


def require(*roles: str) -> Principal:
    who = principal()
    if roles:
        who.require(*roles)
    return who


def work(*roles: str) -> Work:
    """Authenticate, check roles, and open the unit of work for the caller's account."""
    return work_for(require(*roles))


def work_for(who: Principal) -> Work:
    """The unit of work of an authenticated person (API token or portal session)."""
    services = node()
    return Work(
        db.session(),
        who.scope,
        who.actor,
        services.clock,
        services.jobs,
        services.settings,
        roles=who.roles,
    )


# --- shared schemas -----------------------------------------------------------------


class Instant(fields.AwareDateTime):
    """An aware date and time whose moment the node can hold: within the years 1 to
    9999 in UTC. ``0001-01-01T00:00:00+01:00`` is valid ISO 8601, but its moment lies in
    the year 0, which no datetime holds: storing it, or comparing it with a moment of
    another offset, failed with an OverflowError (a 500), so it is refused here."""

    default_error_messages = {"range": "must fall within the years 1 to 9999 in UTC"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment: datetime = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment.astimezone(UTC)
        except OverflowError as exc:
            raise self.make_error("range") from exc
        return moment


# A cursor is what ``account_node.pagination`` wrote: base64url text. Anything else is
# refused by name, and the query stays short enough for the server's request line.
CURSOR = validate.And(
    validate.Length(max=512),
    validate.Regexp(r"[A-Za-z0-9_-]*\Z", error="not a cursor this node gave out"),
)


class PageArgs(Schema):
    cursor = fields.String(validate=CURSOR)
    limit = fields.Integer(validate=validate.Range(min=1, max=200), load_default=25)


def page_body(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}
