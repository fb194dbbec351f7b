"""REST endpoints for offerings. End users see the open ones, to raise requests on."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from account_node.http import NodeBlueprint, PageArgs, page_body, work
from services.offerings import schemas
from services.offerings.errors import OfferingNotFound
from services.offerings.service import Offerings

offerings_api = NodeBlueprint(
    "offerings", __name__, url_prefix="/api/v1/offerings", description="Service offerings"
)
STAFF_READERS = frozenset({"admin", "specialist", "auditor"})


def render(offerings: Offerings, offering: Any) -> dict[str, Any]:
    body = {
        name: getattr(offering, name) for name in schemas.OfferingOut().fields if name != "open"
    }
    body["open"] = offering.is_open(offerings.work.clock.now())
    return body


@offerings_api.route("")
class OfferingList(MethodView):
    @offerings_api.arguments(PageArgs, location="query")
    @offerings_api.response(200, schemas.OfferingPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        current = work()
        offerings = Offerings(current)
        open_only = not current.roles & STAFF_READERS
        page = offerings.page(args.get("cursor"), args["limit"], open_only=open_only)
        return page_body([render(offerings, o) for o in page.items], page.next_cursor)

    @offerings_api.arguments(schemas.OfferingCreate)
    @offerings_api.response(201, schemas.OfferingOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        offerings = Offerings(work("admin"))
        return render(offerings, offerings.create(**body))


@offerings_api.route("/<offering_id>")
class OfferingItem(MethodView):
    @offerings_api.response(200, schemas.OfferingOut)
    def get(self, offering_id: str) -> dict[str, Any]:
        current = work()
        offerings = Offerings(current)
        offering = offerings.get(offering_id)
        if not current.roles & STAFF_READERS and not offering.is_open(current.clock.now()):
            raise OfferingNotFound(f"offering {offering_id} not found")
        return render(offerings, offering)

    @offerings_api.arguments(schemas.OfferingUpdate)
    @offerings_api.response(200, schemas.OfferingOut)
    def patch(self, changes: dict[str, Any], offering_id: str) -> dict[str, Any]:
        offerings = Offerings(work("admin"))
        return render(offerings, offerings.update(offering_id, **changes))


@offerings_api.route("/<offering_id>/expire")
class OfferingExpire(MethodView):
    @offerings_api.response(200, schemas.OfferingOut)
    def post(self, offering_id: str) -> dict[str, Any]:
        """End the offering now: new requests stop at once, existing ones stay readable."""
        offerings = Offerings(work("admin"))
        return render(offerings, offerings.expire(offering_id))
