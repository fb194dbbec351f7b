"""Working a request: assignment, notes, the status machine and who sees what."""

from __future__ import annotations


def _path(body, tail=""):
    return f"/api/v1/requests/{body['id']}{tail}"


def test_assigning_a_team_member_moves_a_new_request_to_assigned(desk):
    body = desk.raise_request()
    response = desk.patch(_path(body), {"assignee_id": desk.account.specialist.id}, "specialist")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "assigned"
    kinds = [e["kind"] for e in desk.get(_path(body, "/timeline")).get_json()]
    assert kinds == ["created", "assignment", "status"]


def test_only_staff_of_the_requests_team_can_be_assignees(desk):
    body = desk.raise_request()
    response = desk.patch(_path(body), {"assignee_id": desk.account.end_user.id})
    assert response.status_code == 422
    assert "assignee_id" in response.get_json()["errors"]
    response = desk.patch(_path(body), {"assignee_id": desk.account.admin.id})
    assert response.get_json()["errors"] == {
        "assignee_id": ["is not a member of the request's team"]
    }


def test_an_illegal_transition_is_a_409_listing_the_allowed_ones(desk):
    body = desk.raise_request()
    response = desk.patch(_path(body), {"status": "closed"}, "specialist")
    assert response.status_code == 409
    problem = response.get_json()
    assert problem["code"] == "illegal_transition"
    assert problem["allowed"] == ["cancelled", "in_progress", "resolved", "waiting_for_customer"]


def test_assigned_is_no_status_to_choose_while_no_one_holds_the_request(desk):
    """Assigning a person moves a request to ``assigned``; choosing the status alone
    would say someone holds it when no one does."""
    body = desk.raise_request()
    assert "assigned" not in desk.get(_path(body)).get_json()["allowed_transitions"]
    refused = desk.patch(_path(body), {"status": "assigned"}, "specialist")
    assert refused.status_code == 409
    assert "assign a person" in refused.get_json()["detail"]
    both = desk.patch(_path(body), {"assignee_id": None, "status": "assigned"}, "specialist")
    assert both.status_code == 409
    assert desk.get(_path(body)).get_json()["status"] == "new"

    desk.patch(_path(body), {"assignee_id": desk.account.specialist.id, "status": "in_progress"})
    held = desk.get(_path(body)).get_json()
    assert held["status"] == "in_progress" and "assigned" in held["allowed_transitions"]
    assert desk.patch(_path(body), {"status": "assigned"}).get_json()["status"] == "assigned"


def test_a_requester_may_cancel_but_not_work_their_request(desk):
    body = desk.raise_request()
    assert desk.patch(_path(body), {"status": "in_progress"}, "end_user").status_code == 409
    cancelled = desk.patch(_path(body), {"status": "cancelled"}, "end_user")
    assert cancelled.get_json()["status"] == "cancelled"
    assert desk.post(_path(body, "/notes"), {"body": "hello?"}, "end_user").status_code == 409


def test_a_first_public_specialist_note_stops_the_response_clock(desk, clock):
    body = desk.raise_request()
    internal = desk.post(_path(body, "/notes"), {"body": "looking", "public": False}, "specialist")
    assert internal.status_code == 201
    assert desk.get(_path(body)).get_json()["first_response_at"] is None
    desk.post(_path(body, "/notes"), {"body": "On my way"}, "specialist")
    after = desk.get(_path(body)).get_json()
    assert after["first_response_at"] is not None
    assert after["sla"]["response"]["state"] == "met"


def test_end_users_see_public_notes_only_and_cannot_write_internal_ones(desk):
    body = desk.raise_request()
    desk.post(_path(body, "/notes"), {"body": "internal musing", "public": False}, "specialist")
    desk.post(_path(body, "/notes"), {"body": "We're on it"}, "specialist")
    notes = desk.get(_path(body, "/notes"), who="end_user").get_json()
    assert [n["body"] for n in notes] == ["We're on it"]
    refused = desk.post(_path(body, "/notes"), {"body": "psst", "public": False}, "end_user")
    assert refused.status_code == 422


