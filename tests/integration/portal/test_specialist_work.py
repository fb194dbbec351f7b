"""Specialists: the inbox, and working a request from its page."""

from __future__ import annotations

import re

from tests.integration.portal.conftest import errors_next_to


def _rows(html: str) -> list[str]:
    """Request subjects in the order the inbox shows them."""
    return re.findall(r'<a href="/requests/\w+">REQ-\d+ · ([^<]+)</a>', html)


def test_the_inbox_lists_open_requests_of_my_teams_most_urgent_first(as_role, desk):
    desk.raise_request(subject="Normal one", priority="p3")
    desk.raise_request(subject="Urgent one", priority="p1")
    desk.raise_request(subject="Low one", priority="p4")
    done = desk.raise_request(subject="Already done")
    desk.patch(f"/api/v1/requests/{done['id']}", {"status": "resolved"}, "specialist")
    html = as_role("specialist").text("/inbox")
    assert _rows(html) == ["Urgent one", "Normal one", "Low one"]
    assert "3 open requests, most urgent first" in html


def test_the_inbox_leaves_out_requests_not_routed_to_my_teams(as_role, desk):
    desk.raise_request(subject="Routed", offering_id=desk.offering)
    desk.raise_request(subject="Unrouted", service_id=desk.service)
    assert _rows(as_role("specialist").text("/inbox")) == ["Routed"]
    assert set(_rows(as_role("admin").text("/inbox"))) == {"Routed", "Unrouted"}


def test_the_inbox_filters_by_account_team_and_sla_state(app, as_role, desk):
    desk.raise_request(subject="Printing problem")
    specialist = as_role("specialist")
    assert _rows(specialist.text(f"/inbox?account={desk.account.id}")) == ["Printing problem"]
    assert _rows(specialist.text("/inbox?account=someone-else")) == []
    assert _rows(specialist.text(f"/inbox?team={desk.team}")) == ["Printing problem"]
    assert _rows(specialist.text("/inbox?team=nope")) == []
    assert _rows(specialist.text("/inbox?sla_state=breached")) == []
    assert _rows(specialist.text("/inbox?sla_state=on_track")) == ["Printing problem"]
    assert _rows(specialist.text("/inbox?sla_state=bogus")) == ["Printing problem"]


def test_the_inbox_names_the_account_of_each_request(as_role, desk):
    desk.raise_request(subject="Printing problem")
    html = as_role("specialist").text("/inbox")
    assert '<th scope="col">Account</th>' in html
    assert f'<option value="{desk.account.id}">' in html  # the account filter offers it


def test_gather_inbox_is_one_replaceable_function_returning_plain_items(app, desk):
    from account_node.context import Work
    from account_node.db import db
    from portal.views.inbox import InboxFilters, gather_inbox
    from services.requests.service import Requests

    desk.raise_request(subject="One")
    node = app.extensions["trustdesk"]
    with app.app_context():
        from account_node.audit.service import Actor
        from account_node.tenancy import AccountScope

        work = Work(
            db.session,
            AccountScope(desk.account.id),
            Actor(desk.account.specialist.id, desk.account.id, "Specialist"),
            node.clock,
            node.jobs,
            node.settings,
            roles=frozenset({"specialist"}),
        )
        found = gather_inbox(work, InboxFilters())
        assert [i.subject for i in found.items] == ["One"]
        assert [(s.account_id, s.status) for s in found.sources] == [(desk.account.id, "ok")]
        assert Requests(work).is_staff
        db.session.rollback()


def test_staff_see_the_full_timeline_and_the_sla_panel(as_role, desk):
    made = desk.raise_request()
    desk.post(
        f"/api/v1/requests/{made['id']}/notes",
        {"body": "Internal hint", "public": False},
        "specialist",
    )
    page = as_role("specialist").text(f"/requests/{made['id']}")
    assert "Internal hint" in page and "Internal</span>" in page
    assert "customer default on offering Printing for HQ: Customer" in page  # sla_reason
    assert "(offering)" in page  # sla_source
    assert "Response" in page and "Resolution" in page and "Pauses" in page
    assert "Assign to me" in page


