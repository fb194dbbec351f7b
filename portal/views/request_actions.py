"""What people do on a request page: reply or note, change status, assign, set the SLA.

Each action posts to its own URL, calls one service method and goes back to the request
page (303). A refused action shows the request page again with the message next to the
form that caused it (422 for bad input, 409 for a move the status machine refuses), and
nothing is written.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for

from account_node.db import db
from account_node.errors import Conflict, ValidationFailed
from portal.views.forms import FORM, Form
from portal.views.requests import RAISERS, request_page
from portal.views.web import portal_blueprint, portal_work, signed_in, viewer
from services.requests.service import UNSET, Requests

STAFF = ("admin", "specialist")


def _back(request_id: str, message: str) -> Any:
    flash(message)
    return redirect(url_for("portal.show_request", request_id=request_id) + "#timeline", 303)


def _again(request_id: str, name: str, form: Form, status: int = 422) -> Any:
    # Show the page as stored: nothing of the refused action, which is rolled back anyway.
    db.session.rollback()
    return request_page(request_id, {name: form}, status)


@portal_blueprint.post("/requests/<request_id>/notes")
@signed_in(*RAISERS)
def add_note(request_id: str) -> Any:
    form = Form.posted("body", "visibility")
    form.require("body")
    form.longest("body", 20_000)
    public = form.get("visibility", "public") != "internal"
    if form.ok:
        try:
            Requests(portal_work()).add_note(request_id, form.get("body"), public=public)
        except ValidationFailed as exc:
            # At the top of the form: the choice of who sees it is not on every page.
            form.take(exc, {"body": "body", "public": FORM})
        except Conflict as exc:
            form.add(FORM, exc.detail)
            return _again(request_id, "note", form, 409)
        else:
            return _back(request_id, "Your reply was added." if public else "Internal note added.")
    return _again(request_id, "note", form)


@portal_blueprint.post("/requests/<request_id>/status")
@signed_in(*RAISERS)
def change_status(request_id: str) -> Any:
    form = Form.posted("status", "reason")
    form.require("status")
    form.longest("reason", 2000)
    if form.ok:
        try:
            Requests(portal_work()).change_status(
                request_id, form.get("status"), form.get("reason")
            )
        except Conflict as exc:
            form.add("status", exc.detail[:1].upper() + exc.detail[1:] + ".")
            return _again(request_id, "status", form, 409)
        else:
            return _back(request_id, f"Status changed to {form.get('status').replace('_', ' ')}.")
    return _again(request_id, "status", form)


@portal_blueprint.post("/requests/<request_id>/assign")
@signed_in(*STAFF)
def assign(request_id: str) -> Any:
    """Assign to me (``to=me``) or route to a team (``team``; empty means no team)."""
    form = Form.posted("to", "team")
    changes: dict[str, Any] = {"team_id": UNSET, "assignee_id": UNSET}
    if form.get("to") == "me":
        changes["assignee_id"] = viewer().person.id
    elif form.get("to") == "nobody":
        changes["assignee_id"] = None
    else:  # the assignee stays if the team holds them (``Requests.assign``)
        changes["team_id"] = form.get("team") or None
    try:
        Requests(portal_work()).assign(request_id, **changes)
    except ValidationFailed as exc:
        form.take(exc, {"team_id": "team", "assignee_id": "to"})
        return _again(request_id, "assign", form)
    except Conflict as exc:
        form.add(FORM, exc.detail)
        return _again(request_id, "assign", form, 409)
    return _back(request_id, "Assignment saved.")


@portal_blueprint.post("/requests/<request_id>/sla")
@signed_in(*STAFF)
def override_sla(request_id: str) -> Any:
    form = Form.posted("sla", "reason")
    form.require("sla", "reason")
    form.longest("reason", 500)
    if form.ok:
        try:
            Requests(portal_work()).override_sla(request_id, form.get("sla"), form.get("reason"))
        except ValidationFailed as exc:
            form.take(exc, {"sla_id": "sla", "reason": "reason"})
        except Conflict as exc:
            form.add(FORM, exc.detail)
            return _again(request_id, "sla", form, 409)
        else:
            return _back(request_id, "SLA overridden; due times recomputed.")
    return _again(request_id, "sla", form)
