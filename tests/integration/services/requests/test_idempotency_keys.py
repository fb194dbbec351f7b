"""An Idempotency-Key makes raising a request safe to retry, and only to retry
(draft-ietf-httpapi-idempotency-key-header, sections 2.6 and 2.7): the same key with the
same request answers the first request as the first answer did; with a different
request it is refused and writes nothing, also when two creates with one key race."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from services.requests.service import Requests
from services.requests.store import RequestStore
from tests.integration.services.requests.conftest import Desk, build_desk, while_uncommitted
from tests.statements import statements

KEY = {"Idempotency-Key": "k-1"}


def _body(desk: Desk, **changes: Any) -> dict[str, Any]:
    return {"subject": "Printer on fire", "offering_id": desk.offering, **changes}


def _written(desk: Desk) -> tuple[int, int]:
    """Requests in the account, and audit events of their creation."""
    requests = desk.get("/api/v1/requests", limit=200).get_json()["items"]
    creates = desk.get("/api/v1/audit", who="auditor", action="request.create", limit=200)
    return len(requests), len(creates.get_json()["items"])


def test_a_retry_answers_the_first_request_with_the_first_answers_status(desk):
    first = desk.post("/api/v1/requests", _body(desk), "end_user", **KEY)
    again = desk.post("/api/v1/requests", _body(desk), "end_user", **KEY)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert _written(desk) == (1, 1)


@pytest.mark.parametrize(
    "same",
    [
        {"subject": "  Printer on fire "},  # the create strips the subject
        {"service_id": "<the offering's>"},  # the create takes it from the offering
        {"description": "", "priority": "p3"},  # the defaults, said out loud
    ],
    ids=["subject-spaces", "offerings-service-named", "defaults-named"],
)
def test_a_retry_that_says_the_same_in_other_words_is_a_retry(desk, same):
    if same.get("service_id"):
        same = {"service_id": desk.service}
    first = desk.post("/api/v1/requests", _body(desk), "end_user", **KEY)
    again = desk.post("/api/v1/requests", _body(desk, **same), "end_user", **KEY)
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]


@pytest.mark.parametrize(
    "change",
    ["subject", "description", "priority", "ci_id", "service_id", "offering_id"],
)
def test_a_key_reused_for_a_different_request_is_refused_and_writes_nothing(desk, change):
    other_service = desk.created(
        "/api/v1/services", {"name": "Other", "default_sla_id": desk.standard}
    )
    first = _body(desk, description="Smoke", priority="p3", ci_id=desk.child_ci)
    different = {
        "subject": {"subject": "Scanner on fire"},
        "description": {"description": "Flames"},
        "priority": {"priority": "p1"},
        "ci_id": {"ci_id": desk.parent_ci},
        "service_id": {"service_id": other_service["id"]},
        "offering_id": {"offering_id": None, "service_id": desk.service},
    }[change]
    body = {k: v for k, v in {**first, **different}.items() if v is not None}
    assert desk.post("/api/v1/requests", first, "admin", **KEY).status_code == 201
    refused = desk.post("/api/v1/requests", body, "admin", **KEY)
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    problem = refused.get_json()
    assert problem["code"] == "idempotency_key_reused"
    assert problem["type"].endswith("/idempotency_key_reused")
    assert problem["errors"] == {
        "Idempotency-Key": ["was already used for a different request"],
        change: ["differs from the request first sent with this Idempotency-Key"],
    }
    assert _written(desk) == (1, 1)


def test_a_key_is_the_requesters_own_another_person_may_use_it_too(desk):
    first = desk.post("/api/v1/requests", _body(desk), "end_user", **KEY)
    theirs = desk.post("/api/v1/requests", _body(desk, subject="Mine"), "specialist", **KEY)
    assert theirs.status_code == 201
    assert theirs.get_json()["id"] != first.get_json()["id"]


def test_a_key_is_the_callers_own_a_create_on_someones_behalf_never_answers_theirs(desk):
    """An admin raising for an end user with the key the end user raised with got the end
    user's request as if it were their own retry: each caller has keys of their own."""
    end_user = desk.account.end_user.id
    theirs = desk.post("/api/v1/requests", _body(desk), "end_user", **KEY).get_json()
    on_behalf = desk.post("/api/v1/requests", _body(desk, requester_id=end_user), "admin", **KEY)
    assert on_behalf.status_code == 201, on_behalf.get_data(as_text=True)
    assert on_behalf.get_json()["id"] != theirs["id"]
    assert on_behalf.get_json()["requester_id"] == end_user
    # Each one's retry is still a retry of their own create.
    again = desk.post("/api/v1/requests", _body(desk, requester_id=end_user), "admin", **KEY)
    assert again.get_json()["id"] == on_behalf.get_json()["id"]
    assert desk.post("/api/v1/requests", _body(desk), "end_user", **KEY).get_json() == theirs
    assert _written(desk) == (2, 2)


