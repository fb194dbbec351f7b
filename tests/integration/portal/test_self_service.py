"""End users: the catalog, raising a request, my requests, the request page and replies."""

from __future__ import annotations

import re

from tests.integration.portal.conftest import errors_next_to


def _raise(browser, desk, **fields):
    form = {
        "what": f"offering:{desk.offering}",
        "subject": "Printer jams",
        "priority": "p3",
        "description": "",
        "ci": "",
        "key": "",
    }
    form.update(fields)
    return browser.post("/requests/new", form, page="/requests/new")


def _count(desk, who: str = "admin") -> int:
    return len(desk.get("/api/v1/requests", who, limit=200).get_json()["items"])


def test_the_catalog_lists_services_with_their_open_offerings(as_role, desk):
    html = as_role("end_user").text("/catalog")
    assert "Printing" in html and "Raise a request: Printing for HQ" in html
    assert f"/requests/new?offering={desk.offering}" in html


def test_an_expired_offering_leaves_the_catalog_and_the_form(as_role, desk):
    desk.post(f"/api/v1/offerings/{desk.offering}/expire", {})
    end_user = as_role("end_user")
    assert "Printing for HQ" not in end_user.text("/catalog")
    assert f"offering:{desk.offering}" not in end_user.text("/requests/new")


def test_raising_a_request_routes_it_and_shows_its_page(as_role, desk):
    end_user = as_role("end_user")
    response = _raise(end_user, desk, subject="Printer jams on floor 3", priority="p2")
    assert response.status_code == 303
    page = end_user.text(response.headers["Location"])
    assert "Printer jams on floor 3" in page and "REQ-" in page
    assert "Service Desk" in page  # routed by the offering
    assert "Times in your time zone, UTC" in page
    mine = desk.get("/api/v1/requests", "end_user").get_json()["items"]
    assert [r["priority"] for r in mine] == ["p2"]


def test_a_request_form_with_errors_keeps_the_input_and_writes_nothing(as_role, desk):
    end_user = as_role("end_user")
    before = _count(desk)
    response = _raise(end_user, desk, subject="", description="It makes a noise", priority="p9")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert errors_next_to(html, "subject") == "This field is required."
    assert errors_next_to(html, "priority") == "Choose a priority."
    assert "It makes a noise</textarea>" in html
    assert f'value="offering:{desk.offering}" selected' in html
    assert 'aria-invalid="true"' in html and "Nothing was saved" in html
    assert _count(desk) == before


def test_a_service_of_another_account_is_an_error_next_to_the_service(app, as_role, desk):
    from tests.integration.services.requests.conftest import build_desk

    other = build_desk(app, desk.client)
    response = _raise(as_role("end_user"), desk, what=f"offering:{other.offering}")
    assert response.status_code == 422
    assert "no such offering" in errors_next_to(response.get_data(as_text=True), "what").lower()
    assert _count(desk) == 0


def test_only_the_requesters_own_items_can_be_picked(as_role, desk):
    mine = desk.created(
        "/api/v1/cis", {"type": "laptop", "name": "LT-1", "owner_id": desk.account.end_user.id}
    )["id"]
    end_user = as_role("end_user")
    form = end_user.text("/requests/new")
    assert "LT-1 (laptop)" in form and "PRN-301" not in form
    refused = _raise(end_user, desk, ci=desk.child_ci)
    assert refused.status_code == 422
    assert errors_next_to(refused.get_data(as_text=True), "ci").startswith("Choose one of your own")
    assert _raise(end_user, desk, ci=mine).status_code == 303


def test_a_double_submitted_form_raises_one_request(as_role, desk):
    end_user = as_role("end_user")
    key = re.search(r'name="key" value="([^"]+)"', end_user.text("/requests/new")).group(1)
    first, second = _raise(end_user, desk, key=key), _raise(end_user, desk, key=key)
    assert first.headers["Location"] == second.headers["Location"]
    assert _count(desk) == 1


