"""The inbox's live stream tells a specialist of changes to the account's own requests too,
but only of those they may see, and never what changed."""

from __future__ import annotations

import json
import threading
import time
from typing import Any


def _listen(desk, who: str) -> tuple[threading.Thread, list[dict]]:
    """Open the person's stream (it ends on its own: inbox_stream_seconds is 2 in tests)."""
    member = getattr(desk.account, who)
    received: list[dict] = []

    def read() -> None:
        response = desk.client.get("/api/v1/inbox/events", headers=member.headers, buffered=False)
        for chunk in response.response:
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            received.extend(
                json.loads(line.removeprefix("data: "))
                for line in text.splitlines()
                if line.startswith("data: ")
            )

    listener = threading.Thread(target=read)
    listener.start()
    time.sleep(0.5)  # subscribed
    return listener, received


def test_a_note_on_a_request_routed_to_the_specialists_team_reaches_their_stream(desk):
    routed = desk.raise_request(subject="Laptop screen flickers")  # the offering's team
    listener, received = _listen(desk, "specialist")
    note = {"body": "Which model is it?", "public": True}
    assert (
        desk.post(f"/api/v1/requests/{routed['id']}/notes", note, "specialist").status_code == 201
    )
    listener.join()
    mine = [e for e in received if e["request"] == routed["id"]]
    assert [(e["type"], e["action"], e["path"]) for e in mine] == [
        ("request.changed", "note", f"/api/v1/requests/{routed['id']}")
    ]
    assert "Which model" not in json.dumps(received)  # references only


def test_a_change_the_specialist_may_not_see_stays_off_their_stream(desk):
    unrouted = desk.raise_request(subject="Private matter", service_id=desk.service)
    routed = desk.raise_request(subject="Shared printer")
    listener, received = _listen(desk, "specialist")
    note = {"body": "Only for me", "public": True}
    desk.created(f"/api/v1/requests/{unrouted['id']}/notes", note, "end_user")
    desk.created(f"/api/v1/requests/{routed['id']}/notes", note, "end_user")
    listener.join()
    seen = {e.get("request") for e in received}
    assert routed["id"] in seen and unrouted["id"] not in seen


def test_an_internal_note_reaches_only_the_streams_of_those_who_read_internal_notes(desk):
    """A specialist who raised a request outside their teams is its requester there: as
    the request's page does not show them its internal notes, their stream does not
    tell them one was written. A public note it does tell."""
    own = desk.raise_request("specialist", service_id=desk.service)  # routed to no team
    listener, received = _listen(desk, "specialist")
    path = f"/api/v1/requests/{own['id']}/notes"
    desk.created(path, {"body": "Checked the licence pool", "public": False}, "admin")
    desk.created(path, {"body": "We are on it", "public": True}, "admin")
    listener.join()
    told = [(e["action"], e["internal"]) for e in received if e.get("request") == own["id"]]
    assert told == [("note", False)]

    listener, received = _listen(desk, "admin")
    desk.created(path, {"body": "Still checking", "public": False}, "admin")
    listener.join()
    told = [(e["action"], e["internal"]) for e in received if e.get("request") == own["id"]]
    assert told == [("note", True)]


def test_streams_past_the_process_limit_are_refused_and_other_calls_still_answered(
    desk, monkeypatch
):
    """Each stream holds a server thread for its life: unbounded, a desk's open inbox
    pages took every thread and the node answered nothing else. One stream past the
    limit gets a 503 problem with Retry-After; the node answers everything else."""
    from services.inbox.slots import StreamSlots

    monkeypatch.setitem(desk.client.application.extensions, "trustdesk.stream_slots",
                        StreamSlots(1))  # fmt: skip
    headers = desk.account.specialist.headers
    first = desk.client.get("/api/v1/inbox/events", headers=headers, buffered=False)
    assert first.status_code == 200

    refused = desk.client.get("/api/v1/inbox/events", headers=headers, buffered=False)

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "30"
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["code"] == "live_streams_full"
    assert desk.get("/api/v1/inbox", who="specialist").status_code == 200
    first.close()  # as the server does when the client goes away
    again = desk.client.get("/api/v1/inbox/events", headers=headers, buffered=False)
    assert again.status_code == 200
    again.close()


def test_a_stream_whose_opening_commit_failed_takes_no_slot_for_good(desk, monkeypatch):
    """A database connection dropped as streams opened (a failover): the 500 that answered
    instead dropped the stream without closing it, and its slot was never given back;
    after as many failures as the process has slots, every stream was refused until it
    restarted. (The collector is off: the slot must not wait for it.)"""
    import gc

    from flask import has_request_context, request
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import scoped_session

    from services.inbox.slots import StreamSlots

    app = desk.client.application
    monkeypatch.setitem(app.extensions, "trustdesk.stream_slots", StreamSlots(2))
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # answer 500, as served
    real_commit = scoped_session.commit
    failing = True

    def commit(self: Any, *args: Any, **kwargs: Any) -> Any:
        """The stream's own commit fails; the server is back for the next one."""
        opening = has_request_context() and request.path == "/api/v1/inbox/events"
        if failing and opening and not request.environ.get("test.dropped"):
            request.environ["test.dropped"] = True
            dropped = Exception("server closed the connection unexpectedly")
            raise OperationalError("COMMIT", {}, dropped)
        return real_commit(self, *args, **kwargs)

    monkeypatch.setattr(scoped_session, "commit", commit)
    headers = desk.account.specialist.headers
    gc.disable()
    try:
        for _ in range(2):
            failed = desk.client.get("/api/v1/inbox/events", headers=headers, buffered=False)
            assert failed.status_code == 500
            failed.close()
        failing = False

        opened = [
            desk.client.get("/api/v1/inbox/events", headers=headers, buffered=False)
            for _ in range(2)
        ]
        assert [response.status_code for response in opened] == [200, 200]
        for response in reversed(opened):  # one thread's request contexts: last in, first out
            response.close()
    finally:
        gc.enable()


def test_two_edits_of_a_request_reach_a_stream_as_two_events(desk):
    """An edit of the subject adds no timeline entry: both edits had one id, and a client
    that drops an event whose id it has seen (as EventSource users do) lost the second."""
    raised = desk.raise_request(subject="Printer")
    listener, received = _listen(desk, "admin")
    for subject in ("Printer on floor 2", "Printer on floor 3"):
        assert (
            desk.patch(f"/api/v1/requests/{raised['id']}", {"subject": subject}).status_code == 200
        )
    listener.join()
    edits = [e["id"] for e in received if e["request"] == raised["id"] and e["action"] == "updated"]
    assert len(edits) == 2 and len(set(edits)) == 2