def test_waiting_for_the_customer_pauses_the_clocks_and_a_reply_resumes(desk, clock):
    from datetime import datetime, timedelta

    body = desk.raise_request()
    due = datetime.fromisoformat(body["sla"]["resolution"]["due"])
    desk.patch(_path(body), {"status": "waiting_for_customer"}, "specialist")
    clock.advance(timedelta(hours=3))
    paused = desk.get(_path(body)).get_json()
    assert paused["sla"]["resolution"]["paused"] is True
    reply = desk.post(_path(body, "/notes"), {"body": "Here is the info"}, "end_user")
    assert reply.status_code == 201
    resumed = desk.get(_path(body)).get_json()
    assert resumed["status"] == "in_progress"
    assert datetime.fromisoformat(resumed["sla"]["resolution"]["due"]) == due + timedelta(hours=3)
    [pause] = resumed["sla"]["pauses"]
    assert pause["status"] == "waiting_for_customer" and pause["ended_at"] is not None


def test_resolving_stops_the_clock_and_a_reopen_continues_it(desk, clock):
    from datetime import datetime, timedelta

    body = desk.raise_request()
    clock.advance(timedelta(hours=1))
    resolved = desk.patch(_path(body), {"status": "resolved"}, "specialist").get_json()
    assert resolved["sla"]["resolution"]["state"] == "met"
    assert resolved["sla"]["resolution"]["used_seconds"] == 3600
    clock.advance(timedelta(hours=5))
    reopened = desk.patch(_path(body), {"status": "in_progress"}, "end_user").get_json()
    assert reopened["status"] == "in_progress"
    assert reopened["sla"]["resolution"]["used_seconds"] == 3600
    due = datetime.fromisoformat(reopened["sla"]["resolution"]["due"])
    assert due == datetime.fromisoformat(body["sla"]["resolution"]["due"]) + timedelta(hours=5)


def test_cancelling_stops_both_clocks_where_they_stood(app, desk, clock):
    from datetime import timedelta

    body = desk.raise_request()  # response 2 h, resolution 8 h on a 24x7 calendar
    clock.advance(timedelta(hours=1))
    cancelled = desk.patch(_path(body), {"status": "cancelled"}, "end_user").get_json()
    clock.advance(timedelta(hours=10))  # past both due moments
    app.extensions["trustdesk"].jobs.drain()
    sla = desk.get(_path(body)).get_json()["sla"]
    for clock_name in ("response", "resolution"):
        assert sla[clock_name]["stopped_at"] == cancelled["closed_at"]
        assert sla[clock_name]["used_seconds"] == 3600
        assert sla[clock_name]["state"] == "met"
    [listed] = [
        r
        for r in desk.get("/api/v1/requests", status="cancelled").get_json()["items"]
        if r["id"] == body["id"]
    ]
    assert (listed["sla"]["response"]["state"], listed["sla"]["resolution"]["state"]) == (
        "met",
        "met",
    )
    breached = desk.get("/api/v1/requests", breached="true").get_json()["items"]
    assert body["id"] not in {r["id"] for r in breached}


def test_a_clock_breached_before_cancelling_stays_breached(app, desk, clock):
    from datetime import timedelta

    body = desk.raise_request()  # response 2 h, resolution 8 h on a 24x7 calendar
    clock.advance(timedelta(hours=3))
    app.extensions["trustdesk"].jobs.drain()
    desk.patch(_path(body), {"status": "cancelled"}, "end_user")
    clock.advance(timedelta(hours=10))
    sla = desk.get(_path(body)).get_json()["sla"]
    assert (sla["response"]["state"], sla["response"]["used_seconds"]) == ("breached", 3 * 3600)
    assert (sla["resolution"]["state"], sla["resolution"]["used_seconds"]) == ("met", 3 * 3600)


def test_each_role_sees_its_own_share_of_the_requests(desk):
    mine = desk.raise_request()
    desk.raise_request(who="admin", service_id=desk.service)  # not routed to the team
    ids = {
        role: {r["id"] for r in desk.get("/api/v1/requests", who=role).get_json()["items"]}
        for role in ("admin", "auditor", "specialist", "end_user")
    }
    assert len(ids["admin"]) == len(ids["auditor"]) == 2
    assert ids["specialist"] == {mine["id"]}
    assert ids["end_user"] == {mine["id"]}


def test_a_request_outside_ones_view_is_a_404(desk):
    other = desk.raise_request(who="admin", service_id=desk.service)
    assert desk.get(_path(other), who="end_user").status_code == 404
    assert desk.get(_path(other), who="specialist").status_code == 404


