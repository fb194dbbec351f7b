"""What every portal page shares: the blueprint, who is signed in, their unit of work.

A portal view is an edge like an API endpoint (DESIGN section 2): it reads the session,
builds a ``Work`` for the signed-in person exactly as ``account_node.http.work()`` does for
a bearer token, calls a service and renders. It never queries and never commits: the
app's response hook commits a response under 400 and rolls back everything else, so a
form answered with its errors (422) has written nothing.

Access rules, in the order they are checked by ``signed_in``:
1. no session (or an expired or tampered one): back to login, then to the page asked for;
2. the wrong role: a 403 page;
3. a POST without a valid CSRF token: a 400 page ("the form expired").
Objects of another account are a 404 page, because the services answer ``NotFound``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import (
    Blueprint,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf, validate_csrf
from sqlalchemy.exc import IntegrityError
from wtforms.validators import ValidationError as CSRFError

from account_node.context import Work
from account_node.db import db
from account_node.errors import Forbidden, NodeError
from account_node.http import concurrent_change, node, work_for
from account_node.identity.accounts import Accounts
from account_node.identity.authentication import Authenticator
from account_node.identity.models import Account, Person
from account_node.identity.principal import Principal
from account_node.identity.service import People

portal_blueprint = Blueprint(
    "portal",
    __name__,
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/static/portal",
)
F = TypeVar("F", bound=Callable[..., Any])
STAFF = frozenset({"admin", "specialist"})


class FormExpired(NodeError):
    status = 400
    code = "csrf_failed"
    title = "The form expired"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person as pages need them: roles, account, node, time zone."""

    principal: Principal
    person: Person
    account: Account
    node_name: str

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.person.time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @property
    def roles(self) -> frozenset[str]:
        return self.principal.roles

    def has(self, *roles: str) -> bool:
        return self.principal.has(*roles)

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF)


def authenticator() -> Authenticator:
    services = node()
    return Authenticator(db.session(), services.clock, services.passwords, services.settings)


def session_principal() -> Principal | None:
    person_id, account_id = session.get("person_id"), session.get("account_id")
    if not person_id or not account_id:
        return None
    # A session made before sessions held an epoch holds the first one, 0: upgrading
    # signs nobody out, and any sign-out or new password since ends it all the same.
    who = authenticator().session_person(account_id, person_id, session.get("epoch", 0))
    if who is None:
        session.clear()
    return who


def current_viewer() -> Viewer | None:
    """The signed-in viewer of this request, looked up once."""
    if "viewer" in g:
        return cast(Viewer | None, g.viewer)
    who = session_principal()
    found = None
    if who is not None:
        services = node()
        work = work_for(who)
        account = Accounts(
            db.session(), services.clock, services.jobs, services.settings, services.passwords
        ).get(who.account_id)
        person = People(work, services.passwords).get(who.person_id)
        found = Viewer(who, person, account, services.settings.node_name)
    g.viewer = found
    return found


def viewer() -> Viewer:
    found = current_viewer()
    assert found is not None, "viewer() outside a signed_in view"
    return found


def portal_work() -> Work:
    """The unit of work of the signed-in person: their account, their name on every change."""
    return work_for(viewer().principal)


def safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce people to another site."""
    if not target:
        return url_for("portal.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("portal.home")
    if "\\" in target or any(ord(c) < 32 for c in target):
        return url_for("portal.home")
    return target


def _return_path() -> str:
    """Where to come back after signing in: this page, or for a form, the page it was on."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return url_for("portal.home")


