"""REST endpoints for configuration items.

End users see the CIs they own (to pick one when raising a request); staff and auditors
see all of the account's.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from account_node.http import NodeBlueprint, page_body, work
from services.cmdb import schemas
from services.cmdb.errors import CiNotFound
from services.cmdb.service import Cmdb

cis_api = NodeBlueprint("cis", __name__, url_prefix="/api/v1/cis", description="CMDB")
STAFF_READERS = frozenset({"admin", "specialist", "auditor"})


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
        current = work()
        cmdb = Cmdb(current)
        cursor, limit = args.pop("cursor", None), args.pop("limit")
        if not current.roles & STAFF_READERS:
            args["owner_id"] = current.actor.person_id
        page = cmdb.page(cursor, limit, **args)
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
        current = work()
        cmdb = Cmdb(current)
        ci = cmdb.get(ci_id)
        if not current.roles & STAFF_READERS and ci.owner_id != current.actor.person_id:
            raise CiNotFound(f"ci {ci_id} not found")
        return render(cmdb, ci)

    @cis_api.arguments(schemas.CiUpdate)
    @cis_api.response(200, schemas.CiOut)
    def patch(self, changes: dict[str, Any], ci_id: str) -> dict[str, Any]:
        cmdb = Cmdb(work("admin"))
        return render(cmdb, cmdb.update(ci_id, **changes))
