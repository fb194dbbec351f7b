"""Calendar definitions: what is accepted, what is refused (naming the field), and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.sla.calendar import Calendar, CalendarError, NoBusinessHours

OFFICE = {"timezone": "Europe/Amsterdam", "weekly": {"mon": [["09:00", "17:00"]]}}


def _errors(definition) -> dict[str, list[str]]:
    with pytest.raises(CalendarError) as caught:
        Calendar.from_dict(definition)
    return caught.value.errors


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({**OFFICE, "timezone": "Mars/Olympus"}, "timezone"),
        ({**OFFICE, "timezone": None}, "timezone"),
        ({**OFFICE, "weekly": {"mon": [["9:00", "17:00"]]}}, "weekly.mon[0]"),
        ({**OFFICE, "weekly": {"mon": [["09:00\n", "17:00"]]}}, "weekly.mon[0]"),
        ({**OFFICE, "weekly": {"mon": [["09:00", "17:00\n"]]}}, "weekly.mon[0]"),
        ({**OFFICE, "weekly": {"mon": [["0\u0669:00", "17:00"]]}}, "weekly.mon[0]"),
        ({**OFFICE, "weekly": {"mon": [["25:00", "26:00"]]}}, "weekly.mon[0]"),
        ({**OFFICE, "weekly": {"mon": [["12:60", "13:00"]]}}, "weekly.mon[0]"),
        ({**OFFICE, "weekly": {"mon": [["24:00", "24:00"]]}}, "weekly.mon[0]"),
        ({**OFFICE, "weekly": {"mon": [["17:00", "09:00"]]}}, "weekly.mon[0]"),
        ({**OFFICE, "weekly": {"mon": [["09:00", "09:00"]]}}, "weekly.mon[0]"),
        ({**OFFICE, "weekly": {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}}, "weekly.mon"),
        ({**OFFICE, "weekly": {"funday": [["09:00", "17:00"]]}}, "weekly"),
        ({**OFFICE, "weekly": {"mon": "09:00-17:00"}}, "weekly.mon"),
        ({**OFFICE, "holidays": ["25-12-2026"]}, "holidays[0]"),
        ({**OFFICE, "holidays": [20261225]}, "holidays[0]"),
        ({**OFFICE, "holidays": ["2026-W01-1"]}, "holidays[0]"),  # an ISO week date
        ({**OFFICE, "holidays": ["2026-12-25", "20261225"]}, "holidays[1]"),  # ISO basic
        ({**OFFICE, "holidays": ["2026-12-2\u0665"]}, "holidays[0]"),  # an Arabic-Indic 5
        ({**OFFICE, "holidays": ["2026-02-30"]}, "holidays[0]"),  # no such day
        ({**OFFICE, "holiday_country": "XX"}, "holiday_country"),
        # names the holidays package holds that are not countries: found by getattr there
        ({**OFFICE, "holiday_country": "__class__"}, "holiday_country"),
        ({**OFFICE, "holiday_country": "HolidayBase"}, "holiday_country"),
        ({**OFFICE, "holiday_country": "NYSE"}, "holiday_country"),  # a stock exchange
        ({**OFFICE, "holiday_country": "Netherlands"}, "holiday_country"),
        ({**OFFICE, "holiday_country": False}, "holiday_country"),
        (
            {**OFFICE, "holiday_country": "US", "holiday_subdivision": "__class__"},
            "holiday_subdivision",
        ),
        ({**OFFICE, "holiday_country": "DE", "holiday_subdivision": "ZZ"}, "holiday_subdivision"),
        ({**OFFICE, "holiday_subdivision": "BY"}, "holiday_subdivision"),
        ({**OFFICE, "holiday_country": "US", "holiday_subdivision": 5}, "holiday_subdivision"),
        ({**OFFICE, "holiday_country": "US", "holiday_subdivision": ["NY"]}, "holiday_subdivision"),
        ({**OFFICE, "colour": "blue"}, "colour"),  # each unknown key named, as any field
        # Files a zoneinfo directory holds that name no IANA zone: the host's own setting
        # (another zone on another node, and held calendars travel), defaults, copies.
        ({**OFFICE, "timezone": "localtime"}, "timezone"),
        ({**OFFICE, "timezone": "posixrules"}, "timezone"),
        ({**OFFICE, "timezone": "Factory"}, "timezone"),
        ({**OFFICE, "timezone": "posix/Europe/Amsterdam"}, "timezone"),
        ({**OFFICE, "timezone": "right/UTC"}, "timezone"),
        ({**OFFICE, "timezone": "../zoneinfo/UTC"}, "timezone"),
        # A deprecated subdivision loads, with a warning, until the package drops it.
        ({**OFFICE, "holiday_country": "FR", "holiday_subdivision": "GES"}, "holiday_subdivision"),
    ],
)
def test_an_invalid_definition_names_the_field(definition, field):
    assert field in _errors(definition)


def test_every_bad_field_is_reported_at_once():
    errors = _errors(
        {"timezone": "Nowhere/Land", "weekly": {"mon": [["x", "y"]]}, "holidays": ["no"]}
    )
    assert set(errors) == {"timezone", "weekly.mon[0]", "holidays[0]"}


def test_a_definition_round_trips_through_to_dict():
    definition = {
        "timezone": "Europe/Berlin",
        "weekly": {"mon": [["08:00", "12:00"], ["13:00", "24:00"]], "tue": [["00:00", "06:00"]]},
        "holidays": ["2026-12-25"],
        "holiday_country": "DE",
        "holiday_subdivision": "BY",
    }
    assert Calendar.from_dict(definition).to_dict() == definition


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        Calendar.from_dict(OFFICE).add_business_time(datetime(2026, 1, 5, 9), timedelta(hours=1))


def test_a_negative_budget_is_refused():
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="negative"):
        Calendar.from_dict(OFFICE).add_business_time(start, timedelta(seconds=-1))


def test_a_calendar_without_hours_fails_fast_instead_of_looping():
    empty = Calendar.from_dict({"timezone": "UTC", "weekly": {}})
    with pytest.raises(NoBusinessHours):
        empty.add_business_time(datetime(2026, 1, 5, tzinfo=UTC), timedelta(hours=1))


def test_microseconds_are_kept_exactly():
    calendar = Calendar.from_dict(OFFICE)
    start = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=calendar.zone)
    due = calendar.add_business_time(start, timedelta(microseconds=1))
    assert due - start == timedelta(microseconds=1)


@pytest.mark.parametrize(
    "extra",
    [
        {"timezone": "UTC"},
        {"timezone": "Etc/GMT+5"},
        {"timezone": "US/Eastern"},  # a link the IANA database keeps for old names
        {"holiday_country": "FR", "holiday_subdivision": "Alsace"},  # an alias of 6AE
        {"holiday_country": "FR", "holiday_subdivision": "Zone A"},
        {"holiday_country": "US", "holiday_subdivision": "NY"},
    ],
)
def test_iana_names_and_the_subdivisions_the_holiday_data_holds_are_accepted(extra):
    assert Calendar.from_dict({**OFFICE, **extra}).weekly


def test_a_stored_definition_loads_with_what_earlier_releases_accepted():
    """Frozen on requests and saved calendars: only that its zone and holidays load."""
    legacy = {**OFFICE, "timezone": "posix/Europe/Paris"}
    assert "timezone" in _errors(legacy)
    assert Calendar.from_dict(legacy, stored=True).timezone == "posix/Europe/Paris"
    deprecated = {**OFFICE, "holiday_country": "FR", "holiday_subdivision": "GES"}
    with pytest.warns(DeprecationWarning):
        assert Calendar.from_dict(deprecated, stored=True).holiday_subdivision == "GES"
    with pytest.raises(CalendarError):
        Calendar.from_dict({**OFFICE, "timezone": "Mars/Olympus"}, stored=True)