def signed_in(*roles: str) -> Callable[[F], F]:
    """Require a session (else login and back), one of ``roles``, and CSRF on POST."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            who = current_viewer()
            if who is None:
                return redirect(url_for("portal.login", next=_return_path()))
            if roles and not who.has(*roles):
                raise Forbidden(f"This page is for the roles: {', '.join(roles)}.")
            if request.method == "POST":
                check_csrf()
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def check_csrf() -> None:
    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(token)
    except CSRFError as exc:
        raise FormExpired("The form expired or was not sent from this site; try again.") from exc


@portal_blueprint.app_context_processor
def _globals() -> dict[str, Any]:
    return {"csrf_token": generate_csrf, "viewer": g.get("viewer")}


@portal_blueprint.errorhandler(NodeError)
def _error_page(error: NodeError) -> Any:
    g.setdefault("viewer", None)
    titles = {404: "Not found", 403: "Not allowed", 400: "Something went wrong"}
    title = titles.get(error.status, error.title)
    return render_template("errors/page.html", error=error, title=title), error.status


@portal_blueprint.errorhandler(IntegrityError)
def _collided_page(error: IntegrityError) -> Any:
    return _error_page(concurrent_change(error))


# --- template filters ----------------------------------------------------------------


@portal_blueprint.app_template_filter("local")
def local_time(moment: datetime | None, fmt: str = "%a %-d %b %Y, %H:%M") -> str:
    if moment is None:
        return "—"
    who = g.get("viewer")
    zone = who.zone if who is not None else ZoneInfo("UTC")
    try:
        return moment.astimezone(zone).strftime(fmt + " %Z")
    except OverflowError:
        # Within the years 1 to 9999 in UTC, but not in the viewer's zone (the last
        # hours of 9999 east of UTC, a peer's or an admin's far date): shown in UTC
        # rather than failing the whole page.
        return moment.astimezone(UTC).strftime(fmt + " %Z")


@portal_blueprint.app_template_filter("duration")
def duration(value: Any) -> str:
    seconds = int(value.total_seconds() if hasattr(value, "total_seconds") else value)
    sign = "-" if seconds < 0 else ""
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if mins or not parts:
        parts.append(f"{mins} min")
    return sign + " ".join(parts)


@portal_blueprint.app_template_filter("label")
def label(value: Any) -> str:
    """A state or kind as words: ``waiting_on_customer`` → "Waiting on customer". Any
    value is shown as text: some come from a peer's answer."""
    return str(value if value is not None else "").replace("_", " ").capitalize()


@portal_blueprint.app_template_filter("options")
def options(items: Any, text: str = "name", value: str = "id") -> list[tuple[str, str]]:
    """``(value, text)`` pairs for a select, from objects with those attributes."""
    return [(str(getattr(i, value)), str(getattr(i, text))) for i in items]


@portal_blueprint.app_template_filter("changes")
def changes(event: Any, limit: int = 4) -> list[str]:
    """An audit event's change in a few lines: ``field: before → after``, only what moved."""
    before, after = event.before or {}, event.after or {}
    lines = []
    for key in [*after, *(k for k in before if k not in after)]:
        old, new = before.get(key), after.get(key)
        if key in before and old == new:
            continue
        text = _short(new) if key not in before else f"{_short(old)} → {_short(new)}"
        lines.append(f"{key}: {text}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"and {len(lines) - limit} more"]
    return lines


def _short(value: Any, width: int = 36) -> str:
    if value is None:
        text = "—"
    elif isinstance(value, str):
        text = value
    else:  # lists, numbers, booleans as JSON, the form the chain hashes
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 1] + "…"


# The portal's pages load only their own script and style, and no other site may frame
# them: one-button forms (rotate a key, accept a trust, expire an offering) must not be
# clickable through another page's overlay.
PAGE_POLICY = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@portal_blueprint.after_request
def _private(response: Any) -> Any:
    """Pages keep to their own origin (``PAGE_POLICY``); signed-in pages are private:
    no shared or back-button cache may keep them."""
    if response.mimetype == "text/html":
        for name, value in PAGE_POLICY.items():
            response.headers.setdefault(name, value)
        if g.get("viewer") is not None:
            response.headers["Cache-Control"] = "no-store"
    return response
