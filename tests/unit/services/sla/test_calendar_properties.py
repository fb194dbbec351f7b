"""Properties of business time that must hold for any start and budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.sla.calendar import Calendar

CALENDARS = [
    Calendar.from_dict(
        {
            "timezone": "Europe/Amsterdam",
            "weekly": {
                d: [["08:00", "12:00"], ["13:00", "17:00"]]
                for d in ("mon", "tue", "wed", "thu", "fri")
            },
            "holiday_country": "NL",
        }
    ),
    Calendar.from_dict(
        {
            "timezone": "America/New_York",
            "weekly": {
                "sun": [["01:00", "04:00"]],
                "mon": [["22:00", "24:00"]],
                "tue": [["00:00", "06:00"]],
            },
            "holidays": ["2026-03-10"],
        }
    ),
]
starts = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
budgets = st.integers(min_value=0, max_value=3000 * 3600).map(lambda s: timedelta(seconds=s))
# Two of them still fall due within the ten years a due moment is looked for (the
# sparse calendar holds 11 hours a week): see calendar.MAX_SEARCH_DAYS.
halves = st.integers(min_value=0, max_value=2000 * 3600).map(lambda s: timedelta(seconds=s))
calendars = st.sampled_from(CALENDARS)
quick = settings(max_examples=150, deadline=None)


def instant(moment: datetime) -> datetime:
    """``moment`` in UTC: two datetimes of one zone compare by wall time, blind to
    ``fold``, so 01:00 EDT and 01:00 EST would be equal and in the wrong order."""
    return moment.astimezone(UTC)


@quick
@given(calendars, starts, budgets)
def test_the_business_time_to_the_due_moment_is_the_budget(calendar, start, budget):
    assert (
        calendar.business_time_between(start, calendar.add_business_time(start, budget)) == budget
    )


@quick
@given(calendars, starts, budgets, budgets)
def test_a_bigger_budget_is_never_due_earlier(calendar, start, a, b):
    small, large = sorted((a, b))
    assert instant(calendar.add_business_time(start, small)) <= instant(
        calendar.add_business_time(start, large)
    )


@quick
@given(calendars, starts, starts, budgets)
def test_a_later_start_is_never_due_earlier(calendar, a, b, budget):
    early, late = sorted((a, b))
    assert instant(calendar.add_business_time(early, budget)) <= instant(
        calendar.add_business_time(late, budget)
    )


@quick
@given(calendars, starts, halves, halves.filter(lambda b: b > timedelta(0)))
def test_adding_in_two_steps_is_adding_once(calendar, start, a, b):
    once = calendar.add_business_time(start, a + b)
    twice = calendar.add_business_time(calendar.add_business_time(start, a), b)
    assert instant(once) == instant(twice)


def test_a_budget_outlasting_ten_years_of_the_calendar_has_no_due_moment():
    """A preview any signed-in person may ask for, or a provider's terms held over a
    trust: skipping whole weeks of a sparse calendar once computed the offsets and
    holidays of thousands of years (seconds of a worker) to find a moment in 8432. The
    search now ends ten years on, and never looks at a year beyond them."""
    import pytest

    from services.sla.calendar import NoBusinessHours

    start = datetime(2026, 5, 4, tzinfo=UTC)
    mondays = [(start.date() + timedelta(weeks=w)).isoformat() for w in range(540)]
    sparse = Calendar.from_dict(
        {"timezone": "America/New_York", "weekly": {"mon": [["00:00", "00:01"]]},
         "holidays": mondays, "holiday_country": "US"}
    )  # fmt: skip
    with pytest.raises(NoBusinessHours, match="within ten years"):
        sparse.add_business_time(start, timedelta(seconds=20_000_000))
    assert max(sparse._country) <= 2037, "holidays were computed beyond the search"
