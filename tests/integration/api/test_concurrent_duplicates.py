"""A write the database refuses past the services' own checks is a 409 problem, not a 500.

Two admins creating a team of one name at once both find the name free; the second
insert then meets the first's unique index. Here the second's check is made to find
nothing, as it would have before the first committed."""

from __future__ import annotations

import pytest

from account_node.identity.store import TeamStore
from tests.factories.accounts import make_account
from tests.integration.portal.conftest import sign_in

PROBLEM = "application/problem+json"


@pytest.fixture
def account(app):
    return make_account(app)


@pytest.fixture
def check_finds_nothing(monkeypatch):
    """The duplicate's check ran before the first create committed."""
    monkeypatch.setattr(TeamStore, "by_name", lambda self, name: None)


def _teams_named(client, account, name: str) -> int:
    teams = client.get("/api/v1/teams?limit=200", headers=account.admin.headers).get_json()
    return sum(t["name"] == name for t in teams["items"])


def test_a_create_that_collides_with_one_made_meanwhile_is_a_409_and_writes_nothing(
    client, account, check_finds_nothing
):
    first = client.post("/api/v1/teams", json={"name": "Network"}, headers=account.admin.headers)
    assert first.status_code == 201
    second = client.post("/api/v1/teams", json={"name": "Network"}, headers=account.admin.headers)
    assert second.status_code == 409, second.get_data(as_text=True)
    assert second.mimetype == PROBLEM
    body = second.get_json()
    assert body["code"] == "concurrent_change"
    assert "Try again" in body["detail"]
    assert _teams_named(client, account, "Network") == 1


def test_the_portal_shows_the_collision_as_a_page_not_a_500(
    app, client, account, check_finds_nothing
):
    admin = sign_in(app, account, "admin")
    assert admin.post("/admin/teams", {"name": "Storage"}, page="/admin/teams").status_code == 303
    again = admin.post("/admin/teams", {"name": "Storage"}, page="/admin/teams")
    assert again.status_code == 409
    assert again.mimetype == "text/html"
    assert "Try again" in again.get_data(as_text=True)
    assert _teams_named(client, account, "Storage") == 1


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, client, account):
    """Each counted the other as the admin left, and both changes went through: an
    account with no admin. The count waits for the account's lock; the second then
    finds itself the last admin, and is refused."""
    from account_node.identity.service import People
    from tests.integration.services.requests.conftest import admin_work, holding

    node = app.extensions["trustdesk"]
    promoted = client.patch(
        f"/api/v1/users/{account.specialist.id}", json={"roles": ["admin"]},
        headers=account.admin.headers,
    )  # fmt: skip
    assert promoted.status_code == 200

    def demote_the_specialist():
        people = People(admin_work(node, account), node.passwords)
        return people.update(account.specialist.id, roles=["specialist"])

    def demote_the_admin():
        path, body = f"/api/v1/users/{account.admin.id}", {"roles": ["end_user"]}
        return app.test_client().patch(path, json=body, headers=account.specialist.headers)

    _, answer = holding(app, demote_the_specialist, demote_the_admin)
    # The first committed: the specialist is no admin now, so cannot demote anyone.
    assert answer.status_code in (403, 409), answer.get_data(as_text=True)
    admin = client.get(f"/api/v1/users/{account.admin.id}", headers=account.admin.headers)
    assert "admin" in admin.get_json()["roles"]
