"""Scheduling the SLA checks of a request: its next at-risk or due moment.

A request has up to four such moments (at risk and due, for response and resolution);
only the earliest still to come is scheduled, and the check that runs then schedules
the next one. One job per change instead of four: on Redis each is a round trip and a
stored job, and most are made stale by the next change anyway.

Each job carries the request's ``clock_version``; anything that moves a clock bumps it, so
a job scheduled for an older version finds itself stale and does nothing. Jobs are
enqueued after commit (``Work.enqueue``), and a periodic sweep repairs any that were lost
and schedules them again (``schedule_checks_again``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from account_node.context import Work
from services.requests.clocks import NEVER
from services.requests.models import Request

if TYPE_CHECKING:
    from services.requests.service import Requests, RequestView

CHECK = "services.requests.jobs.check_clocks"


def schedule_clock_checks(work: Work, request: Request, view: RequestView) -> None:
    if request.status in ("closed", "cancelled"):
        return
    now = work.clock.now()
    moments: set[datetime] = set()
    for reading in (view.response, view.resolution):
        if reading.stopped_at is not None or reading.paused:
            continue
        moments.update(m for m in (reading.at_risk_at, reading.due) if now < m < NEVER)
    if not moments:
        return
    moment = min(moments)
    work.enqueue(
        "sla",
        CHECK,
        work.scope.account_id,
        request.id,
        request.clock_version,
        at=moment,
        job_id=f"sla-{request.id}-{request.clock_version}-{int(moment.timestamp())}",
    )


def schedule_checks_again(requests: Requests, request_id: str) -> None:
    """After the sweep repaired a request's stored states: schedule its next check.

    The sweep finds a request whose checks were lost (Redis lost them, a worker died);
    its repair left them lost, so every later moment of that request waited for a sweep,
    up to a whole interval late, instead of its own check on time."""
    view = requests.view(request_id)
    schedule_clock_checks(requests.work, view.request, view)
