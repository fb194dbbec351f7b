"""REST endpoints for configuration items; who sees which is the CMDB service's rule."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from account_node.http import NodeBlueprint, page_body, work
from services.cmdb import schemas
from services.cmdb.service import Cmdb

cis_api = NodeBlueprint("cis", __name__, url_prefix="/api/v1/cis", description="CMDB")


def render(cmdb: Cmdb, ci: Any) -> dict[str, Any]:
    sla_id, origin = cmdb.effective_sla(ci)
    body = {name: getattr(ci, name) for name in schemas.CiOut().fields if hasattr(ci, name)}
    body["effective_sla_id"] = sla_id
    body["sla_inherited_from"] = origin.id if origin is not None and origin.id != ci.id else None
    return body


@cis_api.route("")
class CiList(MethodView):
    @cis_api.arguments(schemas.CiArgs, location="query")
    @cis_api.response(200, schemas.CiPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        cmdb = Cmdb(work())
        cursor, limit = args.pop("cursor", None), args.pop("limit")
        page = cmdb.visible_page(cursor, limit, **args)
        return page_body([render(cmdb, ci) for ci in page.items], page.next_cursor)

    @cis_api.arguments(schemas.CiCreate)
    @cis_api.response(201, schemas.CiOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        cmdb = Cmdb(work("admin"))
        return render(cmdb, cmdb.create(**body))


@cis_api.route("/<ci_id>")
class CiItem(MethodView):
    @cis_api.response(200, schemas.CiOut)
    def get(self, ci_id: str) -> dict[str, Any]:
        cmdb = Cmdb(work())
        return render(cmdb, cmdb.visible(ci_id))

    @cis_api.arguments(schemas.CiUpdate)
    @cis_api.response(200, schemas.CiOut)
    def patch(self, changes: dict[str, Any], ci_id: str) -> dict[str, Any]:
        cmdb = Cmdb(work("admin"))
        return render(cmdb, cmdb.update(ci_id, **changes))