def test_filters_and_cursor_pages(desk, clock):
    from datetime import timedelta

    created = []
    for i in range(5):
        created.append(desk.raise_request(subject=f"Laptop {i}"))
        clock.advance(timedelta(seconds=1))
    desk.patch(_path(created[0]), {"status": "resolved"}, "specialist")
    first = desk.get("/api/v1/requests", limit=2, q="laptop").get_json()
    second = desk.get(
        "/api/v1/requests", limit=2, q="laptop", cursor=first["next_cursor"]
    ).get_json()
    third = desk.get(
        "/api/v1/requests", limit=2, q="laptop", cursor=second["next_cursor"]
    ).get_json()
    seen = [r["id"] for r in first["items"] + second["items"] + third["items"]]
    assert seen == [r["id"] for r in reversed(created)]
    assert third["next_cursor"] is None
    resolved = desk.get("/api/v1/requests", status="resolved").get_json()["items"]
    assert [r["id"] for r in resolved] == [created[0]["id"]]
    mine = desk.get("/api/v1/requests", assignee_id="me", who="specialist").get_json()["items"]
    assert mine == []


def test_a_priority_change_uses_the_frozen_terms(desk):
    from datetime import datetime, timedelta

    body = desk.raise_request(priority="p3")
    urgent = desk.patch(_path(body), {"priority": "p1"}, "specialist").get_json()
    created = datetime.fromisoformat(body["created_at"])
    assert datetime.fromisoformat(urgent["sla"]["resolution"]["due"]) - created == timedelta(
        hours=2
    )


def test_end_users_in_a_request_sharing_team_see_each_others_requests(desk):
    colleague = desk.created(
        "/api/v1/users",
        {"email": f"colleague@{desk.account.id}.test", "name": "Cole", "roles": ["end_user"],
         "password": "long-enough-pass"},
    )  # fmt: skip
    team = desk.created(
        "/api/v1/teams",
        {"name": "Finance", "member_ids": [desk.account.end_user.id, colleague["id"]]},
    )
    theirs = desk.raise_request(who="admin", service_id=desk.service, requester_id=colleague["id"])
    assert desk.get(_path(theirs), who="end_user").status_code == 404
    desk.patch(f"/api/v1/teams/{team['id']}", {"shares_requests": True})
    assert desk.get(_path(theirs), who="end_user").status_code == 200
    listed = desk.get("/api/v1/requests", who="end_user").get_json()["items"]
    assert theirs["id"] in {r["id"] for r in listed}
    # Seeing a colleague's request is not working on it.
    assert desk.patch(_path(theirs), {"status": "cancelled"}, "end_user").status_code == 403
    assert desk.post(_path(theirs, "/notes"), {"body": "me too"}, "end_user").status_code == 403


def _own_request_outside_their_teams(desk):
    body = desk.raise_request("specialist", service_id=desk.service)  # routed to no team
    assert (body["team_id"], body["allowed_transitions"]) == (None, ["cancelled"])
    return body


def test_a_specialist_does_not_work_their_own_request_outside_their_teams(desk):
    body = _own_request_outside_their_teams(desk)
    for path, change in (
        (_path(body, "/sla-override"), {"sla_id": desk.urgent, "reason": "mine, so urgent"}),
        (_path(body, "/reevaluate"), {"reason": "because I can"}),
    ):
        assert desk.post(path, change, "specialist").status_code == 403, path
    for change in (
        {"assignee_id": desk.account.specialist.id},
        {"team_id": desk.team},
        {"priority": "p1"},
        {"ci_id": desk.child_ci},
    ):
        assert desk.patch(_path(body), change, "specialist").status_code == 403, change
    resolved = desk.patch(_path(body), {"status": "resolved"}, "specialist")
    assert resolved.status_code == 409
    assert resolved.get_json()["allowed"] == ["cancelled"]
    after = desk.get(_path(body)).get_json()
    assert {k: after[k] for k in ("status", "priority", "team_id", "assignee_id", "sla")} == {
        k: body[k] for k in ("status", "priority", "team_id", "assignee_id", "sla")
    }


