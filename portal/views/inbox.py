"""The specialists' inbox: open requests routed to their teams, most urgent first.

All data gathering is in ``gather_inbox`` and nothing else here touches a service, so the
cross-account inbox service (``services/inbox/``, being built) can replace it in one
place: it returns plain ``InboxItem``s and one ``Source`` per account asked, which is the
shape a fan-out over trusting nodes has too (one source per node, ``ok``, ``unreachable``
or ``refused``). For now the only source is this account, read through ``Requests``.

Urgency: a request whose clock is running comes before one that is paused; among them,
the earliest next due moment of a running clock comes first (so breached ones lead).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import render_template, request, url_for

from account_node.context import Work
from account_node.identity.service import Teams
from portal.views.requests import Names, reference
from portal.views.web import portal_blueprint, portal_work, signed_in, viewer
from services.catalog.service import Catalog
from services.requests import lifecycle
from services.requests.clocks import ClockReading
from services.requests.models import SLA_STATES
from services.requests.service import Requests
from services.requests.store import RequestFilter

GATHER_LIMIT = 1000  # rows read per source; past this the page says it is partial
SHOWN = 100  # rows per step; "show more" adds a step, up to MOST_SHOWN
MOST_SHOWN = 500
STATE_ORDER = {"breached": 0, "at_risk": 1, "on_track": 2, "met": 3}


@dataclass(frozen=True)
class InboxFilters:
    service_id: str | None = None
    team_id: str | None = None
    sla_state: str | None = None
    account_id: str | None = None


@dataclass(frozen=True)
class InboxItem:
    account_id: str
    request_id: str
    reference: str
    subject: str
    status: str
    priority: str
    service_id: str
    team_id: str | None
    assignee_id: str | None
    state: str  # the worse of the two clocks' states
    next_due: datetime  # the earliest due moment of a clock still running
    next_clock: str  # which clock that is: response or resolution
    paused: bool
    response: ClockReading
    resolution: ClockReading

    @property
    def urgency(self) -> tuple[bool, datetime]:
        return (self.paused, self.next_due)


@dataclass(frozen=True)
class Source:
    account_id: str
    status: str  # ok | unreachable | refused
    latency_ms: float
    partial: bool = False


@dataclass
class Inbox:
    items: list[InboxItem] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)


def gather_inbox(work: Work, filters: InboxFilters) -> Inbox:
    """The one function that reads the inbox's rows (replace it with the inbox service)."""
    began = time.perf_counter()
    requests = Requests(work)
    query = RequestFilter(
        statuses=tuple(lifecycle.OPEN),
        service_id=filters.service_id,
        team_id=filters.team_id,
        sla_state=filters.sla_state,
    )
    # One page as large as the limit: one query for the rows and one for their pauses.
    page = requests.page(query, None, GATHER_LIMIT)
    account = work.scope.account_id
    items = [_item(account, v.request, v.response, v.resolution) for v in page.items]
    cursor = page.next_cursor
    items.sort(key=lambda i: i.urgency)
    latency = (time.perf_counter() - began) * 1000
    source = Source(work.scope.account_id, "ok", latency, partial=cursor is not None)
    return Inbox(items, [source])


def _item(account_id: str, r: Any, response: ClockReading, resolution: ClockReading) -> InboxItem:
    running = [c for c in (response, resolution) if c.stopped_at is None] or [resolution]
    first = min(running, key=lambda c: c.due)
    states = [c.state for c in (response, resolution)]
    return InboxItem(
        account_id=account_id,
        request_id=r.id,
        reference=reference(r.number),
        subject=r.subject,
        status=r.status,
        priority=r.priority,
        service_id=r.service_id,
        team_id=r.team_id,
        assignee_id=r.assignee_id,
        state=min(states, key=lambda s: STATE_ORDER.get(s, 9)),
        next_due=first.due,
        next_clock=first.name,
        paused=resolution.paused,
        response=response,
        resolution=resolution,
    )


def _filters() -> InboxFilters:
    state = request.args.get("sla_state") or None
    return InboxFilters(
        service_id=(request.args.get("service") or None),
        team_id=(request.args.get("team") or None),
        sla_state=state if state in SLA_STATES else None,
    )


@portal_blueprint.get("/inbox")
@signed_in("specialist", "admin")
def inbox() -> Any:
    work = portal_work()
    filters = _filters()
    found = gather_inbox(work, filters)
    shown = min(max(request.args.get("show", SHOWN, type=int) or SHOWN, SHOWN), MOST_SHOWN)
    who = viewer()
    teams = Teams(work).page(None, 200).items if who.has("admin") else who.person.teams
    return render_template(
        "inbox/index.html",
        inbox=found,
        items=found.items[:shown],
        shown=shown,
        more=min(shown + SHOWN, MOST_SHOWN)
        if len(found.items) > shown and shown < MOST_SHOWN
        else None,
        filters=filters,
        teams=teams,
        services=Catalog(work).page(None, 200).items,
        states=SLA_STATES,
        names=Names(work),
        link=lambda item: url_for("portal.show_request", request_id=item.request_id),
        now=work.clock.now(),
    )
