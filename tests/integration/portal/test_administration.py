"""Admins: services, offerings, SLAs, calendars with a preview, CIs, teams, people; audit."""

from __future__ import annotations

import pytest

from tests.integration.portal.conftest import errors_next_to

WEEK = {
    "mon": "09:00-17:00",
    "tue": "09:00-17:00",
    "wed": "09:00-17:00",
    "thu": "09:00-17:00",
    "fri": "09:00-17:00",
    "sat": "",
    "sun": "",
}


def _names(desk, path: str) -> list[str]:
    items = desk.get(path, limit=200).get_json()["items"]
    return [i.get("name") or i.get("email") for i in items]


def test_an_admin_creates_a_service(as_role, desk):
    admin = as_role("admin")
    response = admin.post(
        "/admin/services", {"name": "Backups", "sla": desk.standard}, page="/admin/services"
    )
    assert response.status_code == 303
    assert "Backups" in admin.text("/admin/services")
    assert "Backups" in _names(desk, "/api/v1/services")


def test_a_duplicate_service_name_is_an_error_next_to_the_name(as_role, desk):
    admin = as_role("admin")
    response = admin.post(
        "/admin/services",
        {"name": "Printing", "description": "again", "sla": desk.standard},
        page="/admin/services",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert errors_next_to(html, "name") == "A service with this name already exists"
    assert "again</textarea>" in html
    assert _names(desk, "/api/v1/services") == ["Printing"]


def test_an_admin_offers_and_expires_an_offering(as_role, desk):
    admin = as_role("admin")
    response = admin.post(
        "/admin/offerings",
        {"service": desk.service, "name": "Printing West", "team": desk.team, "sla": ""},
        page="/admin/offerings",
    )
    assert response.status_code == 303
    offering = next(
        o for o in desk.get("/api/v1/offerings").get_json()["items"] if o["name"] == "Printing West"
    )
    assert offering["open"]
    page = admin.text("/admin/offerings")
    assert "New requests stop at once" in page  # the confirmation says what will stop
    expired = admin.post(f"/admin/offerings/{offering['id']}/expire", {}, page="/admin/offerings")
    assert expired.status_code == 303
    assert not desk.get(f"/api/v1/offerings/{offering['id']}").get_json()["open"]


def test_an_offering_form_with_errors_names_each_field(as_role, desk):
    response = as_role("admin").post(
        "/admin/offerings",
        {
            "service": "nope",
            "name": "X",
            "team": "",
            "starts_at": "2026-12-10T09:00",
            "ends_at": "2026-12-01T09:00",
        },
        page="/admin/offerings",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert errors_next_to(html, "team") == "This field is required."
    assert len(desk.get("/api/v1/offerings").get_json()["items"]) == 1


def test_an_admin_creates_an_sla_with_targets_per_priority(as_role, desk):
    form = {"name": "Gold", "calendar": desk.calendar, "pausing": "waiting_for_customer"}
    for p, (a, b) in {"p1": (15, 60), "p2": (30, 120), "p3": (60, 240), "p4": (120, 480)}.items():
        form[f"{p}_response"], form[f"{p}_resolution"] = str(a), str(b)
    admin = as_role("admin")
    assert admin.post("/admin/slas", form, page="/admin/slas").status_code == 303
    gold = next(s for s in desk.get("/api/v1/slas").get_json()["items"] if s["name"] == "Gold")
    assert gold["targets"]["p1"] == {"response": 15, "resolution": 60}
    assert "Gold" in admin.text("/admin/slas")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("p1_response", "soon", "Enter a whole number."),
        ("p2_response", "0", "Enter a number from 1"),
        ("p3_response", "999", "The response target cannot be longer than the resolution"),
    ],
)
def test_bad_sla_targets_are_shown_next_to_the_target(as_role, desk, field, value, message):
    form = {"name": "Bad", "calendar": desk.calendar}
    for p in ("p1", "p2", "p3", "p4"):
        form[f"{p}_response"], form[f"{p}_resolution"] = "10", "100"
    form[field] = value
    response = as_role("admin").post("/admin/slas", form, page="/admin/slas")
    assert response.status_code == 422
    assert errors_next_to(response.get_data(as_text=True), field).startswith(message)
    assert "Bad" not in _names(desk, "/api/v1/slas")


def test_an_admin_creates_a_calendar(as_role, desk):
    form = {
        "name": "Office NL",
        "timezone": "Europe/Amsterdam",
        **WEEK,
        "holidays": "2026-12-24\n2026-12-31",
        "holiday_country": "nl",
        "action": "create",
    }
    assert (
        as_role("admin").post("/admin/calendars", form, page="/admin/calendars").status_code == 303
    )
    made = next(
        c for c in desk.get("/api/v1/calendars").get_json()["items"] if c["name"] == "Office NL"
    )
    assert made["definition"]["weekly"]["mon"] == [["09:00", "17:00"]]
    assert made["definition"]["holiday_country"] == "NL"
    assert "2026-12-24" in made["definition"]["holidays"]


