"""The specialists' inbox: open requests routed to their teams, from every account.

All data gathering is in ``gather_inbox``: it asks the cross-account inbox service
(``services/inbox/``), which fans out to every trusting node at once, each call bounded by
the node's inbox timeout, and adds this account's own open requests. Each source is
``ok``, ``unreachable`` or ``refused``; a page names every account that did not answer in
a warning banner and shows the rest. Items are merged by urgency (the resolution SLA's
due moment, soonest first). A request of another account links to its page reached over
the trust (``portal.views.shared_requests``); this account's own to the request page.

A page shows the ``SHOWN`` most urgent rows ("show more" adds a step up to
``MOST_SHOWN``; past it, the filters), and asks the inbox service for just that many:
every row more costs the peers their clocks and JSON and us their validation and
rendering (issue 5: with 2,500 open requests on each of two customer nodes, asking each
for 200 rows to show 100 put the page over 200 ms). The service asks each node for only
its share of them (see ``services.inbox.service``) and says which sources hold more than
they sent; then the page says how many it knows of at least ("the 50 most urgent of 102+
open requests") and offers more.

Live updates: ``/inbox/events`` is the same server-sent event stream as the API's
``/api/v1/inbox/events``, authenticated by the session; the page's script refreshes the
list when an event arrives (``portal.js``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import render_template, request, url_for

from account_node.context import Work
from account_node.http import node
from account_node.identity.service import Teams
from portal.views.requests import Names
from portal.views.web import portal_blueprint, portal_work, signed_in, viewer
from services.catalog.service import Catalog
from services.inbox.live import event_stream_response
from services.inbox.service import Inbox as InboxService
from services.requests.models import SLA_STATES
from trust.api import handshake_for

SHOWN = 50  # rows per step, and asked of each source; "show more" adds a step
# A work queue's useful depth: past it, the filters find a request faster than scrolling,
# and each step re-asks every source (at 200 rows, 5,000 requests on two customer nodes
# put the page near 400 ms p95 on a busy machine). Below the visibility API's 200.
MOST_SHOWN = 100
STATE_ORDER = {"breached": 0, "at_risk": 1, "on_track": 2, "met": 3}
WORKERS = ("specialist", "admin")


@dataclass(frozen=True)
class InboxFilters:
    account_id: str | None = None
    team_id: str | None = None
    sla_state: str | None = None
    service_id: str | None = None

    @property
    def any(self) -> bool:
        return bool(self.account_id or self.team_id or self.sla_state or self.service_id)


@dataclass(frozen=True)
class InboxItem:
    account_id: str
    account_name: str
    trust_id: str | None  # None: this account's own request
    request_id: str
    reference: str
    subject: str
    status: str
    priority: str
    offering_id: str | None
    offering_name: str  # '' when the source did not name it
    state: str  # the worse of the two clocks' states
    next_due: datetime  # the earliest due moment of a clock still running
    next_clock: str  # which clock that is: response or resolution
    paused: bool

    @property
    def own(self) -> bool:
        return self.trust_id is None


@dataclass(frozen=True)
class Source:
    account_id: str
    account_name: str
    trust_id: str | None
    node: str
    status: str  # ok | unreachable | refused
    latency_ms: float
    count: int  # rows it sent
    partial: bool = False  # it holds more than it sent

    @property
    def known(self) -> int:
        """Open requests it surely holds: what it sent, and one more if it has more."""
        return self.count + self.partial


@dataclass
class Inbox:
    items: list[InboxItem] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)

    @property
    def failed(self) -> list[Source]:
        return [s for s in self.sources if s.status != "ok"]

    @property
    def known(self) -> int:
        """Open requests the sources surely hold: a lower bound when one is partial."""
        return sum(s.known for s in self.sources if s.status == "ok")

    @property
    def partial(self) -> bool:
        """Some source holds more open requests than it sent."""
        return any(s.partial for s in self.sources if s.status == "ok")

    @property
    def more_waiting(self) -> bool:
        return self.partial or self.known > len(self.items)

    @property
    def accounts(self) -> list[str]:
        return sorted({s.account_id for s in self.sources})

    @property
    def names(self) -> dict[str, str]:
        """Account id -> the name people know it by (from the trusts' agreements)."""
        return {s.account_id: s.account_name for s in self.sources}


def gather_inbox(work: Work, filters: InboxFilters, limit: int = SHOWN) -> Inbox:
    """The one function that reads the inbox's rows: the cross-account inbox service,
    asked for the ``limit`` rows the page shows, the most urgent first."""
    service = InboxService(work, handshake_for(work), node().settings.inbox_timeout_ms / 1000)
    narrowed = {
        name: value
        for name, value in (("team", filters.team_id), ("service", filters.service_id))
        if value
    }
    found = service.gather(
        account=filters.account_id, sla_state=filters.sla_state, limit=limit, **narrowed
    )
    sources = [
        Source(
            account_id=s["account"],
            account_name=s.get("account_name") or s["account"],
            trust_id=s["trust_id"],
            node=s["node"],
            status=s["status"],
            latency_ms=float(s["latency_ms"]),
            count=int(s["count"]),
            partial=bool(s["more"]),
        )
        for s in found["sources"]
    ]
    return Inbox([_item(i) for i in found["items"]], sources)


def _item(raw: dict[str, Any]) -> InboxItem:
    sla = raw["sla"]
    clocks = [(name, sla[name]) for name in ("response", "resolution")]
    running = [c for c in clocks if c[1].get("stopped_at") is None] or [clocks[1]]
    name, first = min(running, key=lambda c: _moment(c[1]["due"]))
    states = [c["state"] for _, c in clocks]
    return InboxItem(
        account_id=raw["account"],
        account_name=raw.get("account_name") or raw["account"],
        trust_id=raw.get("trust_id"),
        request_id=raw["id"],
        reference=raw["reference"],
        subject=raw["subject"],
        status=raw["status"],
        priority=raw["priority"],
        offering_id=raw.get("offering"),
        offering_name=raw.get("offering_name") or "",
        state=min(states, key=lambda s: STATE_ORDER.get(s, 9)),
        next_due=_moment(first["due"]),
        next_clock=name,
        paused=bool(sla["resolution"].get("paused")),
    )


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _filters() -> InboxFilters:
    state = request.args.get("sla_state") or None
    return InboxFilters(
        account_id=(request.args.get("account") or None),
        team_id=(request.args.get("team") or None),
        sla_state=state if state in SLA_STATES else None,
        service_id=(request.args.get("service") or None),
    )


@portal_blueprint.get("/inbox")
@signed_in(*WORKERS)
def inbox() -> Any:
    work = portal_work()
    filters = _filters()
    shown = min(max(request.args.get("show", SHOWN, type=int) or SHOWN, SHOWN), MOST_SHOWN)
    found = gather_inbox(work, filters, shown)
    who = viewer()
    teams = Teams(work).page(None, 200).items if who.has("admin") else who.person.teams
    accounts = sorted({*found.accounts, *([filters.account_id] if filters.account_id else [])})
    query = {
        "account": filters.account_id,
        "team": filters.team_id,
        "sla_state": filters.sla_state,
        "service": filters.service_id,
    }
    return render_template(
        "inbox/index.html",
        inbox=found,
        items=found.items,
        more=min(shown + SHOWN, MOST_SHOWN) if found.more_waiting and shown < MOST_SHOWN else None,
        filters=filters,
        query=query,
        teams=teams,
        services=Catalog(work).page(None, 200, active_only=True).items,
        accounts=accounts,
        own_account=work.scope.account_id,
        states=SLA_STATES,
        names=Names(work),
        link=_link,
    )


def _link(item: InboxItem) -> str:
    if item.own:
        return url_for("portal.show_request", request_id=item.request_id)
    return url_for("portal.shared_request", trust_id=item.trust_id, request_id=item.request_id)


@portal_blueprint.get("/inbox/events")
@signed_in(*WORKERS)
def inbox_events() -> Any:
    """Server-sent events for the inbox page (references only, as the API's stream). The
    stream ends after the node's stream lifetime and the browser reconnects, so access
    is checked again regularly; a deactivated trust's events stop at once."""
    return event_stream_response(portal_work())