def test_a_specialists_own_request_outside_their_teams_shows_no_staff_controls(as_role, desk):
    """They are its requester there, as the service holds: no working it from the page."""
    own = desk.raise_request("specialist", subject="My own laptop", service_id=desk.service)
    page = as_role("specialist").text(f"/requests/{own['id']}")
    assert "My own laptop" in page
    assert "Assign to me" not in page and "Internal: staff only" not in page


def test_assign_to_me_then_statuses_follow_the_allowed_transitions(as_role, desk):
    made = desk.raise_request()
    path = f"/requests/{made['id']}"
    specialist = as_role("specialist")
    assert specialist.post(f"{path}/assign", {"to": "me"}, page=path).status_code == 303
    after = desk.get(f"/api/v1{path}").get_json()
    assert after["assignee_id"] == desk.account.specialist.id and after["status"] == "assigned"
    page = specialist.text(path)
    options = re.findall(
        r'<option value="(\w+)">', page.split('id="status"')[1].split("</select>")[0]
    )
    assert (
        options == after["allowed_transitions"] or sorted(options) == after["allowed_transitions"]
    )
    response = specialist.post(
        f"{path}/status", {"status": "waiting_for_customer", "reason": "need details"}, page=path
    )
    assert response.status_code == 303
    page = specialist.text(path)
    assert "need details" in page and "Waiting for customer" in page
    assert "Waiting for customer: " in page  # the pause, listed in the SLA panel


def test_an_illegal_status_change_is_refused_with_the_allowed_ones(as_role, desk):
    made = desk.raise_request()
    path = f"/requests/{made['id']}"
    desk.patch(f"/api/v1{path}", {"status": "cancelled"}, "specialist")
    response = as_role("specialist").post(f"{path}/status", {"status": "in_progress"}, page=path)
    assert response.status_code == 409
    assert "it is final" in response.get_data(as_text=True)


def test_routing_keeps_an_assignee_the_new_team_holds_and_lets_go_of_one_it_does_not(as_role, desk):
    made = desk.raise_request()
    path = f"/requests/{made['id']}"
    specialist = as_role("specialist")
    assert specialist.post(f"{path}/assign", {"to": "me"}, page=path).status_code == 303
    me = desk.account.specialist.id
    both = desk.created("/api/v1/teams", {"name": "Both", "member_ids": [me]})
    other = desk.created("/api/v1/teams", {"name": "Other", "member_ids": [desk.account.admin.id]})

    for team, assignee, status in ((both["id"], me, "assigned"), (other["id"], None, "new")):
        routed = specialist.post(f"{path}/assign", {"to": "team", "team": team}, page=path)
        assert routed.status_code == 303
        after = desk.get(f"/api/v1{path}").get_json()
        assert (after["team_id"], after["assignee_id"], after["status"]) == (team, assignee, status)


def test_routing_to_a_team_of_another_account_is_refused(app, as_role, desk):
    from tests.integration.services.requests.conftest import build_desk

    other = build_desk(app, desk.client)
    made = desk.raise_request()
    path = f"/requests/{made['id']}"
    response = as_role("admin").post(
        f"{path}/assign", {"to": "team", "team": other.team}, page=path
    )
    assert response.status_code == 422
    assert "No such team" in errors_next_to(response.get_data(as_text=True), "team")
    assert desk.get(f"/api/v1{path}").get_json()["team_id"] == desk.team


def test_internal_notes_stay_internal(as_role, desk):
    made = desk.raise_request()
    path = f"/requests/{made['id']}"
    specialist = as_role("specialist")
    specialist.post(f"{path}/notes", {"body": "check logs", "visibility": "internal"}, page=path)
    notes = desk.get(f"/api/v1{path}/notes", "specialist").get_json()
    assert [(n["body"], n["public"]) for n in notes] == [("check logs", False)]
    assert "check logs" not in as_role("end_user").text(path)


