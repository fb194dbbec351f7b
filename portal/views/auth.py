"""Portal login, logout and home: a session cookie, CSRF on every form, lockout."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from account_node.db import db
from account_node.errors import NotAuthenticated
from portal.views.forms import Form
from portal.views.web import (
    FormExpired,
    authenticator,
    check_csrf,
    portal_blueprint,
    portal_work,
    safe_next,
    session_principal,
    signed_in,
    viewer,
)
from services.requests.service import Requests
from services.requests.store import RequestFilter


@portal_blueprint.get("/")
@signed_in()
def home() -> Any:
    """A start page per role; end users see what waits for their answer first."""
    who = viewer()
    waiting = []
    if who.has("end_user", "admin", "specialist"):
        mine = RequestFilter(statuses=("waiting_for_customer",), requester_id=who.person.id)
        waiting = Requests(portal_work()).page(mine, None, 10).items
    return render_template("auth/home.html", waiting=waiting)


@portal_blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = Form({"account": request.args.get("account", ""), "email": ""})
    error, status = None, 200
    if request.method == "POST":
        form = Form.posted("account", "email")
        try:
            check_csrf()
            who = authenticator().password(
                form.get("account"), form.get("email"), request.form.get("password") or ""
            )
        except FormExpired as exc:
            error, status = exc.detail, 400
        except NotAuthenticated as exc:
            db.session.commit()  # keep the failed-login count
            error, status = exc.detail, 401
        else:
            epoch = authenticator().session_epoch(who.account_id, who.person_id)
            db.session.commit()
            session.clear()
            session.permanent = True
            session.update(person_id=who.person_id, account_id=who.account_id, epoch=epoch)
            return redirect(safe_next(request.args.get("next")), 303)
    return render_template("auth/login.html", form=form, error=error), status


@portal_blueprint.post("/logout")
def logout() -> Response:
    try:
        check_csrf()
    except FormExpired:
        return redirect(url_for("portal.home"))
    person_id, account_id = session.get("person_id"), session.get("account_id")
    if person_id and account_id and session_principal() is not None:
        authenticator().end_sessions(account_id, person_id)  # every copy of the cookie
        db.session.commit()
    session.clear()
    return redirect(url_for("portal.login"))
