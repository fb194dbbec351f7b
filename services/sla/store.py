"""Queries for calendars, SLAs and requester overrides inside one account scope."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from account_node.tenancy import ScopedStore, prebuilt
from services.held import HeldRows
from services.sla.errors import CalendarNotFound, RequesterSlaNotFound, SlaNotFound
from services.sla.models import BusinessCalendar, RequesterSla, Sla


class CalendarStore(HeldRows, ScopedStore[BusinessCalendar]):
    model = BusinessCalendar
    not_found = CalendarNotFound

    def by_name(self, name: str) -> BusinessCalendar | None:
        query = select(BusinessCalendar).where(BusinessCalendar.name == name)
        return self.session.scalars(query).first()

    def slas_using(self, calendar_id: str) -> int:
        query = select(func.count()).select_from(Sla).where(Sla.calendar_id == calendar_id)
        return int(self.session.scalar(query) or 0)

    def slas_of(self, calendar_id: str) -> list[Sla]:
        return list(self.session.scalars(select(Sla).where(Sla.calendar_id == calendar_id)))


class SlaStore(HeldRows, ScopedStore[Sla]):
    model = Sla
    not_found = SlaNotFound

    def by_name(self, name: str) -> Sla | None:
        return self.session.scalars(select(Sla).where(Sla.name == name)).first()


class RequesterSlaStore(ScopedStore[RequesterSla]):
    model = RequesterSla
    not_found = RequesterSlaNotFound

    def by_label(self, label: str) -> RequesterSla | None:
        query = select(RequesterSla).where(RequesterSla.label == label)
        return self.session.scalars(query).first()

    def all_by_label(self) -> list[RequesterSla]:
        """Every override group; each create asks (built once per account)."""
        query = prebuilt(_all_by_label, self.scope.account_id)
        return list(self.session.scalars(query))


def _all_by_label() -> Select[RequesterSla]:
    return select(RequesterSla).order_by(RequesterSla.label)
