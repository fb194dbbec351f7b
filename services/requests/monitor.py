"""Keeping a request's stored SLA states and due moments in step with its clocks.

Readings are computed live whenever a request is shown; the stored copy exists so lists
can filter and sort by SLA state and due time in the database. A change of state is a
fact worth telling: it goes on the timeline, into the audit log and out as a signal
(notifications subscribe to it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.requests.clocks import ClockReading
from services.requests.models import Request
from services.requests.signals import sla_state_changed

if TYPE_CHECKING:
    from services.requests.service import Requests


def apply_readings(
    requests: Requests,
    request: Request,
    readings: tuple[ClockReading, ClockReading],
    *,
    record: bool,
) -> bool:
    response, resolution = readings
    request.response_due_at, request.response_at_risk_at = response.due, response.at_risk_at
    request.resolution_due_at, request.resolution_at_risk_at = resolution.due, resolution.at_risk_at
    changes = []
    for reading, attribute in ((response, "response_state"), (resolution, "resolution_state")):
        old = getattr(request, attribute)
        if old != reading.state:
            setattr(request, attribute, reading.state)
            changes.append((reading.name, old, reading.state))
    if not (record and changes) or request.id is None:
        return bool(changes)
    for clock, old, new in changes:
        requests._event(request, "sla", data={"clock": clock, "from": old, "to": new})
        requests.work.record(
            "request.sla_state",
            "request",
            request.id,
            {f"{clock}_state": old},
            {f"{clock}_state": new},
        )
        sla_state_changed.send(request, clock=clock, old=old, new=new)
    return True
