"""Dates near the ends of the calendar: a field error where they are typed, and shown in
UTC where the viewer's zone has no such date, never a 500 (portal review).

The last hours of 9999 in UTC are already the year 10000 east of it, and the first hours
of the year 1 are the year 0 west of it. Such a moment can be stored (an offering that
never ends, a peer's due moment), so every page that shows one must still render.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from flask import g

from portal.views.web import local_time
from tests.integration.portal.conftest import sign_in


def _in_zone(app, desk, role: str, zone: str):
    member = getattr(desk.account, role)
    changed = desk.patch(f"/api/v1/users/{member.id}", {"time_zone": zone})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    return sign_in(app, desk.account, role)


def test_an_offering_ending_at_the_last_minute_there_is_leaves_every_page_working(app, desk):
    admin = _in_zone(app, desk, "admin", "UTC")
    created = admin.post(
        "/admin/offerings",
        {"service": desk.service, "name": "Forever", "team": desk.team,
         "ends_at": "9999-12-31T23:59"},
        page="/admin/offerings",
    )  # fmt: skip
    assert created.status_code == 303
    assert _in_zone(app, desk, "end_user", "Europe/Amsterdam").get("/catalog").status_code == 200
    far_east = _in_zone(app, desk, "admin", "Pacific/Kiritimati")
    assert far_east.get("/admin/offerings").status_code == 200


@pytest.mark.parametrize(
    ("zone", "field", "value"),
    [
        ("America/Los_Angeles", "ends_at", "9999-12-31T23:59"),  # the year 10000 in UTC
        ("Asia/Tokyo", "starts_at", "0001-01-01T00:00"),  # the year 0 in UTC
    ],
)
def test_a_date_outside_the_years_1_to_9999_in_utc_is_a_field_error(app, desk, zone, field, value):
    admin = _in_zone(app, desk, "admin", zone)
    refused = admin.post(
        "/admin/offerings",
        {"service": desk.service, "name": "Edge", "team": desk.team, field: value},
        page="/admin/offerings",
    )
    assert refused.status_code == 422
    assert "within the years 1 to 9999" in refused.get_data(as_text=True)


def test_a_moment_the_viewers_zone_has_no_date_for_is_shown_in_utc(app):
    last = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    with app.test_request_context():
        g.viewer = SimpleNamespace(zone=ZoneInfo("Asia/Tokyo"))
        assert local_time(last) == "Fri 31 Dec 9999, 23:00 UTC"