def test_overriding_the_sla_needs_a_reason_and_records_it(as_role, desk):
    made = desk.raise_request()
    path = f"/requests/{made['id']}"
    specialist = as_role("specialist")
    refused = specialist.post(f"{path}/sla", {"sla": desk.premium, "reason": ""}, page=path)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert errors_next_to(html, "sla-reason") == "This field is required."
    # Tied to its control, for screen readers (the status form has a "reason" too).
    assert re.search(
        r'id="sla-reason"[^>]*aria-invalid="true"[^>]*aria-describedby="sla-reason-error"', html
    )
    assert desk.get(f"/api/v1{path}").get_json()["sla"]["name"] == "Customer"
    done = specialist.post(f"{path}/sla", {"sla": desk.premium, "reason": "CEO laptop"}, page=path)
    assert done.status_code == 303
    sla = desk.get(f"/api/v1{path}").get_json()["sla"]
    assert sla["name"] == "Premium" and "CEO laptop" in sla["reason"]
    assert "CEO laptop" in specialist.text(path)


def test_the_inbox_names_its_sources_and_shows_more_on_request(as_role, desk, monkeypatch):
    from portal.views import inbox

    monkeypatch.setattr(inbox, "SHOWN", 2)
    for n in range(3):
        desk.raise_request(subject=f"Request {n}")
    specialist = as_role("specialist")
    first = specialist.text("/inbox")
    assert len(_rows(first)) == 2 and "Show more" in first
    assert f"Sources: Account {desk.account.id} · ok · " in first
    everything = specialist.text("/inbox?show=4")
    assert len(_rows(everything)) == 3 and "Show more" not in everything
    exactly = specialist.text("/inbox?show=3")  # all there is: nothing more to offer
    assert len(_rows(exactly)) == 3 and "Show more" not in exactly
    assert "3 open requests, most urgent first" in exactly
    assert len(_rows(specialist.text("/inbox?show=-5"))) == 2


def test_the_inbox_asks_the_service_for_just_the_rows_it_shows(as_role, desk, monkeypatch):
    from portal.views import inbox
    from services.inbox.service import Inbox

    asked = []
    gather = Inbox.gather
    monkeypatch.setattr(
        Inbox, "gather", lambda self, **kw: asked.append(kw["limit"]) or gather(self, **kw)
    )
    monkeypatch.setattr(inbox, "SHOWN", 2)
    for n in range(3):
        desk.raise_request(subject=f"Request {n}")
    specialist = as_role("specialist")
    specialist.text("/inbox")
    specialist.text("/inbox?show=4")
    assert asked == [2, 4]  # each source says itself whether it holds more


def test_an_inbox_with_more_than_it_shows_counts_what_it_knows_of(as_role, desk, monkeypatch):
    from portal.views import inbox

    monkeypatch.setattr(inbox, "SHOWN", 2)
    monkeypatch.setattr(inbox, "MOST_SHOWN", 2)
    for n in range(3):
        desk.raise_request(subject=f"Request {n}")
    html = as_role("specialist").text("/inbox")
    assert len(_rows(html)) == 2
    assert "The 2 most urgent of 3+ open requests" in html
    assert f"Sources: Account {desk.account.id} · ok · 3+ open · " in html
    assert "Show more" not in html and "narrow it down with the filters" in html


def test_a_refused_status_change_marks_its_control_and_says_why_next_to_it(as_role, desk):
    made = desk.raise_request()
    path = f"/requests/{made['id']}"
    refused = as_role("specialist").post(f"{path}/status", {"status": "closed"}, page=path)
    html = refused.get_data(as_text=True)
    assert errors_next_to(html, "status")
    assert re.search(
        r'id="status"[^>]*aria-invalid="true"[^>]*aria-describedby="status-error"', html
    )


def test_an_internal_note_from_someone_who_does_not_work_the_request_says_why(as_role, desk):
    """Their page has no choice of who sees a note: the reason shows at the top."""
    own = desk.raise_request("specialist", subject="My own laptop", service_id=desk.service)
    path = f"/requests/{own['id']}"
    refused = as_role("specialist").post(
        f"{path}/notes", {"body": "psst", "visibility": "internal"}, page=path
    )
    assert refused.status_code == 422
    assert "Only those who work the request write internal notes" in refused.get_data(as_text=True)
