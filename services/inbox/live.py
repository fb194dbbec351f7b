"""The inbox's live stream as an HTTP response: one for the API and the portal alike.

``/api/v1/inbox/events`` (token) and the portal's ``/inbox/events`` (session) differ only
in how the caller signed in; what a stream reaches, what it hears and when it ends must
not drift apart between them, so both build it here from their ``Work``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import Response, current_app, stream_with_context
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from account_node.context import Work
from account_node.http import commit_now, node
from services.inbox.events import Ended, hub_for, stream
from services.inbox.slots import slots_for
from services.requests.service import Requests
from services.visibility.remote import TrustedRequests
from trust.api import handshake_for
from trust.models import Trust

log = logging.getLogger(__name__)


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
    events = stream(hub, work.scope.account_id, offerings, seconds, sees_local, ended_trusts(work))
    slots = slots_for(current_app.extensions, settings.inbox_streams_per_process)
    # Committed before the slot is taken: a commit that fails after the view (the
    # unit of work's) answers 500 instead, and the stream it dropped kept its slot.
    commit_now()
    body = slots.hold(stream_with_context(events))  # last: it takes a slot (or 503)
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def ended_trusts(work: Work) -> Ended:
    """Which of the given trusts of ``work``'s account are no longer active: one query of
    ids, its transaction rolled back at once, so an open stream holds no database
    connection between two checks. A database that does not answer ends nothing: the
    stream goes on and asks again at its next keep-alive."""
    session = work.session

    def ended(trusts: frozenset[str]) -> set[str]:
        query = select(Trust.id).where(Trust.id.in_(trusts), Trust.status == "active")
        try:
            active = set(session.scalars(query))
        except SQLAlchemyError:
            log.warning("a live stream could not check its trusts; it asks again later")
            active = set(trusts)
        finally:
            with contextlib.suppress(SQLAlchemyError):
                session.rollback()
        return set(trusts) - active

    return ended