@pytest.mark.parametrize("guess", ["the same request", "another request"])
def test_a_key_tells_nothing_of_a_request_the_caller_may_not_see(desk, guess):
    """A specialist may not see a request routed to a team they are not in (404), but
    raising on its requester's behalf with its key answered it, or named the fields
    their body got wrong. Their create is now their own, whatever they send."""
    hr_team = desk.created("/api/v1/teams", {"name": "HR", "member_ids": [desk.account.admin.id]})
    hr = desk.created(
        "/api/v1/offerings", {"service_id": desk.service, "name": "HR", "team_id": hr_team["id"]}
    )["id"]
    secret = {"subject": "Salary dispute with my manager", "offering_id": hr}
    private = desk.post("/api/v1/requests", secret, "end_user", **KEY).get_json()
    assert desk.get(f"/api/v1/requests/{private['id']}", "specialist").status_code == 404

    body = {**secret, "requester_id": desk.account.end_user.id}
    if guess == "another request":
        body["subject"] = "Printer"
    probe = desk.post("/api/v1/requests", body, "specialist", **KEY)

    assert probe.status_code == 201, probe.get_data(as_text=True)
    assert probe.get_json()["id"] != private["id"]
    assert probe.get_json()["subject"] == body["subject"]


def test_a_retry_after_the_request_was_worked_on_is_still_a_retry(desk, clock):
    """Once someone changed the request, its subject, description, priority and item
    no longer tell what was first asked for: a retry of the first body is answered."""
    first = desk.post("/api/v1/requests", _body(desk), "end_user", **KEY).get_json()
    clock.advance(timedelta(minutes=1))
    desk.patch(f"/api/v1/requests/{first['id']}", {"priority": "p1", "subject": "Fire!"})
    again = desk.post("/api/v1/requests", _body(desk), "end_user", **KEY)
    assert again.status_code == 201
    assert again.get_json()["id"] == first["id"] and again.get_json()["priority"] == "p1"


@pytest.mark.parametrize("change", ["subject", "description", "priority", "ci_id"])
def test_a_key_reused_for_another_request_is_refused_even_after_the_request_was_edited(
    desk, clock, change
):
    """The request no longer tells what was first asked for, but its create kept digests
    of it: a body that asks for something else is named, field by field."""
    first_body = _body(desk, description="Smoke", ci_id=desk.child_ci)
    first = desk.post("/api/v1/requests", first_body, "admin", **KEY).get_json()
    clock.advance(timedelta(minutes=1))
    desk.patch(f"/api/v1/requests/{first['id']}", {"priority": "p1", "subject": "Fire!"})
    different = {"subject": "Scanner on fire", "description": "Flames", "priority": "p4",
                 "ci_id": desk.parent_ci}[change]  # fmt: skip

    refused = desk.post("/api/v1/requests", {**first_body, change: different}, "admin", **KEY)

    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert set(refused.get_json()["errors"]) == {"Idempotency-Key", change}
    assert _written(desk) == (1, 1)


def test_a_key_reused_for_another_service_is_refused_even_after_the_request_was_worked_on(
    desk, clock
):
    first = desk.post("/api/v1/requests", _body(desk), "end_user", **KEY).get_json()
    clock.advance(timedelta(minutes=1))
    desk.patch(f"/api/v1/requests/{first['id']}", {"priority": "p1"})
    refused = desk.post(
        "/api/v1/requests", {"subject": "Printer on fire", "service_id": desk.service},
        "end_user", **KEY,
    )  # fmt: skip
    assert refused.status_code == 422
    assert set(refused.get_json()["errors"]) == {"Idempotency-Key", "offering_id"}


