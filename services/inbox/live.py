"""The inbox's live stream as an HTTP response: one for the API and the portal alike.

``/api/v1/inbox/events`` (token) and the portal's ``/inbox/events`` (session) differ only
in how the caller signed in; what a stream reaches, what it hears and when it ends must
not drift apart between them, so both build it here from their ``Work``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, stream_with_context

from account_node.context import Work
from account_node.http import node
from services.inbox.events import hub_for, stream
from services.inbox.slots import slots_for
from services.requests.service import Requests
from services.visibility.remote import TrustedRequests
from trust.api import handshake_for


def event_stream_response(work: Work) -> Response:
    """Server-sent events of changes in ``work``'s person's inbox: notices about the
    offerings routed to their teams, over the trusts active now, and changes to the
    account's own requests they may see. It ends after ``inbox_stream_seconds`` (the
    browser reconnects, so access is checked again), or once it has told of a trust's
    deactivation. Takes one of the process's stream slots, or raises ``StreamsFull``."""
    reaches = TrustedRequests(work, handshake_for(work)).reaches()
    offerings = {o: r.trust.id for r in reaches for o in r.offering_ids}
    settings = node().settings
    requests = Requests(work)
    visibility = requests.visibility()

    def sees_local(event: dict[str, Any]) -> bool:
        team, assignee = event.get("team"), event.get("assignee")
        if event.get("internal"):  # an internal note: not even that one was written
            return requests.reads_internal(team, assignee)
        return visibility.covers(event.get("requester"), team, assignee)

    hub = hub_for(current_app.extensions, settings.redis_url)
    seconds = float(settings.inbox_stream_seconds)
    events = stream(hub, work.scope.account_id, offerings, seconds, sees_local)
    slots = slots_for(current_app.extensions, settings.inbox_streams_per_process)
    body = slots.hold(stream_with_context(events))  # last: it takes a slot (or 503)
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response