def test_on_their_own_request_a_specialist_may_do_what_any_requester_may(desk):
    body = _own_request_outside_their_teams(desk)
    edited = desk.patch(_path(body), {"subject": "Printer still on fire"}, "specialist")
    assert edited.get_json()["subject"] == "Printer still on fire"
    internal = desk.post(_path(body, "/notes"), {"body": "psst", "public": False}, "specialist")
    assert internal.status_code == 422
    assert desk.post(_path(body, "/notes"), {"body": "Any news?"}, "specialist").status_code == 201
    assert desk.get(_path(body)).get_json()["first_response_at"] is None  # no one responded
    cancelled = desk.patch(_path(body), {"status": "cancelled"}, "specialist")
    assert cancelled.get_json()["status"] == "cancelled"


def test_a_specialist_does_not_read_the_internal_notes_on_their_own_request(desk):
    body = _own_request_outside_their_teams(desk)
    desk.post(_path(body, "/notes"), {"body": "about the requester", "public": False})
    desk.post(_path(body, "/notes"), {"body": "On it"})
    notes = desk.get(_path(body, "/notes"), who="specialist").get_json()
    assert [n["body"] for n in notes] == ["On it"]


def test_a_specialist_works_their_own_request_once_it_is_their_teams(desk):
    body = _own_request_outside_their_teams(desk)
    routed = desk.patch(_path(body), {"team_id": desk.team})  # the admin routes it
    assert routed.get_json()["team_id"] == desk.team
    assert "resolved" in desk.get(_path(body), who="specialist").get_json()["allowed_transitions"]
    change = {"sla_id": desk.urgent, "reason": "CEO's printer"}
    assert desk.post(_path(body, "/sla-override"), change, "specialist").status_code == 200
    resolved = desk.patch(_path(body), {"status": "resolved"}, "specialist")
    assert resolved.get_json()["status"] == "resolved"


def test_a_specialist_assigned_to_a_request_works_it_outside_their_teams(desk):
    body = desk.raise_request("admin", service_id=desk.service)
    desk.patch(_path(body), {"assignee_id": desk.account.specialist.id})
    resolved = desk.patch(_path(body), {"status": "resolved"}, "specialist")
    assert resolved.get_json()["status"] == "resolved"


def test_the_sla_state_filter_takes_the_worse_of_the_two_clocks(app, desk, clock):
    """A response breached while the resolution is on track is a breached request: listed
    under ``breached`` (as ``breached=true`` lists it), not under ``on_track``."""
    from datetime import timedelta

    late = desk.raise_request(subject="Nobody answered")
    clock.advance(timedelta(hours=2, minutes=1))  # past the 2 h response, within the 8 h
    app.extensions["trustdesk"].jobs.drain()  # the SLA jobs store the states lists filter
    fresh = desk.raise_request(subject="Just in")

    def listed(**query) -> list[str]:
        return [r["id"] for r in desk.get("/api/v1/requests", **query).get_json()["items"]]

    read = desk.get(_path(late)).get_json()["sla"]
    assert (read["response"]["state"], read["resolution"]["state"]) == ("breached", "on_track")
    assert listed(sla_state="breached") == [late["id"]] == listed(breached="true")
    assert listed(sla_state="on_track") == [fresh["id"]]


def test_text_search_folds_case_beyond_ascii(desk):
    """On SQLite as on PostgreSQL: "ärger" finds "Ärger", "ÉCRAN" finds "écran"."""
    first = desk.raise_request(subject="Ärger mit dem Drucker")
    second = desk.raise_request(subject="Un écran noir")
    for query, expected in (("ärger", first), ("ÄRGER", first), ("ÉCRAN", second)):
        found = desk.get("/api/v1/requests", q=query).get_json()["items"]
        assert [r["id"] for r in found] == [expected["id"]], query


def test_a_blank_subject_is_refused_on_raising_and_on_editing(desk):
    before = len(desk.get("/api/v1/requests").get_json()["items"])
    raised = desk.post("/api/v1/requests", {"subject": "   ", "offering_id": desk.offering})
    assert raised.status_code == 422
    assert "subject" in raised.get_json()["errors"]
    assert len(desk.get("/api/v1/requests").get_json()["items"]) == before

    body = desk.raise_request()
    edited = desk.patch(_path(body), {"subject": " \t "}, "end_user")
    assert edited.status_code == 422
    assert desk.get(_path(body)).get_json()["subject"] == body["subject"]


