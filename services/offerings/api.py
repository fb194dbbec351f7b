"""REST endpoints for offerings, and the federation endpoint that receives them.

End users see the open local and received offerings, to raise requests on; staff see
all, including what this account offers to its customers over trusts.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask.views import MethodView

from account_node.http import NodeBlueprint, json_response, page_body, work
from services.offerings import schemas
from services.offerings.federation import OfferingExchange
from services.offerings.service import Offerings
from trust.api import handshake_for, json_body, refused, trust_call
from trust.errors import FederationRefused

offerings_api = NodeBlueprint(
    "offerings", __name__, url_prefix="/api/v1/offerings", description="Service offerings"
)
offerings_federation = Blueprint("offerings_federation", __name__, url_prefix="/federation/v1")
STAFF_READERS = frozenset({"admin", "specialist", "auditor"})


def render(offerings: Offerings, offering: Any) -> dict[str, Any]:
    body = {
        name: getattr(offering, name) for name in schemas.OfferingOut().fields if name != "open"
    }
    body["open"] = offering.is_open(offerings.work.clock.now())
    return body


@offerings_api.route("")
class OfferingList(MethodView):
    @offerings_api.arguments(schemas.OfferingArgs, location="query")
    @offerings_api.response(200, schemas.OfferingPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Offerings of this account: ``kind`` local, offered (by me) or received (by me)."""
        current = work()
        offerings = Offerings(current)
        open_only = not current.roles & STAFF_READERS
        page = offerings.page(
            args.get("cursor"),
            args["limit"],
            open_only=open_only,
            kind=args.get("kind"),
            trust_id=args.get("trust_id"),
        )
        return page_body([render(offerings, o) for o in page.items], page.next_cursor)

    @offerings_api.arguments(schemas.OfferingCreate)
    @offerings_api.response(201, schemas.OfferingOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Offer a service: to this account's people, or over a trust (``trust_id``) to a
        customer, signed by this account and delivered to the customer's node at once."""
        current = work("admin")
        offerings = Offerings(current)
        trust_id = body.pop("trust_id", None)
        if trust_id:
            offering = OfferingExchange(current, handshake_for(current)).offer(trust_id, **body)
        else:
            offering = offerings.create(**body)
        return render(offerings, offering)


@offerings_api.route("/<offering_id>")
class OfferingItem(MethodView):
    @offerings_api.response(200, schemas.OfferingOut)
    def get(self, offering_id: str) -> dict[str, Any]:
        current = work()
        offerings = Offerings(current)
        if current.roles & STAFF_READERS:
            return render(offerings, offerings.get(offering_id))
        return render(offerings, offerings.get_open(offering_id))

    @offerings_api.arguments(schemas.OfferingUpdate)
    @offerings_api.response(200, schemas.OfferingOut)
    def patch(self, changes: dict[str, Any], offering_id: str) -> dict[str, Any]:
        """Change an offering; one offered over a trust reaches the customer first."""
        current = work("admin")
        exchange = OfferingExchange(current, handshake_for(current))
        return render(exchange.offerings, exchange.revise(offering_id, **changes))


@offerings_api.route("/<offering_id>/expire")
class OfferingExpire(MethodView):
    @offerings_api.response(200, schemas.OfferingOut)
    def post(self, offering_id: str) -> dict[str, Any]:
        """End the offering now: new requests stop at once, existing ones stay readable."""
        current = work("admin")
        exchange = OfferingExchange(current, handshake_for(current))
        return render(exchange.offerings, exchange.expire(offering_id))


@offerings_federation.post("/<account_id>/trusts/<trust_id>/offerings")
def receive_offering(account_id: str, trust_id: str) -> Any:
    """A signed offering (or a new revision of one) from the trusted side of a trust."""
    try:
        current, call = trust_call(account_id, trust_id, role="trusting")
        offering = OfferingExchange(current, handshake_for(current)).receive(call, json_body())
    except FederationRefused as error:
        return refused(account_id, error)
    return json_response({"offering": offering.remote_id, "revision": offering.revision}, 202)