def test_calendar_mistakes_are_shown_next_to_the_day_and_zone(as_role, desk):
    form = {
        "name": "Broken",
        "timezone": "Mars/Olympus",
        **WEEK,
        "tue": "17:00-09:00",
        "wed": "nine to five",
        "holidays": "christmas",
        "action": "create",
    }
    response = as_role("admin").post("/admin/calendars", form, page="/admin/calendars")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "HH:MM-HH:MM" in errors_next_to(html, "wed")
    assert "is not a date" in errors_next_to(html, "holidays")
    assert 'value="17:00-09:00"' in html and 'value="Mars/Olympus"' in html
    assert "Broken" not in _names(desk, "/api/v1/calendars")
    fixed = {**form, "wed": "09:00-17:00", "holidays": ""}
    response = as_role("admin").post("/admin/calendars", fixed, page="/admin/calendars")
    html = response.get_data(as_text=True)
    assert "Unknown time zone" in errors_next_to(html, "timezone")
    assert "end must be after the start" in errors_next_to(html, "tue")


def test_the_calendar_preview_answers_without_saving(as_role, desk):
    admin = as_role("admin")
    form = {
        "name": "",
        "timezone": "Europe/Amsterdam",
        **WEEK,
        "preview_start": "2026-12-04T16:00",
        "preview_hours": "2",
    }
    live = admin.post("/admin/calendars/preview", form, page="/admin/calendars")
    assert live.status_code == 200
    assert live.get_json()["due"] == "2026-12-07T11:00:00+01:00"  # 16:00 UTC is 17:00 there
    assert live.get_json()["due_text"] == "Mon 7 Dec 2026, 10:00 UTC"  # the admin's own zone
    round_trip = admin.post(
        "/admin/calendars", {**form, "action": "preview"}, page="/admin/calendars"
    )
    assert "Mon 7 Dec 2026, 10:00 UTC" in round_trip.get_data(as_text=True)
    bad = admin.post(
        "/admin/calendars/preview", {**form, "preview_hours": "-1"}, page="/admin/calendars"
    )
    assert bad.status_code == 422 and "preview_hours" in bad.get_json()["errors"]
    assert _names(desk, "/api/v1/calendars") == ["Always"]


def test_the_preview_needs_the_csrf_header(as_role, desk):
    admin = as_role("admin")
    response = admin.post("/admin/calendars/preview", {"timezone": "UTC"}, csrf=False)
    assert response.status_code == 400


def test_an_admin_adds_a_ci_and_a_cycle_is_refused(as_role, desk):
    admin = as_role("admin")
    ok = admin.post(
        "/admin/cis",
        {
            "type": "printer",
            "name": "PRN-302",
            "status": "active",
            "parent": desk.parent_ci,
            "owner": "",
            "sla": "",
        },
        page="/admin/cis",
    )
    assert ok.status_code == 303
    bad = admin.post(
        "/admin/cis", {"type": "printer", "name": "PRN-301", "status": "broken"}, page="/admin/cis"
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "already exists" in errors_next_to(html, "name")
    assert "Must be one of" in errors_next_to(html, "status")


def test_an_admin_creates_a_team_with_members(as_role, desk):
    admin = as_role("admin")
    response = admin.post(
        "/admin/teams",
        {"name": "Network", "members": desk.account.specialist.id},
        page="/admin/teams",
    )
    assert response.status_code == 303
    team = next(t for t in desk.get("/api/v1/teams").get_json()["items"] if t["name"] == "Network")
    assert [m["id"] for m in team["members"]] == [desk.account.specialist.id]
    again = admin.post("/admin/teams", {"name": "Network"}, page="/admin/teams")
    assert again.status_code == 422
    assert "already exists" in errors_next_to(again.get_data(as_text=True), "name")
    stranger = admin.post(
        "/admin/teams", {"name": "Storage", "members": "made-up-person"}, page="/admin/teams"
    )
    assert stranger.status_code == 422
    assert errors_next_to(stranger.get_data(as_text=True), "members")  # beside the field


def test_an_admin_adds_a_person_and_a_bad_one_is_refused_field_by_field(as_role, desk):
    admin = as_role("admin")
    good = {
        "name": "Finn",
        "email": "Finn@Example.test",
        "roles": "end_user",
        "time_zone": "Europe/Berlin",
        "password": "a-long-enough-password",
    }
    assert admin.post("/admin/people", good, page="/admin/people").status_code == 303
    assert "finn@example.test" in _names(desk, "/api/v1/users") or "Finn" in _names(
        desk, "/api/v1/users"
    )
    bad = admin.post(
        "/admin/people",
        {"name": "", "email": "not-an-email", "time_zone": "UTC", "password": "short"},
        page="/admin/people",
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert errors_next_to(html, "name") == "This field is required."
    assert errors_next_to(html, "roles") == "Choose at least one role."
    assert 'value="not-an-email"' in html
    assert 'value="short"' not in html  # a password is never echoed


def test_the_audit_log_shows_events_and_a_verified_chain(as_role, desk):
    desk.raise_request(subject="Audited")
    for role in ("admin", "auditor"):
        html = as_role(role).text("/audit")
        assert "Chain verified." in html and "request.create" in html
    filtered = as_role("auditor").text("/audit?action=team.create")
    assert "team.create" in filtered and "request.create" not in filtered


def test_a_tampered_audit_chain_is_announced_with_the_first_broken_event(app, request):
    from tests.factories.accounts import make_account
    from tests.factories.intruder import intrude
    from tests.integration.portal.conftest import sign_in

    account = make_account(app)
    intrude(
        app,
        request,
        "UPDATE audit_events SET actor_name = 'Mallory' WHERE account_id = :a AND seq = 3",
        a=account.id,
    )
    html = sign_in(app, account, "auditor").text("/audit")
    assert "Chain broken at event #3." in html and 'class="banner warn" role="alert"' in html
    assert "Chain verified." not in html
