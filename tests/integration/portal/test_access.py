"""Who may see what: other accounts' objects are 404 pages, roles are enforced, sessions
expire back to login and then to the page asked for, and every form needs its CSRF token."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner

from tests.integration.portal.conftest import sign_in
from tests.integration.services.requests.conftest import build_desk


@pytest.fixture
def other(app, desk):
    """A second account on the same node, with a request of its own."""
    theirs = build_desk(app, desk.client)
    theirs.request = theirs.raise_request(subject="Their secret request")
    return theirs


def test_a_request_of_another_account_is_a_404_page(as_role, other):
    for role in ("admin", "specialist", "end_user", "auditor"):
        response = as_role(role).get(f"/requests/{other.request['id']}")
        html = response.get_data(as_text=True)
        assert response.status_code == 404, role
        assert "<h1>Not found</h1>" in html and "belongs to another account" in html
        assert "Their secret request" not in html


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("notes", {"body": "hello"}),
        ("status", {"status": "cancelled"}),
        ("assign", {"to": "me"}),
        ("sla", {"sla": "x", "reason": "because"}),
    ],
)
def test_acting_on_a_request_of_another_account_is_a_404_and_writes_nothing(
    as_role, other, action, form
):
    path = f"/requests/{other.request['id']}"
    response = as_role("admin").post(f"{path}/{action}", form)
    assert response.status_code == 404
    after = other.get(f"/api/v1{path}").get_json()
    assert after["status"] == "new" and after["assignee_id"] is None
    assert len(other.get(f"/api/v1{path}/timeline").get_json()) == 1


def test_expiring_an_offering_of_another_account_is_a_404(as_role, other):
    response = as_role("admin").post(f"/admin/offerings/{other.offering}/expire", {})
    assert response.status_code == 404
    assert other.get(f"/api/v1/offerings/{other.offering}").get_json()["open"]


def test_a_made_up_or_overlong_request_id_is_a_404_page(as_role):
    browser = as_role("end_user")
    assert browser.get("/requests/does-not-exist").status_code == 404
    assert browser.get("/requests/" + "x" * 500).status_code == 404


def test_another_end_users_request_in_the_same_account_is_a_404(app, as_role, desk):
    made = desk.raise_request(who="specialist", subject="Not yours")
    assert as_role("end_user").get(f"/requests/{made['id']}").status_code == 404


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("end_user", "/inbox", 403),
        ("end_user", "/admin/services", 403),
        ("end_user", "/audit", 403),
        ("specialist", "/admin/people", 403),
        ("specialist", "/audit", 403),
        ("auditor", "/admin/slas", 403),
        ("auditor", "/inbox", 403),
        ("auditor", "/requests/new", 403),
        ("auditor", "/audit", 200),
        ("specialist", "/inbox", 200),
        ("admin", "/admin/calendars", 200),
    ],
)
def test_pages_are_for_their_roles(as_role, role, path, status):
    response = as_role(role).get(path)
    assert response.status_code == status
    if status == 403:
        assert "<h1>Not allowed</h1>" in response.get_data(as_text=True)


def test_navigation_offers_only_what_the_role_may_open(as_role):
    end_user = as_role("end_user").text("/")
    assert 'href="/inbox"' not in end_user and 'href="/admin/' not in end_user
    admin = as_role("admin").text("/")
    assert all(f'href="/admin/{p}"' in admin for p in ("services", "slas", "calendars", "people"))
    assert "Trusts" in admin  # the slot the federation's admin pages take
    auditor = as_role("auditor").text("/")
    assert 'href="/audit"' in auditor and 'href="/requests/new"' not in auditor


def test_the_layout_says_who_which_account_and_which_node(app, as_role, desk):
    html = as_role("specialist").text("/")
    assert "Specialist" in html and desk.account.id in html
    assert f"node {app.extensions['trustdesk'].settings.node_name}" in html
    assert '<a class="skip" href="#main">Skip to content</a>' in html


def test_an_auditor_reads_a_request_but_cannot_act_on_it(as_role, desk):
    made = desk.raise_request()
    auditor = as_role("auditor")
    html = auditor.text(f"/requests/{made['id']}")
    assert "Printer on fire" in html and "Send reply" not in html and "Add note" not in html
    response = auditor.post(f"/requests/{made['id']}/notes", {"body": "x"})
    assert response.status_code == 403


def test_without_a_session_every_page_goes_to_login_and_back(app, desk):
    client = app.test_client()
    response = client.get("/inbox?team=abc")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/inbox?team%3Dabc"


def test_an_expired_session_cookie_returns_to_login_then_to_the_page(app, desk, monkeypatch):
    browser = sign_in(app, desk.account, "specialist")
    made = desk.raise_request()
    wanted = f"/requests/{made['id']}"
    lifetime = app.permanent_session_lifetime.total_seconds()
    cookie = browser.client.get_cookie("session")
    # Re-sign the same session as if it had been issued longer ago than its lifetime.
    serializer = app.session_interface.get_signing_serializer(app)
    data = serializer.loads(cookie.value)
    monkeypatch.setattr(
        TimestampSigner, "get_timestamp", lambda self: int(time.time() - lifetime - 60)
    )
    old = serializer.dumps(data)
    monkeypatch.undo()
    browser.client.set_cookie("session", old)
    response = browser.get(wanted)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={wanted}"
    fresh = sign_in(app, desk.account, "specialist")
    login_page = fresh.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Please sign in to continue." in login_page
    from tests.factories.accounts import PASSWORD
    from tests.integration.portal.conftest import CSRF

    back = fresh.client.post(
        response.headers["Location"],
        data={
            "csrf_token": CSRF.search(login_page).group(1),
            "account": desk.account.id,
            "email": desk.account.specialist.email,
            "password": PASSWORD,
        },
    )
    assert back.headers["Location"] == wanted


def test_a_form_posted_after_the_session_ended_returns_to_its_page(app, desk):
    made = desk.raise_request()
    client = app.test_client()
    response = client.post(
        f"/requests/{made['id']}/notes",
        data={"body": "late"},
        headers={"Referer": f"http://localhost/requests/{made['id']}"},
    )
    assert response.headers["Location"] == f"/login?next=/requests/{made['id']}"
    assert len(desk.get(f"/api/v1/requests/{made['id']}/timeline").get_json()) == 1


@pytest.mark.parametrize(
    ("role", "path", "form"),
    [
        ("end_user", "/requests/new", {"what": "service:x", "subject": "s", "priority": "p3"}),
        ("admin", "/admin/services", {"name": "No token", "sla": "x"}),
        ("admin", "/admin/offerings", {"service": "x", "name": "n", "team": "t"}),
        ("admin", "/admin/slas", {"name": "n"}),
        ("admin", "/admin/calendars", {"name": "n"}),
        ("admin", "/admin/cis", {"type": "t", "name": "n"}),
        ("admin", "/admin/teams", {"name": "n"}),
        ("admin", "/admin/people", {"name": "n", "email": "n@x.test", "roles": "end_user"}),
    ],
)
def test_every_form_refuses_a_post_without_its_csrf_token(as_role, desk, role, path, form):
    before = len(desk.get("/api/v1/audit", limit=200).get_json()["items"])
    response = as_role(role).post(path, form, csrf=False)
    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert len(desk.get("/api/v1/audit", limit=200).get_json()["items"]) == before


def test_request_forms_refuse_a_post_without_its_csrf_token(as_role, desk):
    made = desk.raise_request()
    browser = as_role("specialist")
    for action, form in (
        ("notes", {"body": "x"}),
        ("status", {"status": "cancelled"}),
        ("assign", {"to": "me"}),
        ("sla", {"sla": desk.premium, "reason": "r"}),
    ):
        response = browser.post(f"/requests/{made['id']}/{action}", form, csrf=False)
        assert response.status_code == 400, action
    assert len(desk.get(f"/api/v1/requests/{made['id']}/timeline").get_json()) == 1


def test_signed_in_pages_are_never_cached(as_role, desk):
    response = as_role("end_user").get("/requests")
    assert response.headers["Cache-Control"] == "no-store"
