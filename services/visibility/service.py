"""The trusting side: what the trusted account of one trust may see and do here.

It reaches the requests raised on the offerings received over that trust, and nothing
else; of an offering that has ended, only requests not yet closed. It acts as the
trusted account's named specialist (the ``trustdesk-actor`` of the signed call), through
the same request service as local staff, so the status machine, the clocks, the
timeline and the audit log apply unchanged, with the vouching account recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any

from account_node.context import Work
from account_node.pagination import decode_cursor, encode_cursor
from services.offerings.models import Offering
from services.offerings.service import Offerings
from services.requests import lifecycle
from services.requests.clocks import ClockReading, read_clocks
from services.requests.models import Request, RequestEvent
from services.requests.service import Requests
from services.requests.store import RequestFilter, Visibility
from services.visibility.errors import OfferingExpired, RequestOutsideOffering
from services.visibility.store import Reach, SharedRequestStore, UrgentFilter
from trust.models import Trust

SORTS = ("urgency", "newest")


@dataclass(frozen=True)
class _OfferingReach(Visibility):
    """The Requests service's view, narrowed to the trust's offerings."""

    reach: Any = None

    def apply(self, query: Any) -> Any:
        return query.where(self.reach) if self.reach is not None else query


class SharedRequests:
    def __init__(self, work: Work, trust: Trust) -> None:
        work.roles = frozenset({"specialist"})
        self.work = work
        self.trust = trust
        now = work.clock.now()
        self.offerings: dict[str, Offering] = {
            o.id: o for o in Offerings(work).of_trust(trust.id) if o.kind == "received"
        }
        self.by_remote = {o.remote_id: o for o in self.offerings.values()}
        self.open_ids = [o.id for o in self.offerings.values() if o.is_open(now)]
        self.store = SharedRequestStore(work.session, work.scope)
        self.reach = Reach(tuple(self.offerings), tuple(self.open_ids))

    @cached_property
    def requests(self) -> Requests:
        """The request service, seeing only what the trust reaches (for reads of one
        request and for actions; the urgency page needs none of it)."""
        requests = Requests(self.work)
        clause = self.reach.query().whereclause
        requests.visibility = lambda: _OfferingReach(everything=False, reach=clause)  # type: ignore[method-assign]
        return requests

    # --- reading ---------------------------------------------------------------------

    def page(
        self,
        *,
        offerings: list[str] | None = None,
        statuses: tuple[str, ...] = (),
        sla_state: str | None = None,
        text: str | None = None,
        sort: str = "urgency",
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """The trust's requests: the open ones, the most urgent first, or all, newest
        first; either order pages by cursor. The urgency order is what the trusted
        node's inbox merges across nodes: it asks each node for a few rows, then goes on
        from the cursor of only those nodes whose rows may still belong on its page."""
        wanted = [self.by_remote[r].id for r in offerings or [] if r in self.by_remote]
        if offerings and not wanted:
            return {"items": [], "next_cursor": None}
        rows: Sequence[Any]
        if sort == "urgency":  # the inbox's hot path: plain rows, not entities
            after = decode_cursor(cursor) if cursor else None
            filters = UrgentFilter(statuses, sla_state, text)
            summaries = self.store.most_urgent_summaries(
                self.reach, wanted, filters, limit + 1, after
            )
            next_cursor = None
            if len(summaries) > limit:
                last = summaries[limit - 1]
                next_cursor = encode_cursor(last.resolution_due_at, last.id)
            rows = summaries = summaries[:limit]
            ever_paused = [r.id for r in summaries if r.has_pauses]
            pauses: Mapping[str, Sequence[Any]] = self.store.pause_spans_of(ever_paused)
            names = {r.requester_id: r.requester_name for r in summaries if r.requester_name}
        else:
            query = RequestFilter(statuses=statuses, sla_state=sla_state, text=text).apply(
                self.reach.query()
            )
            if wanted:
                query = query.where(Request.offering_id.in_(wanted))
            page = self.store.newest(query, cursor, limit)
            rows, next_cursor = page.items, page.next_cursor
            pauses = self.store.pauses_of([r.id for r in rows])
            names = self.store.names_of(r.requester_id for r in rows)
        now = self.work.clock.now()
        return {
            "items": [self._summary(r, pauses.get(r.id, ()), names, now) for r in rows],
            "next_cursor": next_cursor,
        }

    def detail(self, request_id: str) -> dict[str, Any]:
        return self._detail(self._reached(request_id))

    def _detail(self, request: Request) -> dict[str, Any]:
        pauses = self.store.pauses_of([request.id])[request.id]
        events = self.store.timeline(request.id)
        names = self.store.names_of([request.requester_id])
        return {
            **self._summary(request, pauses, names),
            "description": request.description,
            "timeline": [_event(e) for e in events],
        }

    # --- acting (as the trusted account's specialist) ----------------------------------

    def add_note(self, request_id: str, body: str, public: bool) -> dict[str, Any]:
        self._reached(request_id)
        return _event(self.requests.add_note(request_id, body, public=public))

    def change_status(self, request_id: str, status: str, reason: str) -> dict[str, Any]:
        """The request as the change left it. Not read back through ``_reached``: on an
        ended offering that refuses a closed request, so closing one, the last move its
        offering still allows, was answered with a refusal and rolled back."""
        self._reached(request_id)
        return self._detail(self.requests.change_status(request_id, status, reason))

    # --- internals ---------------------------------------------------------------------

    def _reached(self, request_id: str) -> Request:
        everything = Reach(self.reach.offering_ids, self.reach.offering_ids)
        found = self.store.session.scalars(
            everything.query().where(Request.id == request_id)
        ).first()
        if found is None:
            raise RequestOutsideOffering(
                f"request {request_id} is not on an offering of this trust",
                reason="request_outside_offering",
            )
        if found.offering_id not in self.open_ids and found.status in lifecycle.FINAL:
            raise OfferingExpired(
                "the offering has ended and this request is closed", reason="offering_expired"
            )
        return found

    def _summary(
        self,
        request: Any,
        pauses: Sequence[Any],
        names: dict[str, str],
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """A request (entity or summary row) and its pauses (entities or rows) as shared.
        Moments are written here as the ISO 8601 text the JSON provider would make of
        them: once per value, not through the encoder's fallback hook (a page holds
        hundreds of them, and this is the cross-account inbox's hot path)."""
        response, resolution = read_clocks(
            request, [(p.began_at, p.ended_at) for p in pauses], now or self.work.clock.now()
        )
        offering = self.offerings[request.offering_id or ""]
        return {
            "id": request.id,
            "reference": f"REQ-{request.number}",
            "subject": request.subject,
            "status": request.status,
            "priority": request.priority,
            "offering": offering.remote_id,
            "offering_name": offering.name,
            "requester": names.get(request.requester_id, "unknown"),
            "created_at": request.created_at.isoformat(),
            "updated_at": request.updated_at.isoformat(),
            "urgency_at": request.resolution_due_at.isoformat(),
            "allowed_transitions": _staff_moves(request.status, request.assignee_id is not None),
            "sla": {
                "name": request.sla_name,
                "source": request.sla_source,
                "reason": request.sla_reason,
                "response": _clock(response),
                "resolution": _clock(resolution),
                "pauses": [
                    {"began_at": _iso(p.began_at), "ended_at": _iso(p.ended_at), "status": p.status}
                    for p in pauses
                ],
            },
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _clock(reading: ClockReading) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, datetime) else v for k, v in reading.as_dict().items()
    }


@lru_cache(maxsize=32)
def _moves(status: str, held: bool) -> tuple[str, ...]:
    return tuple(lifecycle.allowed_transitions(status, staff=True, held=held))


def _staff_moves(status: str, held: bool) -> list[str]:
    """The moves staff may make from ``status`` (a fresh list: callers may keep it)."""
    return list(_moves(status, held))


def _event(event: RequestEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at,
        "kind": event.kind,
        "public": event.public,
        "actor": event.actor_name,
        "vouched_by": event.vouched_by,
        "body": event.body,
        "data": event.data,
    }
