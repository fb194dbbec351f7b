"""Reading a request's response and resolution clocks from its frozen SLA.

Everything needed is on the request (terms, calendar definition, created/stop moments)
plus its pause periods, so a reading never depends on SLAs or calendars that may have
changed since. A clock that is still running while the request is paused counts the
open pause up to ``now``. A running clock that reaches its budget is ``breached`` (the
deadline passed without the event); a stopped clock is ``met`` when it stopped within it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from services.requests.models import Request
from services.sla.calendar import Calendar
from services.sla.clock import due_at, elapsed

AT_RISK = 0.75
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
    return Calendar.from_dict(json.loads(definition))


def calendar_of(request: Request) -> Calendar:
    return _calendar(json.dumps(request.sla_calendar, sort_keys=True))


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
    calendar = calendar_of(request)
    target = target_of(request, clock)
    stopped_at = request.first_response_at if clock == "response" else request.resolved_at
    paused = any(end is None for _, end in pauses)
    closed = [(begin, end if end is not None else max(now, begin)) for begin, end in pauses]
    stored = (getattr(request, f"{clock}_due_at"), getattr(request, f"{clock}_at_risk_at"))
    if fresh or paused or None in stored:
        due = due_at(calendar, request.created_at, target, closed)
        at_risk_at = due_at(calendar, request.created_at, target * AT_RISK, closed)
    else:
        due, at_risk_at = stored
    end = stopped_at or now
    used = elapsed(calendar, request.created_at, max(end, request.created_at), closed)
    return ClockReading(
        name=clock,
        target=target,
        due=due,
        at_risk_at=at_risk_at,
        used=used,
        state=_state(used, target, stopped=stopped_at is not None),
        stopped_at=stopped_at,
        paused=paused,
    )


def _state(used: timedelta, target: timedelta, *, stopped: bool) -> str:
    if stopped:
        return "met" if used <= target else "breached"
    if used >= target:
        return "breached"
    if used >= target * AT_RISK:
        return "at_risk"
    return "on_track"


def read_clocks(
    request: Request, pauses: Sequence[Pause], now: datetime, *, fresh: bool = False
) -> tuple[ClockReading, ClockReading]:
    return (
        read_clock(request, "response", pauses, now, fresh=fresh),
        read_clock(request, "resolution", pauses, now, fresh=fresh),
    )
