"""Queries for requests, their pauses and timelines, inside one account scope."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    String,
    Table,
    Text,
    Update,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import load_only, make_transient_to_detached

from account_node.audit.service import AuditStore, append_statement
from account_node.identity.models import Person
from account_node.pagination import Page, keyset, page_of
from account_node.tenancy import ScopedStore, prebuilt
from services.catalog.models import Service
from services.offerings.errors import OfferingNotFound
from services.offerings.models import Offering
from services.requests.errors import RequestNotFound
from services.requests.models import Request, RequestCounter, RequestEvent, RequestPause
from services.sla.errors import SlaNotFound
from services.sla.models import BusinessCalendar, RequesterSla, Sla
from trust.models import Trust

_COUNTERS: Table = RequestCounter.__table__  # type: ignore[assignment]
_REQUESTS: Table = Request.__table__  # type: ignore[assignment]
_EVENTS: Table = RequestEvent.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Visibility:
    """Whose requests a caller may see: everything, or by requester / team / assignee."""

    everything: bool = False
    requester_id: str | None = None
    # Colleagues in a request-sharing team, whose requests this person may also see.
    colleague_ids: tuple[str, ...] = ()
    team_ids: tuple[str, ...] = ()
    assignee_id: str | None = None

    def apply(self, query: Select) -> Select:  # type: ignore[type-arg]
        if self.everything:
            return query
        clauses = []
        if self.requester_id:
            clauses.append(Request.requester_id == self.requester_id)
        if self.colleague_ids:
            clauses.append(Request.requester_id.in_(self.colleague_ids))
        if self.team_ids:
            clauses.append(Request.team_id.in_(self.team_ids))
        if self.assignee_id:
            clauses.append(Request.assignee_id == self.assignee_id)
        return query.where(or_(*clauses)) if clauses else query.where(Request.id.is_(None))

    def covers(self, requester_id: Any, team_id: Any, assignee_id: Any) -> bool:
        """``apply`` for one request known by these three (live events carry no more)."""
        return (
            self.everything
            or (self.requester_id is not None and requester_id == self.requester_id)
            or requester_id in self.colleague_ids
            or team_id in self.team_ids
            or (self.assignee_id is not None and assignee_id == self.assignee_id)
        )


@dataclass(frozen=True)
class RequestFilter:
    statuses: tuple[str, ...] = ()
    service_id: str | None = None
    offering_id: str | None = None
    team_id: str | None = None
    assignee_id: str | None = None
    requester_id: str | None = None
    sla_state: str | None = None
    breached: bool | None = None
    text: str | None = None

    def apply(self, query: Select) -> Select:  # type: ignore[type-arg]
        if self.statuses:
            query = query.where(Request.status.in_(self.statuses))
        for column, value in (
            (Request.service_id, self.service_id),
            (Request.offering_id, self.offering_id),
            (Request.team_id, self.team_id),
            (Request.assignee_id, self.assignee_id),
            (Request.requester_id, self.requester_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.sla_state is not None:
            query = query.where(sla_state_of_request() == self.sla_state)
        if self.breached is not None:
            breached = or_(
                Request.response_state == "breached", Request.resolution_state == "breached"
            )
            query = query.where(breached if self.breached else ~breached)
        if self.text:
            query = query.where(text_matches(f"%{escape_like(self.text.lower())}%"))
        return query


@cache
def sla_state_of_request() -> Any:
    """A request's SLA state: the worse of its two clocks' (``breached``, then
    ``at_risk``, ``on_track``, ``met``). A breached response is a breached request,
    however well its resolution goes; it is ``met`` only once both clocks are. Built
    once: an expression never changes, and building one costs more than a query's
    other filters together."""

    def either(state: str) -> Any:
        return or_(Request.response_state == state, Request.resolution_state == state)

    return case(
        (either("breached"), "breached"),
        (either("at_risk"), "at_risk"),
        (either("on_track"), "on_track"),
        else_="met",
    )


def text_matches(pattern: Any) -> Any:
    """Subject or description matches the lowercase LIKE ``pattern`` (a value or a
    bound parameter), escaped with ``escape_like``."""
    return or_(
        func.lower(Request.subject).like(pattern, escape="\\"),
        func.lower(Request.description).like(pattern, escape="\\"),
    )


def escape_like(text: str) -> str:
    """``text`` matched literally by ``LIKE ... ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class RequestStore(ScopedStore[Request]):
    model = Request
    not_found = RequestNotFound

    def visible(self, request_id: str, visibility: Visibility) -> Request:
        query = visibility.apply(select(Request).where(Request.id == request_id))
        found = self.session.scalars(query).first()
        if found is None:
            raise RequestNotFound(f"request {request_id} not found")
        return found

    def visible_page(
        self, visibility: Visibility, filters: RequestFilter, cursor: str | None, limit: int
    ) -> Page[Request]:
        query = filters.apply(visibility.apply(select(Request)))
        rows = self.session.scalars(keyset(query, Request, cursor, limit, newest_first=True))
        return page_of(list(rows), limit)

    def visible_for_change(self, request_id: str, visibility: Visibility) -> Request:
        """A request ``visibility`` shows, read under its lock (``locked``) and read
        afresh: what the session held of it is replaced by what the lock found.

        Two changes of one request at once (two notes, a cancel and an edit) used to
        read it unlocked, each decide on its own copy, and collide: at the timeline's
        next entry number (a 500), or not at all (an edit landed on a request cancelled
        meanwhile, audited as still open). Under the lock the second waits for the
        first's commit and decides on what it did."""
        self.lock_for_writing()
        query = visibility.apply(select(Request).where(Request.id == request_id))
        query = query.with_for_update(of=Request).execution_options(populate_existing=True)
        found = self.session.scalars(query).first()
        if found is None:
            raise RequestNotFound(f"request {request_id} not found")
        return found

    def locked(self, request_id: str, *, reread: bool = False) -> Request | None:
        """The request with its row locked until commit (``lock_for_writing``).

        ``reread``: replace what the session holds of it with what the lock found (a copy
        read earlier without the lock may be stale; one with unsaved changes must not
        be reread)."""
        self.lock_for_writing()
        query = select(Request).where(Request.id == request_id).with_for_update()
        if reread:
            query = query.execution_options(populate_existing=True)
        return self.session.scalars(query).first()

    def lock_for_writing(self) -> None:
        """Before reading a row to change it: on SQLite, take the database's one write
        lock (its FOR UPDATE does nothing, and reads take no lock), so the read that
        follows sees the last commit and nobody writes until this one commits. On
        PostgreSQL nothing: the read's own FOR UPDATE locks the row."""
        if self.session.get_bind().dialect.name != "postgresql":
            self._lock_counter()

    def next_number(self) -> int:
        """Take the account's next request number; its counter row stays locked until commit.

        One statement: the UPDATE both locks the row and increments it (a write first, for
        the same reason as the audit head: SQLite's FOR UPDATE does nothing).
        """
        taken = self._bump_counter()
        if taken is None:
            self._create_counter()
            taken = self._bump_counter()
            if taken is None:
                raise RuntimeError("the request counter could not be created")
        return taken

    def _create_counter(self) -> None:
        """Before the account's first request: two may race to create the counter; the
        loser's savepoint rolls back and it bumps the winner's row."""
        try:
            with self.session.begin_nested():
                self.session.execute(
                    insert(RequestCounter).values(account_id=self.scope.account_id, last=0)
                )
        except IntegrityError:
            pass

    def write_new(self, request: Request, first: RequestEvent, event: dict[str, Any]) -> bool:
        """Number a new request and write it with its first timeline entry and the audit
        ``event`` of its creation (``number`` left out of its ``after``); returns
        whether that event was written.

        The number comes from the account's counter, whose row stays locked until commit
        (so numbers are consecutive and creates of one account queue up from here on).
        On PostgreSQL this is one statement: bump the counter, insert the request with
        that number and the entry, and append ``event`` to the audit chain with the
        number in its ``after`` (the chain head's lock, too, is taken here, not one round
        trip later); both objects then join the session as persistent, as if loaded, so
        later changes in this unit of work are plain UPDATEs. Elsewhere the counter is
        bumped first and the unit of work writes both; the caller records the event.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            request.number = self.next_number()
            self.stage(request)
            self.stage(first)
            return False
        request.account_id = first.account_id = self.scope.account_id
        params = {"counter_account": self.scope.account_id}
        params["request"] = _record(request, _REQUEST_COLUMNS)
        params["entry"] = _record(first, _EVENT_COLUMNS)
        params.update(AuditStore(self.session, self.scope).append_params(event, ("number",)))
        statement = prebuilt(_write_new, self.scope.account_id)
        row = self.session.execute(statement, params).first()
        if row is None or row[0] is None:
            self._create_counter()
            row = self.session.execute(statement, params).first()
            if row is None or row[0] is None:
                raise RuntimeError("the request counter could not be created")
        request.number = row[0]
        for obj in (request, first):
            make_transient_to_detached(obj)
            self.session.add(obj)
        # No chain head yet (an account that never recorded anything): the caller's
        # record creates it.
        return row[1] is not None

    def write_new_once(
        self, request: Request, first: RequestEvent, event: dict[str, Any]
    ) -> bool | None:
        """``write_new`` for a create with an Idempotency-Key; None when a create with the
        same key committed after this one looked the key up and found nothing. Then
        nothing was written, not even a number taken, and the winner's request is there
        to be read.

        On PostgreSQL the key's unique index decides: the write goes in a savepoint (for
        such creates only: SAVEPOINT and RELEASE), and the losing insert waits at the
        index (or before it, at the account's counter) until the winner commits, then
        fails and rolls back to the savepoint. SQLite has one writer at a time, and a
        savepoint opening the transaction would commit it when released (pysqlite
        begins transactions only before writes): so the write lock is taken first, and
        the key looked up again under it, which is then final.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            self._lock_counter()
            if self.by_idempotency_key(request.requester_id, request.idempotency_key or ""):
                return None
            return self.write_new(request, first, event)
        try:
            with self.session.begin_nested():
                return self.write_new(request, first, event)
        except IntegrityError as exc:
            if not _meets_idempotency_index(exc):
                raise
            return None

    def _lock_counter(self) -> None:
        """Take SQLite's write lock without changing anything (an UPDATE locks the
        database, even one that matches no row: an account without a counter yet)."""
        self.session.execute(
            update(_COUNTERS)
            .where(_COUNTERS.c.account_id == self.scope.account_id)
            .values(last=_COUNTERS.c.last)
        )

    def _bump_counter(self) -> int | None:
        # Core, not the ORM: nothing in the identity map to keep in step. The account is
        # named explicitly since the ORM criterion only covers entities.
        statement = prebuilt(_bump_counter, self.scope.account_id)
        return self.session.scalar(statement, {"counter_account": self.scope.account_id})

    def stage(self, obj: Request | RequestEvent | RequestPause) -> None:
        """Add ``obj`` to the unit of work without flushing: the next query or the commit
        writes it, together with everything else staged (fewer round trips)."""
        obj.account_id = self.scope.account_id
        self.session.add(obj)

    def person(self, person_id: str) -> Person | None:
        """A person of the account; no query when this unit of work already loaded them
        (a request's requester is usually the caller, loaded when authenticating)."""
        found = self.session.get(Person, person_id)
        return found if found is not None and found.account_id == self.scope.account_id else None

    def sla_terms(self, sla_id: str) -> tuple[Sla, BusinessCalendar]:
        """An SLA and its calendar in one query: a request freezes both."""
        query = prebuilt(_sla_terms, self.scope.account_id)
        row = self.session.execute(query, {"sla_id": sla_id}).first()
        if row is None:
            raise SlaNotFound(f"sla {sla_id} not found")
        return row[0], row[1]

    def requester_terms(
        self, person_id: str, fallback_sla_id: str
    ) -> tuple[RequesterSla | None, Sla, BusinessCalendar]:
        """The first requester override (by label) naming ``person_id``, and the SLA with
        its calendar that wins: the override's, else ``fallback_sla_id``'s. One query
        for what a create without a configuration item needs (hierarchy levels 2, 4, 5).

        Membership is matched on the JSON list's text (``"<id>"``), which is exact for
        ids JSON writes verbatim; any other id takes the long way (two queries), as does
        an answer the list itself does not confirm.
        """
        if _VERBATIM_IN_JSON.fullmatch(person_id):
            query = prebuilt(_requester_terms, self.scope.account_id)
            pattern = f'%"{escape_like(person_id)}"%'
            params = {"member": pattern, "fallback_sla_id": fallback_sla_id}
            row = self.session.execute(query, params).first()
            if row is not None and (row[2] is None or person_id in row[2].person_ids):
                return row[2], row[0], row[1]
        # Also when nothing matched: the long way names the SLA that is missing.
        groups = self.session.scalars(select(RequesterSla).order_by(RequesterSla.label))
        group = next((g for g in groups if person_id in g.person_ids), None)
        return (group, *self.sla_terms(group.sla_id if group else fallback_sla_id))

    def offering_terms(self, offering_id: str, requester_id: str) -> OfferingTerms:
        """What raising a request on an offering reads, in one query: the offering, its
        service, whether its trust (if any) is active, and ``requester_terms`` for the
        requester with the offering's default (its customer SLA, else its service's).
        ``requester_terms`` is None where that query would take the long way.

        The offering is read under a lock held until commit, so that a create and an
        expiry of the offering (``OfferingStore.locked``) queue up: on PostgreSQL a share
        lock on its row (creates do not wait for each other; an expiry waits for the
        creates that read the offering open, and a create that comes during an expiry
        waits for it and reads its end); on SQLite the database's write lock, taken
        before the read. The caller takes the moment it raises the request at only
        after this: then no request is ever raised at or after its offering's end."""
        postgresql = self.session.get_bind().dialect.name == "postgresql"
        if not postgresql:
            self.lock_for_writing()
        build = _offering_terms_shared if postgresql else _offering_terms
        query = prebuilt(build, self.scope.account_id)
        verbatim = _VERBATIM_IN_JSON.fullmatch(requester_id) is not None
        # An id the pattern cannot match exactly matches nothing here; see below.
        pattern = f'%"{escape_like(requester_id)}"%' if verbatim else ""
        row = self.session.execute(query, {"offering_id": offering_id, "member": pattern}).first()
        if row is None:
            raise OfferingNotFound(f"offering {offering_id} not found")
        offering, service, trust_status, sla, calendar, group = row
        confirmed = group is None or requester_id in group.person_ids
        terms = (group, sla, calendar) if verbatim and confirmed and sla is not None else None
        return OfferingTerms(offering, service, trust_status == "active", terms)

    def by_idempotency_key(self, requester_id: str, key: str) -> Request | None:
        """The request raised for ``requester_id`` with ``key``, as stored (the caller's:
        ``services.requests.idempotency.stored_key``), if any."""
        query = select(Request).where(
            Request.requester_id == requester_id, Request.idempotency_key == key
        )
        return self.session.scalars(query).first()

    def pauses(self, request_id: str) -> list[RequestPause]:
        query = select(RequestPause).where(RequestPause.request_id == request_id)
        return list(self.session.scalars(query.order_by(RequestPause.began_at)))

    def pauses_of(self, request_ids: Iterable[str]) -> dict[str, list[RequestPause]]:
        """Pauses of many requests in one query (lists and sweeps must not query per row)."""
        ids = list(request_ids)
        found: dict[str, list[RequestPause]] = {request_id: [] for request_id in ids}
        if not ids:
            return found
        query = select(RequestPause).where(RequestPause.request_id.in_(ids))
        for pause in self.session.scalars(query.order_by(RequestPause.began_at)):
            found[pause.request_id].append(pause)
        return found

    def open_pause(self, request_id: str) -> RequestPause | None:
        query = select(RequestPause).where(
            RequestPause.request_id == request_id, RequestPause.ended_at.is_(None)
        )
        return self.session.scalars(query).first()

    def timeline(self, request_id: str, *, include_internal: bool) -> list[RequestEvent]:
        query = select(RequestEvent).where(RequestEvent.request_id == request_id)
        if not include_internal:
            query = query.where(RequestEvent.public.is_(True))
        return list(self.session.scalars(query.order_by(RequestEvent.seq)))

    def open_requests(
        self, after_id: str | None, batch: int, *, stale_at: datetime | None = None
    ) -> list[Request]:
        """Open requests by id, from after ``after_id``, with only what reading their
        clocks takes loaded (the rest loads if touched); with ``stale_at``, only those
        the sweep must look at (see ``_may_be_stale``)."""
        query = (
            select(Request)
            .options(load_only(*_CLOCK_COLUMNS))
            .where(Request.status.notin_(("closed", "cancelled")))
        )
        if stale_at is not None:
            query = query.where(_may_be_stale(stale_at))
        if after_id:
            query = query.where(Request.id > after_id)
        return list(self.session.scalars(query.order_by(Request.id).limit(batch)))


def _meets_idempotency_index(error: IntegrityError) -> bool:
    """Whether ``error`` is PostgreSQL's unique index on (account, requester, key)
    refusing a row (psycopg names the constraint)."""
    diagnostics = getattr(error.orig, "diag", None)
    return getattr(diagnostics, "constraint_name", None) == "ix_requests_idempotency"


# What reading a request's clocks, comparing them with the stored ones and recording a
# change (the next timeline entry's number) take.
_CLOCK_COLUMNS = (
    Request.id, Request.created_at, Request.priority, Request.status, Request.sla_terms,
    Request.sla_calendar, Request.first_response_at, Request.resolved_at,
    Request.response_due_at, Request.response_at_risk_at, Request.response_state,
    Request.resolution_due_at, Request.resolution_at_risk_at, Request.resolution_state,
    Request.clock_version, Request.event_count,
)  # fmt: skip


def _may_be_stale(now: datetime) -> ColumnElement[bool]:
    """Whether a request's stored clocks may not be what a reading at ``now`` finds.

    A running clock's state follows from its stored moments alone (breached from its
    due moment on, at risk from its at-risk moment): whatever moves a clock (a pause, a
    reply, a new SLA) recomputes them in its own transaction. So only a running clock
    whose state disagrees with its moments, or that lacks them, can be stale, besides
    a paused clock, whose due moment moves with the pause. A stopped clock's state was
    settled when it stopped.
    """
    paused = (
        select(RequestPause.id)
        .where(RequestPause.request_id == Request.id, RequestPause.ended_at.is_(None))
        .exists()
    )
    stale: list[ColumnElement[bool]] = [paused]
    for stopped, state, due, at_risk in (
        (Request.first_response_at, Request.response_state, Request.response_due_at,
         Request.response_at_risk_at),
        (Request.resolved_at, Request.resolution_state, Request.resolution_due_at,
         Request.resolution_at_risk_at),
    ):  # fmt: skip
        expected = case((due <= now, "breached"), (at_risk <= now, "at_risk"), else_="on_track")
        stale.append(
            stopped.is_(None)
            & (due.is_(None) | at_risk.is_(None) | state.is_distinct_from(expected))
        )
    return or_(*stale)


# Statements every create runs, built once per account (see ``prebuilt``).


def _bump_counter() -> Update:
    return (
        update(_COUNTERS)
        .where(_COUNTERS.c.account_id == bindparam("counter_account"))
        .values(last=_COUNTERS.c.last + 1)
        .returning(_COUNTERS.c.last)
    )


def _sla_terms() -> Select[Sla, BusinessCalendar]:
    return (
        select(Sla, BusinessCalendar)
        .join(
            BusinessCalendar,
            (BusinessCalendar.id == Sla.calendar_id)
            & (BusinessCalendar.account_id == Sla.account_id),
        )
        .where(Sla.id == bindparam("sla_id"))
    )


# Characters json.dumps writes as they are (no escapes) and LIKE can be told to take
# literally.
_VERBATIM_IN_JSON = re.compile(r"[A-Za-z0-9_.:@+-]{1,64}")


def _first_group() -> Any:
    """The id of the first override group (by label) whose list matches ``member``."""
    return (
        select(RequesterSla.id)
        .where(cast(RequesterSla.person_ids, String).like(bindparam("member"), escape="\\"))
        .order_by(RequesterSla.label)
        .limit(1)
        .scalar_subquery()
    )


def _requester_terms() -> Select[Sla, BusinessCalendar, RequesterSla]:
    first_group = _first_group()
    return (
        select(Sla, BusinessCalendar, RequesterSla)
        .join(
            BusinessCalendar,
            (BusinessCalendar.id == Sla.calendar_id)
            & (BusinessCalendar.account_id == Sla.account_id),
        )
        .outerjoin(RequesterSla, RequesterSla.id == first_group)
        .where(
            Sla.id == func.coalesce(RequesterSla.sla_id, bindparam("fallback_sla_id", type_=String))
        )
    )


@dataclass(frozen=True)
class OfferingTerms:
    offering: Offering
    service: Service
    trust_active: bool
    requester_terms: tuple[RequesterSla | None, Sla, BusinessCalendar] | None


def _offering_terms() -> Select[Offering, Service, str, Sla, BusinessCalendar, RequesterSla]:
    default = func.coalesce(RequesterSla.sla_id, Offering.customer_sla_id, Service.default_sla_id)
    return (
        select(Offering, Service, Trust.status, Sla, BusinessCalendar, RequesterSla)
        .join(
            Service,
            (Service.id == Offering.service_id) & (Service.account_id == Offering.account_id),
        )
        .outerjoin(
            Trust, (Trust.id == Offering.trust_id) & (Trust.account_id == Offering.account_id)
        )
        .outerjoin(RequesterSla, RequesterSla.id == _first_group())
        .outerjoin(Sla, (Sla.id == default) & (Sla.account_id == Offering.account_id))
        .outerjoin(
            BusinessCalendar,
            (BusinessCalendar.id == Sla.calendar_id)
            & (BusinessCalendar.account_id == Sla.account_id),
        )
        .where(Offering.id == bindparam("offering_id"))
    )


def _offering_terms_shared() -> Select[Offering, Service, str, Sla, BusinessCalendar, RequesterSla]:
    """``_offering_terms`` with a share lock on the offering's row (PostgreSQL)."""
    return _offering_terms().with_for_update(read=True, of=Offering)


# Columns ``write_new`` inserts from bind parameters, with the attribute each comes from
# (the number comes from the counter).
_REQUEST_COLUMNS = [
    (c, Request.__mapper__.get_property_by_column(c).key)
    for c in _REQUESTS.columns
    if c.name != "number"
]
_EVENT_COLUMNS = [
    (c, RequestEvent.__mapper__.get_property_by_column(c).key) for c in _EVENTS.columns
]


def _record(obj: Request | RequestEvent, columns: list[tuple[Any, str]]) -> str:
    """``obj``'s column values as one JSON object, a ``write_new`` parameter. Every column
    must be set: an object joining the session as loaded must not have attributes to
    load later.

    One parameter per row, not one per column: psycopg parses a statement with more
    than 50 parameters again on every execution (its cache leaves those out), which
    cost a create more than the database's whole work on it."""
    given = obj.__dict__
    missing = [key for _, key in columns if key not in given]
    if missing:
        raise ValueError(f"{type(obj).__name__} to write lacks {', '.join(missing)}")
    return json.dumps({column.name: given[key] for column, key in columns}, default=_moment)


def _moment(value: Any) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.isoformat()  # the database reads it back to the microsecond
    raise TypeError(f"{value!r} is not a moment a request row holds")


def _fields_of(table: Table, parameter: str, alias: str) -> tuple[Any, list[str], list[Any]]:
    """The row a JSON object parameter describes, typed as ``table``'s rows (the database
    converts each field to its column's type), and its columns but ``number``. Plain
    column references: SQLAlchemy's labels would push the statement past the 4,096
    characters psycopg keeps parsed."""
    row = func.json_populate_record(
        literal_column(f"NULL::{table.name}"), cast(bindparam(parameter, type_=Text), JSON)
    ).table_valued(*(c.name for c in table.columns), name=alias)
    names = [c.name for c in table.columns if c.name != "number"]
    return row, names, [literal_column(f"{alias}.{name}") for name in names]


def _written() -> tuple[Any, Any]:
    """CTEs: bump the counter, insert the request with its number, and its first entry."""
    counter = (
        update(_COUNTERS)
        .where(_COUNTERS.c.account_id == bindparam("counter_account"))
        .values(last=_COUNTERS.c.last + 1)
        .returning(_COUNTERS.c.last)
        .cte("counter")
    )
    request, names, fields = _fields_of(_REQUESTS, "request", "r")
    written = (
        insert(_REQUESTS)
        .from_select(
            [*names, "number"],
            select(*fields, counter.c.last).select_from(request.join(counter, true())),
        )
        .returning(_REQUESTS.c.number, _REQUESTS.c.account_id)
        .cte("written")
    )
    entry, names, fields = _fields_of(_EVENTS, "entry", "e")
    first = (
        insert(_EVENTS)
        .from_select(names, select(*fields).select_from(entry.join(written, true())))
        .cte("first_entry")
    )
    return written, first


def _write_new() -> Select[tuple[int, int | None]]:
    """Number and write a request with its first entry, and append its audit event
    (the number filled into the event's ``after``); the event's seq is None when the
    account has no chain head."""
    written, first = _written()
    audited = append_statement({"number": written.c.number}, written).cte("audited")
    return select(written.c.number, select(audited.c.seq).scalar_subquery()).add_cte(first, audited)
