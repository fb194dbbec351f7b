"""Queries for the catalog's services inside one account scope."""

from __future__ import annotations

from sqlalchemy import select

from account_node.tenancy import ScopedStore
from services.catalog.errors import ServiceNotFound
from services.catalog.models import Service
from services.held import HeldRows


class ServiceStore(HeldRows, ScopedStore[Service]):
    model = Service
    not_found = ServiceNotFound

    def by_name(self, name: str) -> Service | None:
        return self.session.scalars(select(Service).where(Service.name == name)).first()
