"""Local wall-clock times to instants, across DST gaps and repeats. Pure.

The calendar's intervals are wall-clock times on a local date; this module maps them to
real instants (integer microseconds since the epoch) so that a moment is business time
once or not at all (see the conventions in ``services.sla.calendar``):

- a start is the first moment the wall clock reaches it; a wall time in a spring gap is
  the first instant after the gap;
- an end is the last moment the wall clock is still before it: the second occurrence of a
  repeated wall time, except where the repeat begins (its first occurrence then);
- ``24:00`` is the first instant of the next local date, so days never overlap;
- intervals of one day that meet are joined, and a start inside a repeat is clamped to
  the previous interval's end, so the spans of a day are disjoint and in order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("business time needs timezone-aware datetimes")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def day_spans(
    day: date, hours: tuple[tuple[int, int], ...], zone: ZoneInfo
) -> tuple[tuple[int, int], ...]:
    """The business spans of local date ``day`` whose sorted intervals (in minutes of the
    day) are ``hours``: disjoint, non-empty and in order."""
    return _mapped(day, _joined(hours), zone)


def _joined(hours: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """A day's sorted intervals with the wall-adjacent ones joined: ``01:30`` as one's end
    and the next one's start is one moment, even when that wall time occurs twice."""
    joined: list[tuple[int, int]] = []
    for start, end in hours:
        if joined and joined[-1][1] == start:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def _mapped(day: date, hours: list[tuple[int, int]], zone: ZoneInfo) -> tuple[tuple[int, int], ...]:
    """A day's intervals as disjoint, non-empty instant spans in order.

    An end in an autumn repeat maps to its second occurrence and a later start to its first,
    so a start is clamped to the previous end: a moment is business time once, never twice.
    An interval that lies in a spring gap, or inside the repeat after clamping, is empty
    and dropped, so no zero-length interval is ever offered as a "next business moment".
    """
    spans: list[tuple[int, int]] = []
    previous_end = None
    for start, end in hours:
        begin = _wall_to_us(day, start, zone, is_end=False)
        finish = _wall_to_us(day, end, zone, is_end=True)
        if previous_end is not None:
            begin = max(begin, previous_end)
        if finish > begin:
            spans.append((begin, finish))
            previous_end = finish
    return tuple(spans)


def _wall_to_us(day: date, minutes: int, zone: ZoneInfo, *, is_end: bool) -> int:
    """A local wall time to an instant: gaps map to the gap's end; repeats per ``is_end``.

    A start is the first moment the wall clock reaches it; an end is the last moment the
    wall clock is still before it: the second occurrence of a repeated wall time, except
    the very first wall time of the repeat (New York's 01:00 on the autumn change), which
    the clock is before only up to its first occurrence. ``24:00`` is the first instant of
    the next local date (the first occurrence of its 00:00, or the end of a gap there): a
    day never reaches into the next one, so a 24x7 calendar counts a repeated midnight once.
    """
    if minutes == 1440:
        if day == date.max:  # no date follows: a minute after the day's last minute
            return _wall_to_us(day, 1439, zone, is_end=False) + 60 * US
        day, minutes, is_end = day + timedelta(days=1), 0, False
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    first, second = epoch_us(wall.replace(fold=0)), epoch_us(wall.replace(fold=1))
    if first == second:
        return first
    if first > second:  # a gap: fold=0 reads the offset before the change
        return _transition(zone, second, first)
    return second if is_end and _repeated(wall - timedelta(minutes=1)) else first


def _repeated(wall: datetime) -> bool:
    """Whether a local wall time occurs twice (inside an autumn repeat)."""
    return epoch_us(wall.replace(fold=0)) < epoch_us(wall.replace(fold=1))


def _transition(zone: ZoneInfo, lo: int, hi: int) -> int:
    """The instant in (lo, hi] where the zone's offset changes (binary search on seconds)."""
    before = datetime.fromtimestamp(lo // US, zone).utcoffset()
    lo_s, hi_s = lo // US, hi // US
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == before:
            lo_s = mid
        else:
            hi_s = mid
    return hi_s * US


def day_bounds(day: date, zone: ZoneInfo) -> tuple[int, int]:
    """The instants local date ``day`` runs between: the first moment its 00:00 is
    reached, and that of the next date (``24:00``)."""
    return _wall_to_us(day, 0, zone, is_end=False), _wall_to_us(day, 1440, zone, is_end=True)


def transition_dates(zone: ZoneInfo, year: int) -> set[date]:
    """Local dates in ``year`` whose spans a change of the zone's UTC offset may touch:
    the date it changes on (its midnight's offset and the next one's differ), and the
    dates either side. A clock that falls back across midnight (St John's, 00:01 to 23:01
    until 2010) shows the day before again after the next has begun."""
    found = set()
    day = date(year, 1, 1) if year == date.min.year else date(year - 1, 12, 31)
    previous = datetime.combine(day, time(0), tzinfo=zone).utcoffset()
    while day.year <= year and day < date.max:  # the last day there is has no next midnight
        following = day + timedelta(days=1)
        offset = datetime.combine(following, time(0), tzinfo=zone).utcoffset()
        if offset != previous:
            found.update(_around(day))
            previous = offset
        day = following
    return {d for d in found if d.year == year}


def _around(day: date) -> set[date]:
    """``day`` and its neighbours, within the dates there are."""
    ordinal = day.toordinal()
    last = date.max.toordinal()
    return {date.fromordinal(o) for o in (ordinal - 1, ordinal, ordinal + 1) if 1 <= o <= last}