def test_a_specialist_can_route_their_teams_request_to_another_team_and_hand_it_over(desk):
    """The change takes the request out of their sight; its outcome is still the answer,
    and it is kept (not a 404 that rolled it back). Every step of one PATCH is judged by
    what the caller could do when it began."""
    network = desk.created(
        "/api/v1/teams", {"name": "Network", "member_ids": [desk.account.admin.id]}
    )
    body = desk.raise_request()
    moved = desk.patch(
        _path(body), {"team_id": network["id"], "status": "in_progress"}, "specialist"
    )
    assert moved.status_code == 200, moved.get_data(as_text=True)
    assert (moved.get_json()["team_id"], moved.get_json()["status"]) == (
        network["id"],
        "in_progress",
    )
    assert desk.get(_path(body), who="specialist").status_code == 404  # out of their sight now
    assert desk.get(_path(body)).get_json()["team_id"] == network["id"]  # and kept

    handed = desk.raise_request("admin", service_id=desk.service)
    desk.patch(_path(handed), {"assignee_id": desk.account.specialist.id})
    away = desk.patch(_path(handed), {"assignee_id": desk.account.admin.id}, "specialist")
    assert away.status_code == 200, away.get_data(as_text=True)
    assert desk.get(_path(handed)).get_json()["assignee_id"] == desk.account.admin.id


def test_routing_to_another_team_lets_go_of_an_assignee_who_is_not_in_it(desk):
    """As sending both at once is refused, a team change alone cannot leave the request
    with an assignee its team does not hold; one who is in the new team stays."""
    network = desk.created(
        "/api/v1/teams", {"name": "Network", "member_ids": [desk.account.admin.id]}
    )
    body = desk.raise_request()
    desk.patch(_path(body), {"assignee_id": desk.account.specialist.id})
    moved = desk.patch(_path(body), {"team_id": network["id"]}).get_json()
    assert (moved["team_id"], moved["assignee_id"]) == (network["id"], None)

    desk.patch(_path(body), {"assignee_id": desk.account.admin.id})
    both = desk.created("/api/v1/teams", {"name": "Both", "member_ids": [desk.account.admin.id]})
    kept = desk.patch(_path(body), {"team_id": both["id"]}).get_json()
    assert (kept["team_id"], kept["assignee_id"]) == (both["id"], desk.account.admin.id)


def test_a_request_no_one_holds_any_more_goes_back_to_new(desk):
    """Un-assigning, or routing away from the assignee's team, leaves no one on it:
    ``assigned`` would say otherwise. Work already under way keeps its status."""
    body = desk.raise_request()
    desk.patch(_path(body), {"assignee_id": desk.account.specialist.id})
    released = desk.patch(_path(body), {"assignee_id": None}, "specialist").get_json()
    assert (released["status"], released["assignee_id"]) == ("new", None)
    timeline = desk.get(_path(body, "/timeline")).get_json()
    assert [(e["kind"], e["data"].get("to")) for e in timeline[-2:]] == [
        ("assignment", None),
        ("status", "new"),
    ]
    moves = desk.get("/api/v1/audit", who="auditor", action="request.status").get_json()["items"]
    assert [(e["before"]["status"], e["after"]["status"]) for e in moves[:2]] == [
        ("assigned", "new"),  # each automatic move is a status change in the audit log too
        ("new", "assigned"),
    ]

    desk.patch(_path(body), {"assignee_id": desk.account.specialist.id})
    network = desk.created(
        "/api/v1/teams", {"name": "Network", "member_ids": [desk.account.admin.id]}
    )
    routed = desk.patch(_path(body), {"team_id": network["id"]}).get_json()
    assert (routed["status"], routed["assignee_id"]) == ("new", None)

    desk.patch(_path(body), {"assignee_id": desk.account.admin.id})
    desk.patch(_path(body), {"status": "in_progress"})
    working = desk.patch(_path(body), {"assignee_id": None}).get_json()
    assert (working["status"], working["assignee_id"]) == ("in_progress", None)


def test_a_requesters_reply_that_resumes_a_waiting_request_is_an_audited_status_change(desk):
    body = desk.raise_request()
    desk.patch(_path(body), {"status": "waiting_for_customer"}, "specialist")
    assert desk.post(_path(body, "/notes"), {"body": "Here it is"}, "end_user").status_code == 201
    [latest] = desk.get(
        "/api/v1/audit", who="auditor", action="request.status", limit=1
    ).get_json()["items"]
    assert latest["target_id"] == body["id"]
    assert (latest["before"]["status"], latest["after"]["status"]) == (
        "waiting_for_customer",
        "in_progress",
    )
    assert latest["actor"]["id"] == desk.account.end_user.id
