"""Terms that never fall due: refused where targets meet a calendar, harmless if they arise.

A year of business minutes on a calendar open a minute a week runs out in the year 12000;
a calendar whose holidays close the years ahead holds no due moment at all. An SLA whose
targets do not run out within ten years on its calendar is refused, naming them, and so
is a calendar change that would leave an SLA so. Time can still bring such a calendar
about (its holidays were listed years ahead): a request raised then is raised, read and
worked all the same, and its clock never falls due.
"""

from __future__ import annotations

from datetime import date, timedelta

from tests.integration.services.requests.conftest import targets

A_MINUTE_A_WEEK = {"timezone": "UTC", "weekly": {"mon": [["09:00", "09:01"]]}}
A_YEAR = 366 * 24 * 60  # the longest target there is, in minutes


def test_an_sla_whose_targets_outlast_ten_years_of_its_calendar_is_refused_naming_them(desk):
    minute = desk.created("/api/v1/calendars", {"name": "Minute", "definition": A_MINUTE_A_WEEK})
    slow = {p: {"response": 60, "resolution": A_YEAR} for p in ("p1", "p2", "p3", "p4")}
    refused = desk.post(
        "/api/v1/slas", {"name": "Slow", "calendar_id": minute["id"], "targets": slow}
    )
    assert refused.status_code == 422
    errors = refused.get_json()["errors"]
    assert set(errors) == {f"targets.{p}.resolution" for p in ("p1", "p2", "p3", "p4")}
    assert (
        "do not run out within ten years on calendar Minute" in errors["targets.p4.resolution"][0]
    )

    # Ten years of one minute a week hold 522 minutes: the standard SLA's p3 and p4
    # resolution targets (960 and 1920 minutes) could not move there.
    moved = desk.patch(f"/api/v1/slas/{desk.standard}", {"calendar_id": minute["id"]})
    assert moved.status_code == 422
    assert set(moved.get_json()["errors"]) == {"targets.p3.resolution", "targets.p4.resolution"}
    assert desk.get(f"/api/v1/slas/{desk.standard}").get_json()["calendar_id"] == desk.calendar


def test_a_calendar_change_that_would_leave_its_slas_without_a_due_moment_is_refused(desk):
    changed = desk.patch(f"/api/v1/calendars/{desk.calendar}", {"definition": A_MINUTE_A_WEEK})
    assert changed.status_code == 422
    [customer, standard] = changed.get_json()["errors"]["definition"]
    assert customer.startswith("SLA Customer has a target of 960 business minutes")
    assert standard.startswith("SLA Standard has a target of 1920 business minutes")
    assert desk.get(f"/api/v1/calendars/{desk.calendar}").get_json()["definition"]["weekly"][
        "mon"
    ] == [["00:00", "24:00"]]


def test_a_request_whose_calendar_has_closed_the_years_ahead_is_raised_and_never_falls_due(
    app, desk, clock
):
    # Open an hour on Mondays, with every Monday a holiday for eleven years after the
    # next: accepted today (the next Monday's hour holds every target), none left after.
    today = clock.now().date()
    monday = today + timedelta(days=7 - today.weekday())
    closed = [(monday + timedelta(weeks=w)).isoformat() for w in range(1, 11 * 53)]
    hour = {"timezone": "UTC", "weekly": {"mon": [["09:00", "10:00"]]}, "holidays": closed}
    calendar = desk.created("/api/v1/calendars", {"name": "Closing", "definition": hour})
    sla = desk.created(
        "/api/v1/slas",
        {"name": "Quick", "calendar_id": calendar["id"], "targets": targets(15, 30)},
    )
    service = desk.created("/api/v1/services", {"name": "Archive", "default_sla_id": sla["id"]})
    clock.advance(monday - today + timedelta(days=1))
    jobs = app.extensions["trustdesk"].jobs

    raised = desk.raise_request("admin", service_id=service["id"])

    assert raised["sla"]["name"] == "Quick"
    for clock_name in ("response", "resolution"):
        reading = raised["sla"][clock_name]
        assert reading["due"] == reading["at_risk_at"] == "9999-12-30T00:00:00+00:00"
        assert reading["state"] == "on_track"
    checks = [args for func, args in jobs.pending_calls() if raised["id"] in args]
    assert checks == [], "a check was scheduled for the year 9999"
    read = desk.get(f"/api/v1/requests/{raised['id']}").get_json()
    assert read["sla"]["resolution"]["due"] == "9999-12-30T00:00:00+00:00"
    worked = desk.patch(f"/api/v1/requests/{raised['id']}", {"status": "in_progress"})
    assert worked.status_code == 200, worked.get_data(as_text=True)
    listed = desk.get("/api/v1/requests", sla_state="on_track").get_json()["items"]
    assert raised["id"] in [item["id"] for item in listed]
    assert date.fromisoformat(closed[-1]) > monday + timedelta(days=3660)


def test_a_calendar_stored_before_stricter_input_checks_still_serves_its_requests(app, desk):
    """Input must now name an IANA zone; ``posix/Europe/Amsterdam`` was accepted before,
    and stays frozen on requests and saved calendars, which must keep working."""
    from sqlalchemy import update

    from account_node.db import db
    from account_node.tenancy import AccountScope, bind_scope
    from services.requests.models import Request
    from services.sla.models import BusinessCalendar

    legacy = {"timezone": "posix/Europe/Amsterdam", "weekly": {"mon": [["09:00", "17:00"]]}}
    assert (
        desk.post("/api/v1/calendars", {"name": "Legacy", "definition": legacy}).status_code == 422
    )
    raised = desk.raise_request()
    with app.app_context():
        bind_scope(db.session(), AccountScope(desk.account.id))
        db.session.execute(
            update(Request).where(Request.id == raised["id"]).values(sla_calendar=legacy)
        )
        db.session.execute(
            update(BusinessCalendar)
            .where(BusinessCalendar.id == desk.calendar)
            .values(definition=legacy)
        )
        db.session.commit()

    assert desk.get(f"/api/v1/requests/{raised['id']}").status_code == 200
    assert desk.get("/api/v1/requests").status_code == 200
    moved = desk.patch(f"/api/v1/requests/{raised['id']}", {"status": "in_progress"})
    assert moved.status_code == 200, moved.get_data(as_text=True)
    quick = {"name": "Quick", "calendar_id": desk.calendar, "targets": targets(15, 30)}
    assert desk.post("/api/v1/slas", quick).status_code == 201
