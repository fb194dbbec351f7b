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
