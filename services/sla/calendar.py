"""Business time on a calendar: exact to the microsecond, correct across DST. Pure.

A calendar is a time zone, weekly business intervals in local wall-clock time, and
holidays that remove whole local dates (DESIGN section 4). Conventions:

- A start outside business hours begins at the next opening.
- A budget that runs out exactly at a closing ends at that closing, not the next opening.
- A zero budget gives the next business moment (the start itself inside hours).
- Inputs may carry any UTC offset; outputs are in the calendar's zone.
- An interval spans the real time from the first moment the wall clock reaches its start
  to the last moment the wall clock is still before its end. A wall time that does not
  exist (spring-forward gap) means the first instant after the gap; one that occurs twice
  (autumn repeat) means its first occurrence for a start and, for an end, its second
  (its first when it is where the repeat begins). So a local 00:00-24:00 day lasts 23 or
  25 hours and a 09:00-17:00 day stays 8 hours. ``24:00`` is the first instant of the
  next local date, so a day never reaches into the next one.
- A date runs from the first moment its 00:00 is reached to the first moment of the next
  date's. Where a clock fell back across midnight (St John's went from 00:01 back to
  23:01 until 2010), the previous date shows again after the next has begun: that time
  belongs to the date already begun, and the previous date's intervals stop where it
  began. So dates follow each other, and business time never runs backwards.
- A moment is business time once: intervals of a day that meet (``01:30`` as one's end
  and the next one's start) are one interval, and a start inside the repeat never reaches
  back before the previous interval's end.
- ``business_time_between(s, e)`` with ``e`` before ``s`` is the negative of the reverse.

Cost: each computation walks the days it touches and skips whole weeks arithmetically:
a week is its standard business time plus the differences on its "irregular" dates
(holidays and DST changes), found with a prefix sum. A 2000-hour budget therefore costs
little more than an 8-hour one. Times are integer microseconds since the epoch inside.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache, cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_data

from account_node.zones import is_zone_name, unknown_zone
from services.sla.wallclock import US, day_bounds, day_spans, epoch_us, transition_dates

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_US = 86_400 * US
_TIME = re.compile(r"([01][0-9]|2[0-4]):([0-5][0-9])")  # the whole text: see fullmatch
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # the whole text: see fullmatch
_KEYS = {"timezone", "weekly", "holidays", "holiday_country", "holiday_subdivision"}
# A due moment is looked for within ten years (and a few days) of the start, days walked
# one by one or whole weeks skipped where the budget outlasts them: where SLAs and
# previews promise one (services.sla.service). Past that there is none: a sparse
# calendar's budget of years, or one of holidays only, costs a bounded search, not a
# walk through millennia.
MAX_SEARCH_DAYS = 3700


class CalendarError(ValueError):
    """An invalid calendar definition; ``errors`` maps each bad field to its messages."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = {k: list(v) for k, v in errors.items()}
        self.field = next(iter(self.errors), "")
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in self.errors.items()))


class NoBusinessHours(ValueError):
    """The calendar has no business time where some was needed."""


def _minutes(text: Any, *, is_end: bool) -> int | None:
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours == 24 and (minutes or not is_end):
        return None
    return hours * 60 + minutes


def _parse_weekly(
    weekly: Any, errors: dict[str, list[str]]
) -> dict[int, tuple[tuple[int, int], ...]]:
    if not isinstance(weekly, dict):
        errors["weekly"] = ["must be an object of weekdays (mon..sun) to intervals"]
        return {}
    parsed: dict[int, tuple[tuple[int, int], ...]] = {}
    for key, intervals in weekly.items():
        if key not in WEEKDAYS:
            errors.setdefault("weekly", []).append(
                f"unknown weekday {key!r}; use {', '.join(WEEKDAYS)}"
            )
            continue
        if not isinstance(intervals, list):
            errors[f"weekly.{key}"] = ["must be a list of [start, end] pairs"]
            continue
        day: list[tuple[int, int]] = []
        for i, pair in enumerate(intervals):
            where = f"weekly.{key}[{i}]"
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                errors[where] = ['must be a pair ["HH:MM", "HH:MM"]']
                continue
            start, end = _minutes(pair[0], is_end=False), _minutes(pair[1], is_end=True)
            if start is None or end is None:
                errors[where] = ["times are HH:MM from 00:00 to 23:59 (24:00 only as an end)"]
            elif end <= start:
                errors[where] = [
                    "the end must be after the start (an overnight shift is two intervals)"
                ]
            else:
                day.append((start, end))
        day.sort()
        for (_, end), (start, _) in itertools.pairwise(day):
            if start < end:
                errors.setdefault(f"weekly.{key}", []).append("intervals overlap")
        parsed[WEEKDAYS.index(key)] = tuple(day)
    return parsed