def test_a_create_with_a_key_on_postgresql_adds_its_lookup_and_a_savepoint(postgres_app):
    """The three statements of any create, the key's lookup, and the savepoint around the
    write, to which a create that lost a race with its key rolls back. (The savepoint
    keeps its transaction's account scope: nothing sets it again.)"""
    desk = build_desk(postgres_app, postgres_app.test_client())
    desk.raise_request()  # the account's first: creates the counter and audit head rows
    with statements(postgres_app) as sent:
        response = desk.post("/api/v1/requests", _body(desk), "end_user", **KEY)
    assert response.status_code == 201
    assert [s.split()[0] for s in sent[3:]] == ["SAVEPOINT", "WITH", "RELEASE"]
    assert "idempotency_key" in sent[1] and len(sent) == 6, "\n\n".join(sent)


# --- races ------------------------------------------------------------------------------


def _compete_after_lookup(monkeypatch, app, desk: Desk, body: dict[str, Any]) -> list[Any]:
    """Once the next create has looked its key up and found nothing, another create with
    the key runs to its commit, through its own connection, before the first goes on.

    Both as the end user, whose token is first used here for an earlier request: touching
    a token (its last use) is a write, and the competitor would wait for the first's."""
    desk.raise_request()
    looked_up = RequestStore.by_idempotency_key
    answers: list[Any] = []
    competing: list[bool] = []

    def lookup_then_compete(store: RequestStore, requester_id: str, key: str) -> Any:
        found = looked_up(store, requester_id, key)
        if found is None and not competing:
            competing.append(True)  # its own lookup goes straight on
            competitor = threading.Thread(
                target=lambda: answers.append(
                    app.test_client().post(
                        "/api/v1/requests",
                        json=body,
                        headers={**desk.account.end_user.headers, **KEY},
                    )
                )
            )
            competitor.start()
            competitor.join(timeout=30)
            assert answers and answers[0].status_code == 201, "the competing create failed"
        return found

    monkeypatch.setattr(RequestStore, "by_idempotency_key", lookup_then_compete)
    return answers


def test_a_create_that_loses_a_race_with_its_key_answers_the_winners_request(
    app, desk, monkeypatch
):
    competitor = _compete_after_lookup(monkeypatch, app, desk, _body(desk))
    loser = desk.post("/api/v1/requests", _body(desk), "end_user", **KEY)
    assert loser.status_code == 201, loser.get_data(as_text=True)
    assert loser.get_json()["id"] == competitor[0].get_json()["id"]
    assert _written(desk) == (2, 2)
    monkeypatch.undo()
    after = desk.raise_request()  # the loser took no number
    assert after["number"] == competitor[0].get_json()["number"] + 1
    assert desk.get("/api/v1/audit/verify", who="auditor").get_json()["ok"] is True


def test_a_create_that_loses_a_race_with_its_key_for_another_request_is_refused(
    app, desk, monkeypatch
):
    _compete_after_lookup(monkeypatch, app, desk, _body(desk, subject="The winner"))
    loser = desk.post("/api/v1/requests", _body(desk), "end_user", **KEY)
    assert loser.status_code == 422, loser.get_data(as_text=True)
    assert set(loser.get_json()["errors"]) == {"Idempotency-Key", "subject"}
    assert _written(desk) == (2, 2)


def test_a_create_waits_for_an_uncommitted_create_with_its_key_then_answers_its_request(app):
    """Two creates really at once: the first has written and holds its locks; the second
    finds no request with the key yet, waits at the write, and once the first commits
    answers its request instead of failing at the key's unique index."""
    desk = build_desk(app, app.test_client())
    desk.raise_request(who="admin")  # the counter and audit head exist from here on
    body = _body(desk)

    def create_with_key(requests: Requests) -> tuple[str, bool]:
        created, is_new = requests.create(**body, idempotency_key="k-1")
        return created.id, is_new

    (first_id, is_new), answer = while_uncommitted(
        app, desk, create_with_key, lambda: desk.post("/api/v1/requests", body, "admin", **KEY)
    )
    assert is_new
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.get_json()["id"] == first_id
    assert _written(desk) == (2, 2)
