"""The service catalog: what an account offers, each with its default SLA."""

from __future__ import annotations

from typing import Any

from account_node.context import Work
from account_node.errors import ValidationFailed
from account_node.pagination import Page
from services.catalog.models import Service
from services.catalog.store import ServiceStore
from services.sla.errors import HeldForTrust
from services.sla.service import Slas


def snapshot(service: Service) -> dict[str, Any]:
    return {
        "name": service.name,
        "description": service.description,
        "default_sla_id": service.default_sla_id,
        "active": service.active,
    }


class Catalog:
    def __init__(self, work: Work) -> None:
        self.work = work
        self.store = ServiceStore(work.session, work.scope)

    def get(self, service_id: str) -> Service:
        return self.store.get(service_id)

    def find(self, service_id: str | None) -> Service | None:
        return self.store.find(service_id)

    def page(self, cursor: str | None, limit: int, *, active_only: bool = False) -> Page[Service]:
        criteria = [Service.active.is_(True)] if active_only else []
        return self.store.page(cursor, limit, *criteria)

    def create(self, name: str, default_sla_id: str, description: str = "") -> Service:
        service = Service(
            name=self._name(name),
            description=description,
            default_sla_id=self._sla(default_sla_id),
            active=True,
            created_at=self.work.clock.now(),
        )
        self.store.add(service)
        self.work.record("service.create", "service", service.id, after=snapshot(service))
        return service

    def update(self, service_id: str, **changes: Any) -> Service:
        service = self.store.get(service_id)
        if service.provided_by:
            raise HeldForTrust(
                f"this service is offered over trust {service.provided_by}; "
                "only the provider's next signed offering changes it"
            )
        before = snapshot(service)
        if "name" in changes and (changes["name"] or "").strip() != service.name:
            service.name = self._name(changes["name"])
        if "default_sla_id" in changes:
            service.default_sla_id = self._sla(changes["default_sla_id"])
        for name in ("description", "active"):
            if name in changes:
                setattr(service, name, changes[name])
        self.store.session.flush()
        self.work.record("service.update", "service", service.id, before, snapshot(service))
        return service

    def hold(
        self, trust_id: str, remote_id: str, name: str, description: str, default_sla_id: str
    ) -> Service:
        """A provider's service offered over a trust, held here so requests can be raised
        on it: created, or brought up to the provider's latest offering."""
        service = self.store.held(trust_id, remote_id)
        if service is None:
            service = Service(
                name=self.store.free_name(name.strip() or "Offered service"),
                description=description[:2000],
                default_sla_id=default_sla_id,
                active=True,
                created_at=self.work.clock.now(),
                provided_by=trust_id,
                remote_id=remote_id,
            )
            self.store.add(service)
            self.work.record("service.hold", "service", service.id, after=snapshot(service))
        elif (service.description, service.default_sla_id) != (description[:2000], default_sla_id):
            before = snapshot(service)
            service.description, service.default_sla_id = description[:2000], default_sla_id
            self.store.session.flush()
            self.work.record("service.hold", "service", service.id, before, snapshot(service))
        return service

    def _name(self, name: str) -> str:
        name = (name or "").strip()
        if not name:
            raise ValidationFailed(errors={"name": ["must not be empty"]})
        if self.store.by_name(name):
            raise ValidationFailed(errors={"name": ["a service with this name already exists"]})
        return name

    def _sla(self, sla_id: str) -> str:
        if Slas(self.work).find(sla_id) is None:
            raise ValidationFailed(errors={"default_sla_id": ["no such SLA in this account"]})
        return sla_id