def _parse_dates(values: Any, errors: dict[str, list[str]]) -> frozenset[date]:
    if not isinstance(values, list):
        errors["holidays"] = ["must be a list of ISO dates (YYYY-MM-DD)"]
        return frozenset()
    found = set()
    for i, value in enumerate(values):
        try:
            # Only the form the definition stores: ``date.fromisoformat`` also reads other
            # ISO forms ("2026-W01-1" is 2025-12-29), which would keep a date not written.
            if not isinstance(value, str) or not _DATE.fullmatch(value):
                raise ValueError(value)
            found.add(date.fromisoformat(value))
        except ValueError:
            errors[f"holidays[{i}]"] = [f"{value!r} is not an ISO date (YYYY-MM-DD)"]
    return frozenset(found)


@dataclass(frozen=True, eq=False)
class Calendar:
    timezone: str
    weekly: Mapping[int, tuple[tuple[int, int], ...]]
    holidays: frozenset[date] = frozenset()
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    _days: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict, repr=False)
    _years: dict[int, tuple[list[int], list[int]]] = field(default_factory=dict, repr=False)
    _country: dict[int, frozenset[date]] = field(default_factory=dict, repr=False)
    _changes: dict[int, frozenset[int]] = field(default_factory=dict, repr=False)
    _day_bounds: dict[int, tuple[int, int]] = field(default_factory=dict, repr=False)

    # --- construction -----------------------------------------------------------------

    @classmethod
    def from_dict(cls, definition: Mapping[str, Any], *, stored: bool = False) -> Calendar:
        """A calendar from its definition, every bad field named.

        ``stored``: a definition this node accepted before (a saved calendar, or one
        frozen on a request), which must load as long as it can be computed with: of
        its time zone and holiday subdivision, only that they load is checked. Input
        must name an IANA zone and a subdivision the holiday data supports, stricter
        than earlier releases were; requests raised under those keep working."""
        errors: dict[str, list[str]] = {}
        if not isinstance(definition, Mapping):
            raise CalendarError({"calendar": ["must be an object"]})
        for unknown in sorted(set(definition) - _KEYS)[:10]:
            errors[unknown] = [f"unknown field; a calendar has {', '.join(sorted(_KEYS))}"]
        zone_name = definition.get("timezone")
        if not _zone_known(zone_name, stored=stored):
            errors["timezone"] = [unknown_zone(zone_name)]
        weekly = _parse_weekly(definition.get("weekly", {}), errors)
        dates = _parse_dates(definition.get("holidays", []), errors)
        country = _blank_is_none(definition.get("holiday_country"))
        subdivision = _blank_is_none(definition.get("holiday_subdivision"))
        _check_country(country, subdivision, errors, stored=stored)
        if errors:
            raise CalendarError(errors)
        return cls(str(zone_name), weekly, dates, country, subdivision)

    def to_dict(self) -> dict[str, Any]:
        def hhmm(minutes: int) -> str:
            return f"{minutes // 60:02d}:{minutes % 60:02d}"

        return {
            "timezone": self.timezone,
            "weekly": {
                WEEKDAYS[d]: [[hhmm(s), hhmm(e)] for s, e in self.weekly[d]]
                for d in sorted(self.weekly)
            },
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "holiday_country": self.holiday_country,
            "holiday_subdivision": self.holiday_subdivision,
        }

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def standard_week_us(self) -> int:
        return sum((e - s) * 60 * US for day in self.weekly.values() for s, e in day)

    # --- the public contract ------------------------------------------------------------

    def add_business_time(self, start: datetime, budget: timedelta) -> datetime:
        """The moment ``budget`` of business time after ``start`` (see conventions)."""
        if budget < timedelta(0):
            raise ValueError("a budget cannot be negative")
        return self.to_datetime(self.add_us(epoch_us(start), timedelta_us(budget)))

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time in [start, end); negative when ``end`` is before ``start``."""
        a, b = epoch_us(start), epoch_us(end)
        if b < a:
            return -timedelta(microseconds=self.between_us(b, a))
        return timedelta(microseconds=self.between_us(a, b))

    def is_business_time(self, moment: datetime) -> bool:
        t = epoch_us(moment)
        return any(s <= t < e for s, e in self._intervals(self._ordinal(t)))

    # --- integer core -------------------------------------------------------------------

    def add_us(self, t: int, remaining: int) -> int:
        if not self.weekly or self.standard_week_us == 0:
            raise NoBusinessHours("the calendar has no business hours")
        day = self._ordinal(t)
        last = day + MAX_SEARCH_DAYS
        while day <= last:
            for s, e in self._intervals(day):
                if e <= t:
                    continue
                begin = max(s, t)
                if e - begin >= remaining:
                    return begin + remaining
                remaining -= e - begin
            # Later days' intervals all start after ``t``, so ``t`` needs no update.
            day, skipped = self._skip_weeks(day + 1, remaining, last)
            remaining -= skipped
        raise NoBusinessHours("the budget does not run out within ten years")

    def between_us(self, a: int, b: int) -> int:
        first, last = self._ordinal(a), self._ordinal(b)
        if first == last:
            return _overlap(self._intervals(first), a, b)
        total = _overlap(self._intervals(first), a, b)
        day = first + 1
        weeks = (last - day) // 7
        if weeks:
            total += self._weeks_us(day, weeks)
            day += 7 * weeks
        while day < last:
            total += sum(e - s for s, e in self._intervals(day))
            day += 1
        return total + _overlap(self._intervals(last), a, b)

    # --- days and weeks ---------------------------------------------------------------

    def _ordinal(self, t: int) -> int:
        """The date whose day holds ``t``: its local date, except where the clock fell
        back across midnight and shows the previous date again: that time belongs to
        the date that had already begun (``day_bounds``), so days follow each other."""
        local = datetime.fromtimestamp(t // US, self.zone)
        ordinal = local.toordinal()
        changes = self._changes.get(local.year) or self._changes_in(local.year)
        if ordinal in changes and t >= self._bounds(ordinal)[1]:
            return ordinal + 1
        return ordinal

    def _bounds(self, ordinal: int) -> tuple[int, int]:
        found = self._day_bounds.get(ordinal)
        if found is None:
            found = self._day_bounds[ordinal] = day_bounds(date.fromordinal(ordinal), self.zone)
        return found

    def _intervals(self, ordinal: int) -> tuple[tuple[int, int], ...]:
        """A date's business spans, within its day: near a change of offset, clipped to
        the instants the date runs between, so no moment belongs to two dates."""
        found = self._days.get(ordinal)
        if found is None:
            day = date.fromordinal(ordinal)
            hours = () if self._is_holiday(day) else self.weekly.get(day.weekday(), ())
            found = day_spans(day, hours, self.zone)
            if self._near_change(day):
                first, last = self._bounds(ordinal)
                clipped = ((max(s, first), min(e, last)) for s, e in found)
                found = tuple((s, e) for s, e in clipped if e > s)
            self._days[ordinal] = found
        return found

    def _near_change(self, day: date) -> bool:
        return day.toordinal() in self._changes_in(day.year)

    def _changes_in(self, year: int) -> frozenset[int]:
        """Ordinals of the dates of ``year`` a change of offset may touch (``_ordinal``
        asks on every computation: a set of ints, kept per year)."""
        found = self._changes.get(year)
        if found is None:
            dates = transition_dates(self.zone, year)
            found = self._changes[year] = frozenset(d.toordinal() for d in dates)
        return found

    def _standard_us(self, ordinal: int) -> int:
        return sum(
            (e - s) * 60 * US for s, e in self.weekly.get(date.fromordinal(ordinal).weekday(), ())
        )

    def _irregular(self, year: int) -> tuple[list[int], list[int]]:
        """Dates of ``year`` whose business time differs from their weekday's, with prefix sums."""
        cached = self._years.get(year)
        if cached is None:
            changes = {date.fromordinal(o) for o in self._changes_in(year)}
            candidates = {d for d in self._holiday_dates(year)} | changes
            ordinals, sums, running = [], [0], 0
            for day in sorted(candidates):
                delta = sum(e - s for s, e in self._intervals(day.toordinal())) - self._standard_us(
                    day.toordinal()
                )
                if delta:
                    running += delta
                    ordinals.append(day.toordinal())
                    sums.append(running)
            cached = (ordinals, sums)
            self._years[year] = cached
        return cached

    def _deltas_us(self, first: int, last: int) -> int:
        """Sum of irregular-date differences for ordinals in [first, last)."""
        total = 0
        for year in range(date.fromordinal(first).year, date.fromordinal(last - 1).year + 1):
            ordinals, sums = self._irregular(year)
            lo, hi = bisect.bisect_left(ordinals, first), bisect.bisect_left(ordinals, last)
            total += sums[hi] - sums[lo]
        return total

    def _weeks_us(self, first: int, weeks: int) -> int:
        return weeks * self.standard_week_us + self._deltas_us(first, first + 7 * weeks)

    def _skip_weeks(self, day: int, remaining: int, last: int) -> tuple[int, int]:
        """Jump whole weeks that the budget surely outlasts, not past ``last`` by more
        than a week (the search ends there: nothing beyond is worth computing); returns
        (new day, time skipped)."""
        week = self.standard_week_us
        weeks = min(remaining // week, max(0, (last - day) // 7 + 1))
        while weeks > 0:
            skipped = self._weeks_us(day, weeks)
            if skipped < remaining:
                return day + 7 * weeks, skipped
            weeks -= 1
        return day, 0

    # --- holidays -----------------------------------------------------------------------

    def _is_holiday(self, day: date) -> bool:
        return day in self.holidays or day in self._country_holidays(day.year)

    def _country_holidays(self, year: int) -> frozenset[date]:
        found = self._country.get(year)
        if found is None:
            found = frozenset()
            if self.holiday_country:
                found = frozenset(
                    holiday_data.country_holidays(
                        self.holiday_country, subdiv=self.holiday_subdivision, years=year
                    )
                )
            self._country[year] = found
        return found

    def _holiday_dates(self, year: int) -> Iterable[date]:
        yield from (d for d in self.holidays if d.year == year)
        yield from self._country_holidays(year)

    def to_datetime(self, t: int) -> datetime:
        seconds, micros = divmod(t, US)
        moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
        return moment.astimezone(self.zone)


def _zone_known(name: Any, *, stored: bool) -> bool:
    if not isinstance(name, str) or not name:
        return False
    if not stored:
        return is_zone_name(name)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _blank_is_none(value: Any) -> Any:
    """An empty code is no code (a form's empty field); ``false`` or ``0`` are not codes."""
    return None if value is None or value == "" else value


def _check_country(
    country: Any, subdivision: Any, errors: dict[str, list[str]], *, stored: bool = False
) -> None:
    """Only a country the ``holidays`` package lists: it finds a country by looking its
    code up as a name in its own module, so any other name it holds (``__class__``,
    ``HolidayBase``, a stock exchange's ``NYSE``) would be taken for one, or fail."""
    if country is None:
        if subdivision is not None:
            errors["holiday_subdivision"] = ["needs a holiday_country"]
        return
    if not isinstance(country, str):
        errors["holiday_country"] = ["must be a country code such as NL"]
        return
    if subdivision is not None and not isinstance(subdivision, str):
        errors["holiday_subdivision"] = ["must be a subdivision code such as NY, or null"]
        return
    if country not in _countries():
        errors["holiday_country"] = [f"no holiday data for {country[:64]}"]
        return
    if stored:
        try:
            holiday_data.country_holidays(country, subdiv=subdivision, years=2026)
        except NotImplementedError:
            errors["holiday_subdivision" if subdivision else "holiday_country"] = [
                f"no holiday data for {country}{'-' + subdivision[:64] if subdivision else ''}"
            ]
        return
    if subdivision is not None and subdivision not in _subdivisions(country):
        # Deprecated codes still load, with a warning, until a release of the package
        # drops them: then every clock on such a stored calendar would fail.
        errors["holiday_subdivision"] = [
            f"no holiday data for {country}-{subdivision[:64]}; "
            f"{country} has {', '.join(holiday_data.list_supported_countries()[country])}"
        ]


@cache
def _subdivisions(country: str) -> frozenset[str]:
    """The subdivision codes the package supports for ``country``, and their aliases."""
    entity = holiday_data.country_holidays(country, years=2026)
    aliases = getattr(entity, "subdivisions_aliases", {})
    return frozenset(holiday_data.list_supported_countries()[country]) | frozenset(aliases)


@cache
def _countries() -> frozenset[str]:
    return frozenset(holiday_data.list_supported_countries())


def timedelta_us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def _overlap(intervals: Iterable[tuple[int, int]], a: int, b: int) -> int:
    return sum(max(0, min(e, b) - max(s, a)) for s, e in intervals)
