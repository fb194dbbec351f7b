"""Administration of calendars (with a live due-date preview) and SLA terms.

The calendar form is the JSON form of DESIGN section 4 laid out for people: a time zone,
one line of intervals per weekday (``09:00-12:00, 13:00-17:00``), holidays one date per
line, and an optional country and subdivision. The preview answers "a request raised at
this moment with this budget is due when?" without saving anything: the page's script
asks ``/admin/calendars/preview`` as the person types; without script the Preview button
makes the same round trip and re-renders the form.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for

from account_node.errors import ValidationFailed
from portal.views.forms import Form
from portal.views.web import portal_blueprint, portal_work, signed_in, viewer
from services.sla.models import PRIORITIES
from services.sla.service import MAX_TARGET_MINUTES, PAUSABLE, Calendars, Slas, preview

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CALENDAR_FIELDS = (
    "name", "timezone", *DAYS, "holidays", "holiday_country", "holiday_subdivision",
    "preview_start", "preview_hours",
)  # fmt: skip
DEFINITION_ERRORS = {
    "definition": "_form",
    "calendar": "_form",
    **{f"{prefix}.weekly.{d}": d for d in DAYS for prefix in ("definition", "calendar")},
    **{f"{prefix}.{name}": name for name in ("timezone", "holidays", "holiday_country",
       "holiday_subdivision") for prefix in ("definition", "calendar")},
}  # fmt: skip
TARGET_FIELDS = tuple(f"{p}_{clock}" for p in PRIORITIES for clock in ("response", "resolution"))
LISTED = 200


# --- calendars -------------------------------------------------------------------------


def _calendar_page(form: Form, status: int = 200, result: dict[str, Any] | None = None) -> Any:
    calendars = Calendars(portal_work()).page(None, LISTED).items
    return render_template(
        "admin/calendars.html", calendars=calendars, form=form, days=DAYS, result=result
    ), status


def _definition(form: Form) -> dict[str, Any]:
    """The calendar's JSON form from the fields; syntax errors go next to their field."""
    weekly: dict[str, list[list[str]]] = {}
    for day in DAYS:
        intervals = []
        for part in filter(None, (p.strip() for p in form.get(day).split(","))):
            start, dash, end = part.partition("-")
            if not dash:
                form.add(day, f"Write each interval as HH:MM-HH:MM, not {part!r}.")
                break
            intervals.append([start.strip(), end.strip()])
        if intervals:
            weekly[day] = intervals
    holidays = [line.strip() for line in form.get("holidays").splitlines() if line.strip()]
    for value in holidays:
        try:
            date.fromisoformat(value)
        except ValueError:
            form.add("holidays", f"{value!r} is not a date (YYYY-MM-DD).")
    return {
        "timezone": form.get("timezone") or "UTC",
        "weekly": weekly,
        "holidays": holidays,
        "holiday_country": form.get("holiday_country").upper() or None,
        "holiday_subdivision": form.get("holiday_subdivision").upper() or None,
    }


def _preview(form: Form, definition: dict[str, Any]) -> dict[str, Any] | None:
    """Due moment for the preview fields, or None with errors next to the fields."""
    zone = viewer().zone
    start = form.moment("preview_start", zone) or portal_work().clock.now()
    hours = form.get("preview_hours") or "8"
    try:
        budget = float(hours)
    except ValueError:
        form.add("preview_hours", "Enter a number of business hours, such as 8 or 2.5.")
        return None
    if not 0 <= budget <= 87_840:
        form.add("preview_hours", "Enter from 0 to 87840 hours (ten years).")
        return None
    if not form.ok:
        return None
    try:
        answer = preview(definition, start, [], seconds=int(budget * 3600))
    except ValidationFailed as exc:
        form.take(exc, {**DEFINITION_ERRORS, "seconds": "preview_hours"})
        return None
    due: datetime = answer["due"]
    try:
        shown = due.astimezone(zone)
    except OverflowError:  # the last hours of 9999 in UTC are the year 10000 east of it
        shown = due
    return {"start": start, "hours": budget, "due": due, "due_local": shown}


