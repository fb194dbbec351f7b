"""REST endpoints for calendars (and their preview), SLAs and requester overrides."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from account_node.http import NodeBlueprint, PageArgs, page_body, work
from services.sla import schemas
from services.sla.service import Calendars, RequesterSlas, Slas, preview

ADMIN = ("admin",)
READERS = ("admin", "specialist", "auditor")

calendars_api = NodeBlueprint(
    "calendars", __name__, url_prefix="/api/v1/calendars", description="Business-hours calendars"
)
slas_api = NodeBlueprint("slas", __name__, url_prefix="/api/v1/slas", description="SLA terms")


@calendars_api.route("")
class CalendarList(MethodView):
    @calendars_api.arguments(PageArgs, location="query")
    @calendars_api.response(200, schemas.CalendarPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        page = Calendars(work(*READERS)).page(args.get("cursor"), args["limit"])
        return page_body(page.items, page.next_cursor)

    @calendars_api.arguments(schemas.CalendarCreate)
    @calendars_api.response(201, schemas.CalendarOut)
    def post(self, body: dict[str, Any]) -> Any:
        return Calendars(work(*ADMIN)).create(body["name"], body["definition"])


@calendars_api.route("/preview")
class CalendarPreview(MethodView):
    @calendars_api.arguments(schemas.CalendarPreview)
    @calendars_api.response(200, schemas.PreviewOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """A due moment (with ``seconds``) or business seconds (with ``end``); saves nothing."""
        work()
        return preview(
            body["calendar"], body["start"], body["pauses"], body.get("seconds"), body.get("end")
        )


@calendars_api.route("/<calendar_id>")
class CalendarItem(MethodView):
    @calendars_api.response(200, schemas.CalendarOut)
    def get(self, calendar_id: str) -> Any:
        return Calendars(work(*READERS)).get(calendar_id)

    @calendars_api.arguments(schemas.CalendarUpdate)
    @calendars_api.response(200, schemas.CalendarOut)
    def patch(self, changes: dict[str, Any], calendar_id: str) -> Any:
        return Calendars(work(*ADMIN)).update(calendar_id, **changes)

    @calendars_api.response(204)
    def delete(self, calendar_id: str) -> None:
        Calendars(work(*ADMIN)).delete(calendar_id)


@slas_api.route("")
class SlaList(MethodView):
    @slas_api.arguments(PageArgs, location="query")
    @slas_api.response(200, schemas.SlaPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        page = Slas(work(*READERS)).page(args.get("cursor"), args["limit"])
        return page_body(page.items, page.next_cursor)

    @slas_api.arguments(schemas.SlaCreate)
    @slas_api.response(201, schemas.SlaOut)
    def post(self, body: dict[str, Any]) -> Any:
        return Slas(work(*ADMIN)).create(**body)


@slas_api.route("/requester-overrides")
class RequesterSlaList(MethodView):
    @slas_api.arguments(PageArgs, location="query")
    @slas_api.response(200, schemas.RequesterSlaPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        page = RequesterSlas(work(*READERS)).page(args.get("cursor"), args["limit"])
        return page_body(page.items, page.next_cursor)

    @slas_api.arguments(schemas.RequesterSlaCreate)
    @slas_api.response(201, schemas.RequesterSlaOut)
    def post(self, body: dict[str, Any]) -> Any:
        """A user-level override: these requesters get this SLA (hierarchy level 2)."""
        return RequesterSlas(work(*ADMIN)).create(**body)


@slas_api.route("/requester-overrides/<group_id>")
class RequesterSlaItem(MethodView):
    @slas_api.response(200, schemas.RequesterSlaOut)
    def get(self, group_id: str) -> Any:
        return RequesterSlas(work(*READERS)).get(group_id)

    @slas_api.arguments(schemas.RequesterSlaUpdate)
    @slas_api.response(200, schemas.RequesterSlaOut)
    def patch(self, changes: dict[str, Any], group_id: str) -> Any:
        return RequesterSlas(work(*ADMIN)).update(group_id, **changes)

    @slas_api.response(204)
    def delete(self, group_id: str) -> None:
        RequesterSlas(work(*ADMIN)).delete(group_id)


@slas_api.route("/<sla_id>")
class SlaItem(MethodView):
    @slas_api.response(200, schemas.SlaOut)
    def get(self, sla_id: str) -> Any:
        return Slas(work(*READERS)).get(sla_id)

    @slas_api.arguments(schemas.SlaUpdate)
    @slas_api.response(200, schemas.SlaOut)
    def patch(self, changes: dict[str, Any], sla_id: str) -> Any:
        return Slas(work(*ADMIN)).update(sla_id, **changes)
