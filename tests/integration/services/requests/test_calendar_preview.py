"""Trying a calendar through POST /api/v1/calendars/preview: answers, and 422s naming the field."""

from __future__ import annotations

import pytest

ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
OFFICE = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def _preview(desk, body):
    return desk.post("/api/v1/calendars/preview", body)


@pytest.mark.parametrize(
    ("span", "field"),
    [
        ({"start": "9999-12-30T00:00:00Z", "seconds": 3 * 86_400}, "seconds"),  # due past 9999
        # at 23:00 in New York on the last day, it is already the year 10000 in UTC
        ({"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T23:00:00-05:00"}, "end"),
    ],
)
def test_a_preview_reaching_past_the_year_9999_is_a_422_naming_the_field(desk, span, field):
    response = _preview(desk, {"calendar": {"timezone": "UTC", "weekly": ALWAYS}, **span})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {field}
    assert "outside the years 1 to 9999" in errors[field][0]


@pytest.mark.parametrize(
    ("span", "answer"),
    [
        ({"start": "9999-01-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"}, 364 * 86_400),
        ({"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T23:59:59Z"}, 2 * 86_400 - 1),
        ({"start": "9999-12-30T00:00:00Z", "seconds": 47 * 3600}, "9999-12-31T23:00:00+00:00"),
    ],
)
def test_a_preview_within_the_year_9999_is_answered_to_its_last_second(desk, span, answer):
    response = _preview(desk, {"calendar": {"timezone": "UTC", "weekly": ALWAYS}, **span})
    assert response.status_code == 200, response.get_json()
    assert list(response.get_json().values()) == [answer]


@pytest.mark.parametrize(
    ("span", "field"),
    [
        # New York's wall clock is still in the year 0 at these moments
        ({"start": "0001-01-01T00:00:00Z", "end": "0001-01-02T00:00:00Z"}, "end"),
        ({"start": "0001-01-01T00:00:00Z", "seconds": 60}, "seconds"),
    ],
)
def test_a_preview_reaching_before_the_year_1_is_a_422_that_says_so(desk, span, field):
    calendar = {"timezone": "America/New_York", "weekly": ALWAYS}
    response = _preview(desk, {"calendar": calendar, **span})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {field}
    assert "outside the years 1 to 9999" in errors[field][0]
    assert "past the year 9999" not in errors[field][0]


def test_a_holiday_written_other_than_yyyy_mm_dd_is_a_422_naming_it(desk):
    """Python reads "2026-W01-1" as 29 December 2025: a calendar must not keep a date its
    author did not write."""
    calendar = {"timezone": "UTC", "weekly": ALWAYS, "holidays": ["2026-12-25", "2026-W01-1"]}
    response = _preview(desk, {"calendar": calendar, "start": "2026-01-05T00:00:00Z",
                               "seconds": 60})  # fmt: skip
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"calendar.holidays[1]"}
    response = desk.post("/api/v1/calendars", {"name": "Weeks", "definition": calendar})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"definition.holidays[1]"}


@pytest.mark.parametrize("country", ["__class__", "HolidayBase", "NYSE", "utils"])
def test_a_holiday_country_that_is_no_country_is_a_422_naming_it(desk, country):
    """The holidays package finds a country by its code as a name in its own module:
    other names it holds are no country, and some made it fail (a 500)."""
    response = _preview(
        desk,
        {"calendar": {"timezone": "UTC", "weekly": ALWAYS, "holiday_country": country},
         "start": "2026-01-05T00:00:00Z", "seconds": 60},
    )  # fmt: skip
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"calendar.holiday_country"}


@pytest.mark.parametrize("subdivision", [5, ["NY"]])
def test_a_subdivision_that_is_not_text_is_a_422_naming_it(desk, subdivision):
    response = _preview(
        desk,
        {"calendar": {"timezone": "UTC", "weekly": ALWAYS, "holiday_country": "US",
                      "holiday_subdivision": subdivision},
         "start": "2026-01-05T00:00:00Z", "seconds": 60},
    )  # fmt: skip
    assert response.status_code == 422
    assert "calendar.holiday_subdivision" in response.get_json()["errors"]


def test_a_24x7_weekend_across_the_azores_fall_back_is_49_hours(desk):
    response = _preview(
        desk,
        {"calendar": {"timezone": "Atlantic/Azores", "weekly": ALWAYS},
         "start": "2026-10-24T00:00:00+00:00", "end": "2026-10-26T00:00:00-01:00"},
    )  # fmt: skip
    assert response.get_json() == {"business_seconds": 49 * 3600}


def test_a_zero_budget_gives_the_first_moment_the_clock_runs_after_a_pause(desk):
    response = _preview(
        desk,
        {"calendar": {"timezone": "Europe/Amsterdam", "weekly": OFFICE},
         "start": "2026-06-01T20:00:00+02:00", "seconds": 0,
         "pauses": [["2026-06-01T21:00:00+02:00", "2026-06-02T12:00:00+02:00"]]},
    )  # fmt: skip
    assert response.get_json() == {"due": "2026-06-02T12:00:00+02:00"}


def test_a_budget_that_outlasts_ten_years_of_the_calendar_is_a_422_saying_what_they_hold(desk):
    """A due moment is looked for within ten years, as a span is: a budget of years on a
    calendar of a minute a week would otherwise walk millennia (ten seconds of a worker)."""
    calendar = {"timezone": "Europe/Amsterdam", "weekly": {"mon": [["09:00", "09:01"]]},
                "holiday_country": "NL"}  # fmt: skip
    start = "2026-01-05T00:00:00Z"
    response = _preview(desk, {"calendar": calendar, "start": start, "seconds": 21_800_000})
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["seconds"]
    assert "within ten years" in message and "29820 business seconds" in message
    five_years = _preview(desk, {"calendar": calendar, "start": start, "seconds": 300 * 60})
    assert five_years.get_json() == {"due": "2032-01-12T09:01:00+01:00"}


@pytest.mark.parametrize(
    ("span", "field"),
    [
        ({"start": "2026-01-05T10:00:00Z", "end": "2026-01-05T09:00:00Z"}, "end"),
        ({"start": "2026-01-05T09:00:00Z", "seconds": 60,
          "pauses": [["2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z"],
                     ["2026-01-05T12:00:00Z", "2026-01-05T11:00:00Z"]]}, "pauses[1]"),
    ],
)  # fmt: skip
def test_a_span_or_a_pause_that_runs_backwards_is_a_422_naming_it(desk, span, field):
    """Not a silent zero, nor a pause quietly left out."""
    response = _preview(desk, {"calendar": {"timezone": "UTC", "weekly": ALWAYS}, **span})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {field}


def test_a_due_moment_years_of_holidays_away_is_found_within_the_ten_years_searched(desk):
    """A small budget cannot skip whole weeks, so the search goes day by day: as far as
    the ten years a span may reach, not two."""
    from datetime import date, timedelta

    first = date(2026, 1, 5)
    closed = [(first + timedelta(weeks=w)).isoformat() for w in range(156)]  # 2026-2028
    calendar = {"timezone": "UTC", "weekly": {"mon": [["09:00", "17:00"]]}, "holidays": closed}
    response = _preview(
        desk, {"calendar": calendar, "start": "2026-01-05T00:00:00Z", "seconds": 60}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"due": "2029-01-01T09:01:00+00:00"}
