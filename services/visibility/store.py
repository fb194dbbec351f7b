"""Queries for the requests a trust reaches: those raised on its received offerings."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, func, or_, select

from account_node.identity.models import Person
from account_node.pagination import Page, keyset, page_of
from account_node.tenancy import ScopedStore
from services.requests.lifecycle import FINAL
from services.requests.models import Request, RequestEvent, RequestPause


class SharedRequestStore(ScopedStore[Request]):
    model = Request

    def reach(self, offering_ids: Iterable[str], open_offering_ids: Iterable[str]) -> Select:  # type: ignore[type-arg]
        """Requests of the trust's offerings; of an ended offering, only those not closed."""
        return select(Request).where(
            Request.offering_id.in_(list(offering_ids)),
            or_(
                Request.offering_id.in_(list(open_offering_ids)),
                Request.status.notin_(FINAL),
            ),
        )

    def newest(self, query: Select, cursor: str | None, limit: int) -> Page[Request]:  # type: ignore[type-arg]
        """A page of ``query``, newest first, by cursor (the list's keyset index)."""
        rows = self.session.scalars(keyset(query, Request, cursor, limit, newest_first=True))
        return page_of(list(rows), limit)

    def most_urgent(self, query: Select, limit: int) -> list[Request]:  # type: ignore[type-arg]
        """Open requests, the SLA due first (the index on (account, resolution due))."""
        query = query.where(Request.status.notin_((*FINAL, "resolved")))
        return list(
            self.session.scalars(query.order_by(Request.resolution_due_at, Request.id).limit(limit))
        )

    def count(self, query: Select) -> int:  # type: ignore[type-arg]
        return int(self.session.scalar(select(func.count()).select_from(query.subquery())) or 0)

    def pauses_of(self, request_ids: list[str]) -> dict[str, list[RequestPause]]:
        found: dict[str, list[RequestPause]] = {request_id: [] for request_id in request_ids}
        if request_ids:
            query = select(RequestPause).where(RequestPause.request_id.in_(request_ids))
            for pause in self.session.scalars(query.order_by(RequestPause.began_at)):
                found[pause.request_id].append(pause)
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
