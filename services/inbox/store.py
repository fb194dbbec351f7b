"""This account's own open requests for the inbox, the SLA due first."""

from __future__ import annotations

from sqlalchemy import select

from account_node.tenancy import ScopedStore
from services.requests.models import Request
from services.requests.store import RequestFilter, Visibility


class InboxStore(ScopedStore[Request]):
    model = Request

    def most_urgent(
        self, visibility: Visibility, filters: RequestFilter, limit: int
    ) -> list[Request]:
        """The ``limit`` requests due soonest (the index on (account, resolution due))."""
        query = filters.apply(visibility.apply(select(Request)))
        ordered = query.order_by(Request.resolution_due_at, Request.id).limit(limit)
        return list(self.session.scalars(ordered))
