"""SLA clocks: business time that stands still during pauses. Pure.

``pauses`` are ``(begin, end)`` aware datetimes during which the clock stops (for example
while waiting for the customer). They may overlap, start before the clock did, or span
nights and weekends; they are merged first. An open pause (``end`` is None) has no end
yet: ``elapsed`` counts it up to ``end``, while ``due_at`` cannot know the due moment and
raises, so callers project with the pause closed at "now".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from services.sla.calendar import Calendar, epoch_us, timedelta_us

Pause = tuple[datetime, datetime | None]
AT_RISK_SHARE = 0.75


def _merged(pauses: Iterable[Pause], start: int, end: int | None = None) -> list[tuple[int, int]]:
    """Pauses as sorted, disjoint epoch-microsecond spans clipped to [start, end]."""
    spans = []
    for begin, finish in pauses:
        if finish is None:
            if end is None:
                raise ValueError(
                    "an open pause has no end: close it at 'now' to project a due time"
                )
            finish_us = end
        else:
            finish_us = epoch_us(finish)
        begin_us = max(epoch_us(begin), start)
        if end is not None:
            finish_us = min(finish_us, end)
        if finish_us > begin_us:
            spans.append((begin_us, finish_us))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for begin_us, finish_us in spans:
        if merged and begin_us <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish_us))
        else:
            merged.append((begin_us, finish_us))
    return merged


def due_at(
    cal: Calendar, start: datetime, budget: timedelta, pauses: Sequence[Pause] = ()
) -> datetime:
    """When ``budget`` of business time, not counting pauses, has passed since ``start``."""
    if budget < timedelta(0):
        raise ValueError("a budget cannot be negative")
    cursor, remaining = epoch_us(start), timedelta_us(budget)
    for begin, finish in _merged(pauses, cursor):
        available = cal.between_us(cursor, begin) if begin > cursor else 0
        # A budget due before the pause is due there; a zero budget only if some business
        # time comes before the pause (the next moment the clock runs may be after it).
        if available > remaining or 0 < available == remaining:
            return cal.to_datetime(cal.add_us(cursor, remaining))
        remaining -= available
        cursor = max(cursor, finish)
    return cal.to_datetime(cal.add_us(cursor, remaining))


def elapsed(
    cal: Calendar, start: datetime, end: datetime, pauses: Sequence[Pause] = ()
) -> timedelta:
    """Business time between ``start`` and ``end`` outside the pauses."""
    a, b = epoch_us(start), epoch_us(end)
    if b <= a:
        return timedelta(0)
    total = cal.between_us(a, b)
    for begin, finish in _merged(pauses, a, b):
        total -= cal.between_us(begin, finish)
    return timedelta(microseconds=total)


def sla_state(target: timedelta, used: timedelta, *, stopped: bool) -> str:
    """``met``/``breached`` once stopped; otherwise ``breached`` from the due moment on,
    ``at_risk`` from 75 % used, else ``on_track``."""
    if stopped:
        return "met" if used <= target else "breached"
    if used >= target:
        return "breached"
    if used >= target * AT_RISK_SHARE:
        return "at_risk"
    return "on_track"
