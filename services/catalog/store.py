"""Queries for the catalog's services inside one account scope."""

from __future__ import annotations

from sqlalchemy import select

from account_node.tenancy import ScopedStore
from services.catalog.errors import ServiceNotFound
from services.catalog.models import Service


class ServiceStore(ScopedStore[Service]):
    model = Service
    not_found = ServiceNotFound

    def by_name(self, name: str) -> Service | None:
        return self.session.scalars(select(Service).where(Service.name == name)).first()

    def held(self, trust_id: str, remote_id: str) -> Service | None:
        """The service held for ``trust_id`` standing for the provider's ``remote_id``."""
        query = select(Service).where(
            Service.provided_by == trust_id, Service.remote_id == remote_id
        )
        return self.session.scalars(query).first()

    def free_name(self, name: str) -> str:
        """``name``, or ``name (2)``, ``(3)``...: a held service never takes a name in use."""
        candidate, n = name[:110], 1
        while self.by_name(candidate) is not None:
            n += 1
            candidate = f"{name[:104]} ({n})"
        return candidate
