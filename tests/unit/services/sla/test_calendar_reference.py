"""Business time agrees with a brute-force reference, around every kind of DST change.

The reference knows nothing of the calendar's arithmetic: it finds each interval's real
span by stepping minute by minute through the zone's wall clock, then takes the union of
the spans, so a moment is business time once or not at all. An interval runs from the
first moment whose wall time reaches its start to the last moment whose wall time is
still before its end (a gap's end for an end in a gap); ``24:00`` is the first moment of
the next local date. Zones are chosen for their odd changes: a 30-minute shift (Lord
Howe), a change at midnight (Havana, Azores, Santiago), a 45-minute offset (Chatham).
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.sla.calendar import WEEKDAYS, Calendar

MINUTE = timedelta(minutes=1)
ZONES = [
    "Europe/Amsterdam",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
    "Atlantic/Azores",
    "America/Havana",
    "Asia/Kolkata",
]
# Wall times on and around the changes of those zones (00:00, 01:00, 01:30, 02:00, 03:00...).
WALLS = [0, 30, 60, 90, 105, 120, 150, 165, 180, 210, 225, 240, 360, 540, 1020, 1380, 1440]
# Instants (UTC) within a day or two of each zone's 2026 changes.
ANCHORS = [
    datetime(2026, month, day, tzinfo=UTC)
    for month, day in [(3, 8), (3, 29), (4, 5), (4, 4), (9, 6), (9, 27), (10, 25), (11, 1)]
]


class Reference:
    """Business time by brute force over the wall clock (slow, obviously right)."""

    def __init__(self, definition: dict) -> None:
        self.zone = ZoneInfo(definition["timezone"])
        self.weekly = {
            WEEKDAYS.index(day): [(_minutes(a), _minutes(b)) for a, b in pairs]
            for day, pairs in definition["weekly"].items()
        }
        self.holidays = {date.fromisoformat(d) for d in definition.get("holidays", [])}
        self._days: dict[date, list[tuple[datetime, datetime]]] = {}

    def _wall(self, t: datetime) -> tuple[date, int]:
        local = t.astimezone(self.zone)
        return local.date(), local.hour * 60 + local.minute

    def _near(self, day: date, minutes: int) -> datetime:
        return (
            datetime.combine(day, time(), tzinfo=UTC)
            + timedelta(minutes=minutes)
            - (datetime.combine(day, time(), tzinfo=self.zone).utcoffset() or timedelta(0))
        )

    def _first_reaching(self, day: date, minutes: int) -> datetime:
        if minutes == 1440:
            day, minutes = day + timedelta(days=1), 0
        t = self._near(day, minutes) - timedelta(hours=3)
        while self._wall(t) < (day, minutes):
            t += MINUTE
        return t

    def _last_before(self, day: date, minutes: int) -> datetime:
        if minutes == 1440:
            return self._first_reaching(day, minutes)
        t = self._near(day, minutes) + timedelta(hours=3)
        while self._wall(t) >= (day, minutes):
            t -= MINUTE
        return t + MINUTE

    def _day(self, day: date) -> list[tuple[datetime, datetime]]:
        if day not in self._days:
            pairs = [] if day in self.holidays else self.weekly.get(day.weekday(), [])
            self._days[day] = [
                (self._first_reaching(day, a), self._last_before(day, b)) for a, b in pairs
            ]
        return self._days[day]

    def spans(self, lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
        day = lo.astimezone(self.zone).date() - timedelta(days=1)
        raw = []
        while day <= hi.astimezone(self.zone).date() + timedelta(days=1):
            raw.extend(self._day(day))
            day += timedelta(days=1)
        union: list[tuple[datetime, datetime]] = []
        for s, e in sorted(raw):
            if union and s <= union[-1][1]:
                union[-1] = (union[-1][0], max(union[-1][1], e))
            elif e > s:
                union.append((s, e))
        return union

    def between(self, a: datetime, b: datetime) -> timedelta:
        spans = self.spans(a, b)
        return sum((max(min(e, b) - max(s, a), timedelta(0)) for s, e in spans), timedelta(0))

    def add(self, start: datetime, budget: timedelta, horizon: timedelta) -> datetime:
        for s, e in self.spans(start, start + horizon):
            begin = max(s, start)
            if e > begin and e - begin >= budget:
                return (begin + budget).astimezone(self.zone)
            budget -= max(e - begin, timedelta(0))
        raise AssertionError("the budget outlasts the horizon")


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def days(draw: st.DrawFn) -> list[list[str]]:
    """Disjoint intervals between sorted wall times, some of them meeting end to start."""
    walls = sorted(set(draw(st.lists(st.sampled_from(WALLS), min_size=2, max_size=6))))
    pairs = list(itertools.pairwise(walls))
    kept = draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    return [[_hhmm(a), _hhmm(b)] for (a, b), keep in zip(pairs, kept, strict=True) if keep]


@st.composite
def definitions(draw: st.DrawFn) -> dict:
    weekdays = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
    weekly = {day: draw(days()) for day in weekdays}
    if not any(weekly.values()):
        weekly[weekdays[0]] = [["00:00", "24:00"]]
    holidays = draw(
        st.lists(st.dates(min_value=date(2026, 3, 1), max_value=date(2026, 11, 30)), max_size=3)
    )
    return {
        "timezone": draw(st.sampled_from(ZONES)),
        "weekly": weekly,
        "holidays": [d.isoformat() for d in holidays],
    }


moments = st.builds(
    lambda anchor, seconds: anchor + timedelta(seconds=seconds),
    st.sampled_from(ANCHORS),
    st.integers(min_value=-2 * 86_400, max_value=2 * 86_400),
)
spans = st.integers(min_value=-4 * 86_400, max_value=4 * 86_400).map(lambda s: timedelta(seconds=s))
brute = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


@brute
@given(definitions(), moments, spans)
def test_business_time_between_is_the_brute_force_union_of_spans(definition, start, span):
    calendar, reference = Calendar.from_dict(definition), Reference(definition)
    end = start + span
    forward = reference.between(*sorted((start, end)))
    assert calendar.business_time_between(start, end) == (forward if end >= start else -forward)


@brute
@given(definitions(), moments, st.integers(min_value=0, max_value=1000))
def test_the_due_moment_is_the_brute_force_one(definition, start, share):
    calendar, reference = Calendar.from_dict(definition), Reference(definition)
    horizon = timedelta(days=21)
    budget = reference.between(start, start + horizon) * share // 1000
    due = calendar.add_business_time(start, budget)
    expected = reference.add(start, budget, horizon)
    assert due == expected
    assert due.utcoffset() == expected.utcoffset()
