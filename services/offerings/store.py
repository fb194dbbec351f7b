"""Queries for offerings inside one account scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select, update

from account_node.tenancy import ScopedStore, prebuilt
from services.offerings.errors import OfferingNotFound
from services.offerings.models import Offering
from services.requests.models import Request
from trust.models import Trust


class OfferingStore(ScopedStore[Offering]):
    model = Offering
    not_found = OfferingNotFound

    def locked(self, offering_id: str) -> Offering:
        """The offering read afresh under its row's lock, held until commit: on
        PostgreSQL FOR NO KEY UPDATE (which waits for the share locks of creates that
        read it, ``RequestStore.offering_terms``, and makes later ones wait), on SQLite
        the database's write lock, taken by a write that changes nothing (its FOR UPDATE
        does nothing, and reads take no lock) before the read."""
        if self.session.get_bind().dialect.name != "postgresql":
            self.session.execute(
                update(Offering)
                .where(Offering.id == offering_id)
                .values(revision=Offering.revision)
                .execution_options(synchronize_session=False)
            )
        query = (
            select(Offering)
            .where(Offering.id == offering_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        found = self.session.scalars(query).first()
        if found is None:
            raise OfferingNotFound(f"offering {offering_id} not found")
        return found

    def raised_after_end(
        self, offering_id: str, end: datetime, until: datetime | None
    ) -> list[Request]:
        """Requests raised on the offering at or after ``end``, and before ``until`` (an
        end it had until now, after which they were found then), oldest first, read
        afresh under their rows' locks held until commit: their timelines grow
        (``services.offerings.federation``). On SQLite the caller holds the write lock
        already, having locked the offering."""
        query = select(Request).where(Request.offering_id == offering_id, Request.created_at >= end)
        if until is not None:
            query = query.where(Request.created_at < until)
        query = query.order_by(Request.created_at, Request.id).with_for_update()
        return list(self.session.scalars(query.execution_options(populate_existing=True)))

    def received(self, trust_id: str, remote_id: str) -> Offering | None:
        """This account's copy of the offering ``remote_id`` received over ``trust_id``."""
        query = select(Offering).where(
            Offering.trust_id == trust_id, Offering.remote_id == remote_id
        )
        return self.session.scalars(query).first()

    def of_trust(self, trust_id: str) -> list[Offering]:
        query = prebuilt(_offerings_of_trust, self.scope.account_id)
        return list(self.session.scalars(query, {"trust_id": trust_id}))

    def offered(self) -> list[Offering]:
        """Everything this account offers over trusts (one query for every trust)."""
        query = select(Offering).where(Offering.trust_id.is_not(None), Offering.remote_id.is_(None))
        return list(self.session.scalars(query.order_by(Offering.created_at, Offering.id)))

    def open_to_raisers(self, offering_id: str, now: datetime) -> Offering | None:
        """``offering_id`` if this account's people may raise requests on it now: as
        ``Offerings.page(open_only=True)`` lists them."""
        query = select(Offering).where(Offering.id == offering_id, *self.open_criteria(now))
        return self.session.scalars(query).first()

    def open_criteria(self, now: datetime) -> list[Any]:
        """What the account's people may raise requests on now: a local offering, or one
        received over a trust still active, within its dates (not one this account
        offers to others: its customers raise those on their nodes)."""
        return [
            Offering.starts_at <= now,
            (Offering.ends_at.is_(None)) | (Offering.ends_at > now),
            (Offering.trust_id.is_(None))
            | (Offering.remote_id.is_not(None) & self.under_active_trust()),
        ]

    def under_active_trust(self) -> Any:
        """A criterion: the offering's trust is active in this account's records."""
        return Offering.trust_id.in_(
            select(Trust.id).where(
                Trust.status == "active", Trust.account_id == self.scope.account_id
            )
        )


def _offerings_of_trust() -> Select[Offering]:
    """Every call a peer makes under a trust runs this (see ``prebuilt``)."""
    return (
        select(Offering)
        .where(Offering.trust_id == bindparam("trust_id"))
        .order_by(Offering.created_at, Offering.id)
    )
