"""REST endpoints for the service catalog. End users see active services only."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from account_node.http import NodeBlueprint, PageArgs, page_body, work
from services.catalog import schemas
from services.catalog.errors import ServiceNotFound
from services.catalog.service import Catalog

services_api = NodeBlueprint(
    "services", __name__, url_prefix="/api/v1/services", description="Service catalog"
)
STAFF_READERS = frozenset({"admin", "specialist", "auditor"})


@services_api.route("")
class ServiceList(MethodView):
    @services_api.arguments(PageArgs, location="query")
    @services_api.response(200, schemas.ServicePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        current = work()
        catalog = Catalog(current)
        active_only = not current.roles & STAFF_READERS
        page = catalog.page(args.get("cursor"), args["limit"], active_only=active_only)
        return page_body(page.items, page.next_cursor)

    @services_api.arguments(schemas.ServiceCreate)
    @services_api.response(201, schemas.ServiceOut)
    def post(self, body: dict[str, Any]) -> Any:
        return Catalog(work("admin")).create(**body)


@services_api.route("/<service_id>")
class ServiceItem(MethodView):
    @services_api.response(200, schemas.ServiceOut)
    def get(self, service_id: str) -> Any:
        current = work()
        service = Catalog(current).get(service_id)
        if not service.active and not current.roles & STAFF_READERS:
            raise ServiceNotFound(f"service {service_id} not found")
        return service

    @services_api.arguments(schemas.ServiceUpdate)
    @services_api.response(200, schemas.ServiceOut)
    def patch(self, changes: dict[str, Any], service_id: str) -> Any:
        return Catalog(work("admin")).update(service_id, **changes)
