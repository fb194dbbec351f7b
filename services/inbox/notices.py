"""Event notices between the two sides of a trust (references only, never content).

The trusting side queues one in its outbox whenever a request on a received offering
changes (in the same transaction as the change). The trusted side checks the call under
the trust, checks that the offering is one it offers over that trust, keeps the notice's
id so a redelivery is acknowledged and dropped, and publishes it after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy.exc import IntegrityError

from account_node.context import Work
from account_node.db import after_commit
from account_node.errors import ValidationFailed
from account_node.http import Instant
from services.inbox.events import Hub, local_event
from services.offerings.models import Offering
from services.requests.models import Request
from services.requests.signals import request_changed
from services.visibility.schemas import token_id
from trust.calls import TrustCall
from trust.errors import FederationForbidden
from trust.handshake import TrustStore
from trust.models import ReceivedNotice, Trust
from trust.outbox import Outbox
from trust.signals import trust_deactivated

# What a peer sends reaches the MSP's people's streams and links: an id is a token (this
# node's are hex; ``token_id``) and an action a word, so no line break can start an event
# of the peer's making in a stream, and no ``/`` or ``..`` can steer a link elsewhere.
_action = validate.Regexp(r"[a-z_]{1,20}\Z", error="must be 1 to 20 lowercase letters or _")


class NoticeIn(Schema):
    notice_id = fields.String(required=True, validate=token_id)
    type = fields.String(required=True, validate=validate.OneOf(["request.changed"]))
    request = fields.String(required=True, validate=token_id)
    offering = fields.String(required=True, validate=token_id)
    action = fields.String(required=True, validate=_action)
    at = Instant(required=True)


def send_notice(request: Request, action: str, work: Work) -> None:
    """Queue a notice to the provider when a request on a received offering changes."""
    if not request.offering_id:
        return
    offering = work.session.get(Offering, request.offering_id)  # loaded already: no query
    if offering is None or offering.kind != "received":
        return
    trust = TrustStore(work.session, work.scope).find(offering.trust_id)
    if trust is None or trust.status != "active":
        return
    body = {
        "type": "request.changed",
        "request": request.id,
        "offering": offering.remote_id,
        "action": action,
        "at": work.clock.now().isoformat(),
    }
    Outbox(work).add(trust, "events", body, actor_id=work.actor.person_id)


def connect(hub: Callable[[], Hub]) -> None:
    """Wire the slice to the signals it serves (once, at import of the HTTP edge): on a
    request change, a notice to the provider and an event to this account's streams;
    closing streams of a deactivated trust."""

    def on_change(request: Request, action: str, work: Work, internal: bool = False) -> None:
        send_notice(request, action, work)
        event = local_event(request, action, work.clock.now(), internal=internal)
        account = work.scope.account_id
        after_commit(work.session, lambda: hub().publish(account, event))

    def on_deactivated(trust: Trust, work: Work) -> None:
        if trust.role == "trusted":
            event = {"id": f"{trust.id}:end", "type": "trust.deactivated", "trust": trust.id}
            account, target = work.scope.account_id, hub()
            after_commit(work.session, lambda: target.publish(account, event))

    request_changed.connect(on_change, weak=False)
    trust_deactivated.connect(on_deactivated, weak=False)


def receive_notice(work: Work, call: TrustCall, body: dict[str, Any], hub: Hub) -> bool:
    """Accept a notice; False when it was a redelivery (acknowledged all the same)."""
    try:
        notice = NoticeIn().load(body, unknown="exclude")
    except ValidationError as exc:
        raise ValidationFailed(errors=exc.messages_dict) from exc
    offering = work.session.get(Offering, notice["offering"])
    if (
        offering is None
        or offering.account_id != work.scope.account_id
        or offering.trust_id != call.trust.id
        or offering.kind != "offered"
    ):
        raise FederationForbidden(
            "the notice names an offering outside this trust", reason="offering_outside_trust"
        )
    try:
        with work.session.begin_nested():
            work.session.add(
                ReceivedNotice(
                    account_id=work.scope.account_id,
                    peer_account=call.peer_account,
                    notice_id=notice["notice_id"],
                    received_at=work.clock.now(),
                )
            )
    except IntegrityError:
        return False
    event = {
        "id": notice["notice_id"],
        "type": notice["type"],
        "account": call.peer_account,
        "trust": call.trust.id,
        "offering": offering.id,
        "request": notice["request"],
        "action": notice["action"],
        "at": notice["at"].isoformat(),
        "path": f"/api/v1/trusts/{call.trust.id}/requests/{notice['request']}",
    }
    account = work.scope.account_id
    after_commit(work.session, lambda: hub.publish(account, event))
    return True