def test_my_requests_shows_status_and_due_times_in_my_time_zone(as_role, desk):
    desk.patch(f"/api/v1/users/{desk.account.end_user.id}", {"time_zone": "Asia/Tokyo"})
    desk.raise_request(subject="Toner low")
    html = as_role("end_user").text("/requests")
    assert "Toner low" in html and "New" in html
    assert "Asia/Tokyo" in html and " JST" in html
    assert "On track" in html


def test_my_requests_does_not_show_other_peoples_requests(as_role, desk):
    desk.raise_request(who="specialist", subject="Specialist own problem")
    html = as_role("end_user").text("/requests")
    assert "Specialist own problem" not in html


def test_waiting_for_you_is_highlighted_and_a_reply_resumes_work(as_role, desk):
    made = desk.raise_request(subject="Scanner offline")
    desk.patch(f"/api/v1/requests/{made['id']}", {"status": "waiting_for_customer"}, "specialist")
    end_user = as_role("end_user")
    assert "Waiting for you" in end_user.text("/")
    page = end_user.text(f"/requests/{made['id']}")
    assert 'class="card attention"' in page and "Waiting for you" in page
    response = end_user.post(
        f"/requests/{made['id']}/notes", {"body": "It is on again."}, page=f"/requests/{made['id']}"
    )
    assert response.status_code == 303
    after = desk.get(f"/api/v1/requests/{made['id']}").get_json()
    assert after["status"] == "in_progress"
    assert "Waiting for you" not in end_user.text(f"/requests/{made['id']}")


def test_an_empty_reply_is_an_error_next_to_the_box_and_writes_nothing(as_role, desk):
    made = desk.raise_request()
    end_user = as_role("end_user")
    path = f"/requests/{made['id']}"
    response = end_user.post(f"{path}/notes", {"body": "   "}, page=path)
    assert response.status_code == 422
    assert errors_next_to(response.get_data(as_text=True), "body") == "This field is required."
    assert len(desk.get(f"/api/v1{path}/timeline").get_json()) == 1


def test_the_requester_sees_public_notes_only(as_role, desk):
    made = desk.raise_request()
    path = f"/api/v1/requests/{made['id']}/notes"
    desk.post(path, {"body": "Visible answer", "public": True}, "specialist")
    desk.post(path, {"body": "Staff-only remark", "public": False}, "specialist")
    page = as_role("end_user").text(f"/requests/{made['id']}")
    assert "Visible answer" in page and "Staff-only remark" not in page
    assert "Override the SLA" not in page and "Assign to me" not in page


def test_an_end_user_may_cancel_but_not_resolve(as_role, desk):
    made = desk.raise_request()
    end_user = as_role("end_user")
    path = f"/requests/{made['id']}"
    page = end_user.text(path)
    assert '<option value="cancelled">Cancelled</option>' in page
    assert 'value="resolved"' not in page
    refused = end_user.post(f"{path}/status", {"status": "resolved"}, page=path)
    assert refused.status_code == 409
    assert "cannot go from new to resolved" in errors_next_to(
        refused.get_data(as_text=True), "status"
    )
    assert end_user.post(f"{path}/status", {"status": "cancelled"}, page=path).status_code == 303
    assert desk.get(f"/api/v1/requests/{made['id']}").get_json()["status"] == "cancelled"


def test_colleagues_in_a_sharing_team_see_each_others_requests(app, as_role, desk):
    from tests.factories.accounts import PASSWORD

    colleague = desk.created(
        "/api/v1/users",
        {
            "email": "col@example.test",
            "name": "Colleague",
            "roles": ["end_user"],
            "password": PASSWORD,
        },
    )
    desk.created(
        "/api/v1/teams",
        {
            "name": "Finance",
            "shares_requests": True,
            "member_ids": [desk.account.end_user.id, colleague["id"]],
        },
    )
    desk.raise_request(who="admin", subject="Colleague request", requester_id=colleague["id"])
    end_user = as_role("end_user")
    assert "Colleague request" not in end_user.text("/requests")
    shared = end_user.text("/requests?scope=all")
    assert "Colleague request" in shared and "Requester" in shared