@portal_blueprint.get("/admin/calendars")
@signed_in("admin")
def calendars() -> Any:
    now = portal_work().clock.now().astimezone(viewer().zone)
    form = Form(
        {
            "timezone": str(viewer().zone),
            **{d: "09:00-17:00" for d in DAYS[:5]},
            "preview_start": now.strftime("%Y-%m-%dT%H:%M"),
            "preview_hours": "8",
        }
    )
    return _calendar_page(form)


@portal_blueprint.post("/admin/calendars")
@signed_in("admin")
def create_calendar() -> Any:
    form = Form.posted(*CALENDAR_FIELDS)
    definition = _definition(form)
    if request.form.get("action") == "preview":
        result = _preview(form, definition)
        return _calendar_page(form, 200 if form.ok else 422, result)
    form.require("name")
    form.longest("name", 120)
    if form.ok:
        try:
            created = Calendars(portal_work()).create(form.get("name"), definition)
        except ValidationFailed as exc:
            form.take(exc, {"name": "name", **DEFINITION_ERRORS})
        else:
            flash(f"Calendar {created.name} created.")
            return redirect(url_for("portal.calendars"), 303)
    return _calendar_page(form, 422)


@portal_blueprint.post("/admin/calendars/preview")
@signed_in("admin")
def calendar_preview() -> Any:
    """The live preview's answer, as JSON for the page's script; saves nothing."""
    form = Form.posted(*CALENDAR_FIELDS)
    result = _preview(form, _definition(form))
    if result is None:
        return jsonify({"errors": form.errors}), 422
    due = result["due_local"]
    return jsonify(
        {
            "due": result["due"].isoformat(),
            "due_text": due.strftime("%a %-d %b %Y, %H:%M %Z"),
            "zone": str(viewer().zone),
        }
    )


# --- SLAs --------------------------------------------------------------------------------


def _sla_page(form: Form, status: int = 200) -> Any:
    work = portal_work()
    return render_template(
        "admin/slas.html",
        slas=Slas(work).page(None, LISTED).items,
        calendars={c.id: c for c in Calendars(work).page(None, LISTED).items},
        form=form,
        priorities=PRIORITIES,
        pausable=PAUSABLE,
    ), status


@portal_blueprint.get("/admin/slas")
@signed_in("admin")
def slas() -> Any:
    defaults = {"p1": (30, 240), "p2": (60, 480), "p3": (240, 960), "p4": (480, 2400)}
    values: dict[str, Any] = {"pausing": ["waiting_for_customer"]}
    for p, (response, resolution) in defaults.items():
        values[f"{p}_response"], values[f"{p}_resolution"] = str(response), str(resolution)
    return _sla_page(Form(values))


@portal_blueprint.post("/admin/slas")
@signed_in("admin")
def create_sla() -> Any:
    form = Form.posted("name", "calendar", *TARGET_FIELDS, lists=("pausing",))
    form.require("name", "calendar")
    form.longest("name", 120)
    targets: dict[str, dict[str, int | None]] = {}
    for p in PRIORITIES:
        targets[p] = {
            clock: form.whole_number(f"{p}_{clock}", low=1, high=MAX_TARGET_MINUTES)
            for clock in ("response", "resolution")
        }
    if form.ok:
        try:
            created = Slas(portal_work()).create(
                form.get("name"), form.get("calendar"), targets, form.get("pausing")
            )
        except ValidationFailed as exc:
            mapping = {"name": "name", "calendar_id": "calendar", "pausing_statuses": "pausing"}
            mapping.update({f"targets.{p}": f"{p}_response" for p in PRIORITIES})
            form.take(exc, mapping)
        else:
            flash(f"SLA {created.name} created.")
            return redirect(url_for("portal.slas"), 303)
    return _sla_page(form, 422)
