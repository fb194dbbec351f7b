"""Queries for the requests a trust reaches: those raised on its received offerings
before their end.

A request raised at or after its offering's end is outside the offering, and its
provider never reaches it. Locally that cannot happen (a create and an expiry queue up
on the offering's row: ``services.offerings.service.Offerings.expire``); over a trust it
can, between the moment the provider ends the offering (as it signs it) and the moment
the revision reaches this node: at once, or when the provider's outbox gets through.
Expiring stops new requests at once (DESIGN section 5), so what this node's people
raised meanwhile stays here, theirs to read, told so on its timeline when the end
arrives (``services.offerings.federation``). The end is read from the offering's row in
the same statement, so a revision is in force from the commit that holds it.

The list page is the cross-account inbox's hot path (every trusted node asks every
trusting node on each inbox load), so it reads plain rows of just the columns a summary
shows, not ORM entities: no identity map, no unused text or JSON decoded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import Select, Text, and_, bindparam, exists, func, or_, select, type_coerce

from account_node.identity.models import Person
from account_node.pagination import Page, keyset, page_of
from account_node.tenancy import ScopedStore, prebuilt
from services.offerings.models import Offering
from services.requests.lifecycle import FINAL
from services.requests.models import Request, RequestEvent, RequestPause
from services.requests.store import escape_like, sla_state_of_request, text_matches


def raised_before_the_end() -> Any:
    """A criterion: the request was raised before its offering's end, if it has one
    (module docstring)."""
    ended = select(Offering.id).where(
        Offering.account_id == Request.account_id,
        Offering.id == Request.offering_id,
        Offering.ends_at <= Request.created_at,
    )
    return ~exists(ended)


@dataclass(frozen=True)
class Reach:
    """The requests a trust reaches: those raised on its received offerings before
    their end, and of an offering that has ended, only those not closed."""

    offering_ids: tuple[str, ...]
    open_offering_ids: tuple[str, ...]

    def query(self) -> Select:  # type: ignore[type-arg]
        return select(Request).where(
            Request.offering_id.in_(self.offering_ids),
            or_(
                Request.offering_id.in_(self.open_offering_ids),
                Request.status.notin_(FINAL),
            ),
            raised_before_the_end(),
        )


@dataclass(frozen=True)
class UrgentFilter:
    """What the trusted node may narrow the urgency page by."""

    statuses: tuple[str, ...] = ()
    sla_state: str | None = None
    text: str | None = None


class SharedRequestStore(ScopedStore[Request]):
    model = Request

    def newest(self, query: Select, cursor: str | None, limit: int) -> Page[Request]:  # type: ignore[type-arg]
        """A page of ``query``, newest first, by cursor (the list's keyset index)."""
        rows = self.session.scalars(keyset(query, Request, cursor, limit, newest_first=True))
        return page_of(list(rows), limit)

    def most_urgent_summaries(
        self,
        reach: Reach,
        wanted: list[str],
        filters: UrgentFilter,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[SummaryRow]:
        """Open requests of ``reach`` (narrowed to the offerings ``wanted``, if any), the
        SLA due first (the index on (account, resolution due)), from just after the key
        ``after`` (resolution due, id) if given, as rows of ``SUMMARY_COLUMNS`` (what a
        summary and its clocks read) with the requester's name joined in and whether
        the request ever paused (most never did, and then their pauses need no second
        query).

        The inbox's hot path: every trusted node asks every trusting node on each inbox
        load. So the statement is built once per shape of the filters and account
        (``prebuilt``), every value bound: building it, and its cache key, anew on each
        call cost more CPU than the database spends answering it."""
        shape = _Shape(bool(wanted), bool(filters.statuses), filters.sla_state is not None,
                       bool(filters.text), after is not None)  # fmt: skip
        params: dict[str, Any] = {
            "reach": list(reach.offering_ids),
            "open": list(reach.open_offering_ids),
            "limit": limit,
        }
        if wanted:
            params["wanted"] = wanted
        if filters.statuses:
            params["statuses"] = list(filters.statuses)
        if filters.sla_state is not None:
            params["sla_state"] = filters.sla_state
        if filters.text:
            params["pattern"] = f"%{escape_like(filters.text.lower())}%"
        if after is not None:
            params["due"], params["after_id"] = after
        query = prebuilt(_urgent_builder(shape), self.scope.account_id)
        return [SummaryRow.of(row) for row in self.session.execute(query, params)]

    def count(self, query: Select) -> int:  # type: ignore[type-arg]
        return int(self.session.scalar(select(func.count()).select_from(query.subquery())) or 0)

    def pauses_of(self, request_ids: list[str]) -> dict[str, list[RequestPause]]:
        found: dict[str, list[RequestPause]] = {request_id: [] for request_id in request_ids}
        if request_ids:
            query = select(RequestPause).where(RequestPause.request_id.in_(request_ids))
            for pause in self.session.scalars(query.order_by(RequestPause.began_at)):
                found[pause.request_id].append(pause)
        return found

    def pause_spans_of(self, request_ids: list[str]) -> dict[str, list[Any]]:
        """``pauses_of`` as plain rows (began_at, ended_at, status), oldest first."""
        found: dict[str, list[Any]] = {request_id: [] for request_id in request_ids}
        if request_ids:
            query = (
                select(RequestPause.request_id, *PAUSE_COLUMNS)
                .where(RequestPause.request_id.in_(request_ids))
                .order_by(RequestPause.began_at)
            )
            for row in self.session.execute(query):
                found[row.request_id].append(row)
        return found

    def timeline(self, request_id: str) -> list[RequestEvent]:
        query = select(RequestEvent).where(RequestEvent.request_id == request_id)
        return list(self.session.scalars(query.order_by(RequestEvent.seq)))

    def names_of(self, person_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted(set(person_ids))
        if not ids:
            return {}
        query = select(Person.id, Person.name).where(Person.id.in_(ids))
        return {row.id: row.name for row in self.session.execute(query)}


# What a list summary shows and what reading its two clocks needs. The frozen SLA terms
# and calendar come as their stored text: a page shares one or two of each, so parsing
# each distinct text once (``frozen_json``) beats decoding the same JSON fifty times.
SUMMARY_COLUMNS = (
    Request.id, Request.number, Request.subject, Request.status, Request.priority,
    Request.offering_id, Request.requester_id, Request.assignee_id, Request.created_at,
    Request.updated_at,
    Request.sla_name, Request.sla_source, Request.sla_reason,
    type_coerce(Request.sla_terms, Text).label("sla_terms"),
    type_coerce(Request.sla_calendar, Text).label("sla_calendar"),
    Request.response_due_at, Request.resolution_due_at, Request.response_at_risk_at,
    Request.resolution_at_risk_at, Request.first_response_at, Request.resolved_at,
)  # fmt: skip
_NAMES = [column.key for column in SUMMARY_COLUMNS]
_TERMS, _CALENDAR = _NAMES.index("sla_terms"), _NAMES.index("sla_calendar")
PAUSE_COLUMNS = (RequestPause.began_at, RequestPause.ended_at, RequestPause.status)


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One row of ``SUMMARY_COLUMNS``, with the SLA's JSON parsed: it has the attributes
    ``services.requests.clocks`` reads, so it serves as well as the entity there."""

    id: str
    number: int
    subject: str
    status: str
    priority: str
    offering_id: str | None
    requester_id: str
    assignee_id: str | None
    created_at: datetime
    updated_at: datetime
    sla_name: str
    sla_source: str
    sla_reason: str
    sla_terms: dict[str, Any]
    sla_calendar: dict[str, Any]
    response_due_at: datetime
    resolution_due_at: datetime
    response_at_risk_at: datetime
    resolution_at_risk_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    requester_name: str | None
    has_pauses: bool

    @classmethod
    def of(cls, row: Any) -> SummaryRow:
        """From a row of ``SUMMARY_COLUMNS``, requester name and pause flag, in the order
        of the fields (by position: a row's mapping view costs more than the rest)."""
        values = list(row)
        values[_TERMS] = frozen_json(values[_TERMS])
        values[_CALENDAR] = frozen_json(values[_CALENDAR])
        return cls(*values)


def frozen_json(value: Any) -> Any:
    """A JSON column's value: text (SQLite) parsed once per distinct text and shared, so
    never to be changed by the caller; a driver that decodes JSON itself passes through."""
    return _parsed(value) if isinstance(value, str) else value


@lru_cache(maxsize=256)
def _parsed(text: str) -> Any:
    return json.loads(text)


@dataclass(frozen=True)
class _Shape:
    """Which optional criteria an urgency page has: one prebuilt statement each."""

    wanted: bool
    statuses: bool
    sla_state: bool
    text: bool
    after: bool


@lru_cache(maxsize=64)
def _urgent_builder(shape: _Shape) -> Callable[[], Select]:  # type: ignore[type-arg]
    """One builder (one object, so ``prebuilt`` keeps one statement) per shape."""
    return partial(_urgent_statement, shape)


def _urgent_statement(shape: _Shape) -> Select:  # type: ignore[type-arg]
    requester = and_(Person.account_id == Request.account_id, Person.id == Request.requester_id)
    paused = exists().where(
        RequestPause.account_id == Request.account_id, RequestPause.request_id == Request.id
    )
    query = (
        select(*SUMMARY_COLUMNS, Person.name.label("requester_name"), paused.label("has_pauses"))
        .select_from(Request)
        .outerjoin(Person, requester)
        .where(
            Request.offering_id.in_(bindparam("reach", expanding=True)),
            or_(
                Request.offering_id.in_(bindparam("open", expanding=True)),
                Request.status.notin_(FINAL),
            ),
            Request.status.notin_((*FINAL, "resolved")),
            raised_before_the_end(),
        )
    )
    if shape.wanted:
        query = query.where(Request.offering_id.in_(bindparam("wanted", expanding=True)))
    if shape.statuses:
        query = query.where(Request.status.in_(bindparam("statuses", expanding=True)))
    if shape.sla_state:
        query = query.where(sla_state_of_request() == bindparam("sla_state"))
    if shape.text:
        query = query.where(text_matches(bindparam("pattern")))
    if shape.after:
        due = bindparam("due", type_=Request.resolution_due_at.type)
        query = query.where(
            or_(
                Request.resolution_due_at > due,
                and_(Request.resolution_due_at == due, Request.id > bindparam("after_id")),
            )
        )
    return query.order_by(Request.resolution_due_at, Request.id).limit(bindparam("limit"))
