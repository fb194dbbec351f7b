"""Administration of people (roles, time zone, first password) and teams (members)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for

from account_node.errors import ValidationFailed
from account_node.http import node
from account_node.identity.models import ROLES
from account_node.identity.passwords import MIN_LENGTH
from account_node.identity.service import People, Teams
from account_node.zones import zone_names
from portal.views.forms import Form
from portal.views.web import portal_blueprint, portal_work, signed_in

LISTED = 200
ZONES = sorted(z for z in zone_names() if "/" in z and not z.startswith("Etc/"))


def _people() -> People:
    return People(portal_work(), node().passwords)


# --- people ------------------------------------------------------------------------------


def _people_page(form: Form, status: int = 200) -> Any:
    return render_template(
        "admin/people.html",
        people=_people().page(None, LISTED).items,
        roles=ROLES,
        zones=["UTC", *ZONES],
        form=form,
        min_password=MIN_LENGTH,
    ), status


@portal_blueprint.get("/admin/people")
@signed_in("admin")
def people() -> Any:
    return _people_page(Form({"roles": ["end_user"], "time_zone": "UTC"}))


@portal_blueprint.post("/admin/people")
@signed_in("admin")
def create_person() -> Any:
    form = Form.posted("email", "name", "time_zone", "password", lists=("roles",))
    form.require("email", "name")
    form.longest("email", 254)
    form.longest("name", 200)
    if not form.get("roles"):
        form.add("roles", "Choose at least one role.")
    if form.ok:
        try:
            created = _people().create(
                form.get("email"),
                form.get("name"),
                form.get("roles"),
                password=form.get("password") or None,
                time_zone=form.get("time_zone") or "UTC",
            )
        except ValidationFailed as exc:
            form.take(exc)
        else:
            flash(f"{created.name} can now sign in as {created.email}.")
            return redirect(url_for("portal.people"), 303)
    form.values["password"] = ""  # never echo a password back into the page
    return _people_page(form, 422)


# --- teams -------------------------------------------------------------------------------


def _teams_page(form: Form, status: int = 200) -> Any:
    staff = [p for p in _people().page(None, LISTED).items if p.active]
    return render_template(
        "admin/teams.html",
        teams=Teams(portal_work()).page(None, LISTED).items,
        people=staff,
        form=form,
    ), status


@portal_blueprint.get("/admin/teams")
@signed_in("admin")
def teams() -> Any:
    return _teams_page(Form())


@portal_blueprint.post("/admin/teams")
@signed_in("admin")
def create_team() -> Any:
    form = Form.posted("name", "description", "shares", lists=("members",))
    form.require("name")
    form.longest("name", 120)
    form.longest("description", 1000)
    if form.ok:
        try:
            created = Teams(portal_work()).create(
                form.get("name"),
                form.get("description"),
                member_ids=form.get("members"),
                shares_requests=form.get("shares") == "on",
            )
        except ValidationFailed as exc:  # a member id of another account, or made up
            form.take(exc, {"member_ids": "members"})
        else:
            flash(f"Team {created.name} created.")
            return redirect(url_for("portal.teams"), 303)
    return _teams_page(form, 422)
