"""Two changes of one request at once queue up: the second waits for the first's commit
and then decides on what the first did, never on a copy read before it.

Each test holds a first change uncommitted in this thread (its row lock taken) while a
second arrives through the API on its own connection; on SQLite the lock is the
database's write lock, on PostgreSQL the request's row."""

from __future__ import annotations

from tests.integration.services.requests.conftest import build_desk, while_uncommitted


def test_two_notes_at_once_both_land_one_after_the_other(app):
    desk = build_desk(app, app.test_client())
    request = desk.raise_request()
    _, answer = while_uncommitted(
        app,
        desk,
        lambda requests: requests.add_note(request["id"], "On it."),
        lambda: desk.post(
            f"/api/v1/requests/{request['id']}/notes", {"body": "Any news?"}, "end_user"
        ),
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    timeline = desk.get(f"/api/v1/requests/{request['id']}/timeline").get_json()
    notes = [e for e in timeline if e["kind"] == "note"]
    assert [n["body"] for n in notes] == ["On it.", "Any news?"]
    assert desk.get("/api/v1/audit/verify", who="auditor").get_json()["ok"] is True


def test_an_edit_that_waited_for_a_cancel_is_refused_and_writes_nothing(app):
    desk = build_desk(app, app.test_client())
    request = desk.raise_request()
    _, answer = while_uncommitted(
        app,
        desk,
        lambda requests: requests.change_status(request["id"], "cancelled", "Raised twice"),
        lambda: desk.patch(f"/api/v1/requests/{request['id']}", {"subject": "Edited"}, "end_user"),
    )
    assert answer.status_code == 409, answer.get_data(as_text=True)
    assert answer.get_json()["code"] == "request_closed"
    now = desk.get(f"/api/v1/requests/{request['id']}").get_json()
    assert (now["status"], now["subject"]) == ("cancelled", "Printer on fire")
    updates = desk.get("/api/v1/audit", who="auditor", action="request.update").get_json()
    assert [e for e in updates["items"] if e.get("target_id") == request["id"]] == []


def test_a_transition_that_waited_is_checked_against_the_status_it_finds(app):
    desk = build_desk(app, app.test_client())
    request = desk.raise_request()
    _, answer = while_uncommitted(
        app,
        desk,
        lambda requests: requests.change_status(request["id"], "resolved", "Fixed"),
        lambda: desk.patch(
            f"/api/v1/requests/{request['id']}", {"status": "waiting_for_customer"}, "admin"
        ),
    )
    assert answer.status_code == 409, answer.get_data(as_text=True)
    assert answer.get_json()["code"] == "illegal_transition"
    assert desk.get(f"/api/v1/requests/{request['id']}").get_json()["status"] == "resolved"
