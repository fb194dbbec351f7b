"""Portal login, logout and home: a session cookie, CSRF on every form, lockout."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_wtf.csrf import generate_csrf, validate_csrf
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError as CSRFError

from account_node.db import db
from account_node.errors import NotAuthenticated
from account_node.http import node
from account_node.identity.accounts import Accounts
from account_node.identity.authentication import Authenticator

portal_blueprint = Blueprint(
    "portal",
    __name__,
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/static/portal",
)


@portal_blueprint.app_context_processor
def _csrf() -> dict[str, Any]:
    return {"csrf_token": generate_csrf}


def _signed_in() -> Any:
    person_id, account_id = session.get("person_id"), session.get("account_id")
    if not person_id or not account_id:
        return None
    who = _authenticator().session_person(account_id, person_id)
    if who is None:
        session.clear()
    return who


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce people to another site."""
    if not target:
        return url_for("portal.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("portal.home")
    return target


@portal_blueprint.get("/")
def home() -> Any:
    who = _signed_in()
    if who is None:
        return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
    services = node()
    account = Accounts(
        db.session(), services.clock, services.jobs, services.settings, services.passwords
    ).get(who.account_id)
    return render_template("auth/home.html", who=who, account=account)


@portal_blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = {"account": "", "email": ""}
    error = None
    status = 200
    if request.method == "POST":
        form = {k: (request.form.get(k) or "").strip() for k in ("account", "email")}
        try:
            validate_csrf(request.form.get("csrf_token"))
            who = _authenticate(form, request.form.get("password") or "")
        except CSRFError:
            error, status = "The form expired; please try again.", 400
        except NotAuthenticated as exc:
            db.session.commit()  # keep the failed-login count
            error, status = exc.detail, 401
        else:
            db.session.commit()
            session.clear()
            session.permanent = True
            session.update(person_id=who.person_id, account_id=who.account_id)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form, error=error), status


def _authenticator() -> Authenticator:
    services = node()
    return Authenticator(db.session(), services.clock, services.passwords, services.settings)


def _authenticate(form: dict[str, str], password: str) -> Any:
    return _authenticator().password(form["account"], form["email"], password)


@portal_blueprint.post("/logout")
def logout() -> Response:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except CSRFError:
        return redirect(url_for("portal.home"))
    session.clear()
    return redirect(url_for("portal.login"))
