"""Reading a request's response and resolution clocks from its frozen SLA.

Everything needed is on the request (terms, calendar definition, created/stop moments)
plus its pause periods, so a reading never depends on SLAs or calendars that may have
changed since. A clock that is still running while the request is paused counts the
open pause up to ``now``. A running clock that reaches its budget is ``breached`` (the
deadline passed without the event); a stopped clock is ``met`` when it stopped within it.
A clock stops at its event (first response, resolution) or, failing that, when the
request became final (``closed_at`` of a closed or cancelled request).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from services.requests.lifecycle import FINAL
from services.requests.models import Request
from services.sla.calendar import Calendar
from services.sla.clock import due_at, elapsed

AT_RISK = 0.75
# The due moment of a clock that finds none (see ``_Reader.due``): a day short of the
# last date there is, so that it can be shown in any time zone.
NEVER = datetime(9999, 12, 30, tzinfo=UTC)
Pause = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class ClockReading:
    name: str
    target: timedelta
    due: datetime
    at_risk_at: datetime
    used: timedelta
    state: str
    stopped_at: datetime | None
    paused: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "target_minutes": int(self.target.total_seconds() // 60),
            "due": self.due,
            "at_risk_at": self.at_risk_at,
            "used_seconds": int(self.used.total_seconds()),
            "state": self.state,
            "stopped_at": self.stopped_at,
            "paused": self.paused,
        }


@lru_cache(maxsize=256)
def _calendar(definition: str) -> Calendar:
    return Calendar.from_dict(json.loads(definition), stored=True)


# The few definitions seen last, compared by value: a page of requests mostly shares one
# or two calendars, and comparing dicts costs much less than serialising one as a key.
_recent: list[tuple[dict[str, Any], Calendar]] = []
RECENT = 8


def calendar_of(request: Request) -> Calendar:
    global _recent
    definition = request.sla_calendar
    for seen, calendar in _recent:
        if seen == definition:
            return calendar
    calendar = _calendar(json.dumps(definition, sort_keys=True))
    # A copy, so that later changes to the request's dict cannot alter the entry; the
    # list is replaced, not changed, so concurrent readers never see it half-updated.
    _recent = [(copy.deepcopy(definition), calendar), *_recent[: RECENT - 1]]
    return calendar


def target_of(request: Request, clock: str) -> timedelta:
    minutes = request.sla_terms["targets"][request.priority][clock]
    return timedelta(minutes=int(minutes))


def read_clock(
    request: Request,
    clock: str,
    pauses: Sequence[Pause],
    now: datetime,
    *,
    fresh: bool = False,
) -> ClockReading:
    """Read one clock. Unless ``fresh``, a clock that is not paused uses the due and
    at-risk moments stored at the last change (they only move when something that
    moves a clock happens, and each such change refreshes them); only ``used`` is live.
    """
    return _Reader(request, pauses, now).read(clock, fresh=fresh)


def read_clocks(
    request: Request, pauses: Sequence[Pause], now: datetime, *, fresh: bool = False
) -> tuple[ClockReading, ClockReading]:
    reader = _Reader(request, pauses, now)
    return reader.read("response", fresh=fresh), reader.read("resolution", fresh=fresh)


class _Reader:
    """What both clocks of one request share: the calendar, the pause periods and the
    business time used up to a moment (two running clocks have used the same)."""

    def __init__(self, request: Request, pauses: Sequence[Pause], now: datetime) -> None:
        self.request, self.now = request, now
        self.calendar = calendar_of(request)
        self.paused = any(end is None for _, end in pauses)
        self.closed = [
            (begin, end if end is not None else max(now, begin)) for begin, end in pauses
        ]
        self._used: dict[datetime, timedelta] = {}

    def used_until(self, end: datetime) -> timedelta:
        if end not in self._used:
            start = self.request.created_at
            self._used[end] = elapsed(self.calendar, start, max(end, start), self.closed)
        return self._used[end]

    def due(self, budget: timedelta) -> datetime:
        """When ``budget`` runs out, or ``NEVER`` where the calendar holds no such moment.

        SLAs are refused whose targets do not fall due within ten years on their
        calendar (``services.sla.service.out_of_reach``), but holidays added since, or
        a provider's terms held over a trust, can still leave none: a due moment past
        the year 9999, or no business hours left in the years searched. Such a request
        must still be raised, read and worked, so its clock never falls due."""
        try:
            return due_at(self.calendar, self.request.created_at, budget, self.closed)
        except (ValueError, OverflowError):  # NoBusinessHours, or past the dates there are
            return NEVER

    def read(self, clock: str, *, fresh: bool) -> ClockReading:
        request = self.request
        target = target_of(request, clock)
        stopped_at = _stopped_at(request, clock)
        stored = (getattr(request, f"{clock}_due_at"), getattr(request, f"{clock}_at_risk_at"))
        if fresh or self.paused or None in stored:
            due = self.due(target)
            at_risk_at = self.due(target * AT_RISK)
        else:
            due, at_risk_at = stored
        used = self.used_until(stopped_at or self.now)
        return ClockReading(
            name=clock,
            target=target,
            due=due,
            at_risk_at=at_risk_at,
            used=used,
            state=_state(used, target, stopped=stopped_at is not None),
            stopped_at=stopped_at,
            paused=self.paused,
        )


def _stopped_at(request: Request, clock: str) -> datetime | None:
    """When ``clock`` stopped: at its own event, else when the request became final (a
    cancelled or closed request's clocks stand still; nothing more can meet them)."""
    stopped = request.first_response_at if clock == "response" else request.resolved_at
    if stopped is None and request.status in FINAL:
        return request.closed_at
    return stopped


def _state(used: timedelta, target: timedelta, *, stopped: bool) -> str:
    if stopped:
        return "met" if used <= target else "breached"
    if used >= target:
        return "breached"
    if used >= target * AT_RISK:
        return "at_risk"
    return "on_track"
