"""Every route x every role x own versus foreign account.

The matrix below is the specification of who may do what. A route added to the app
without an entry here fails ``test_every_route_is_in_the_matrix``, so nobody can ship an
endpoint without deciding its access rules. Foreign ids always answer 404, exactly like
ids that do not exist, so ids never reveal another customer's data.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.factories.accounts import AccountFixture, make_account

ROLES = ("admin", "specialist", "end_user", "auditor")
EVERYONE = frozenset(ROLES)
READERS = frozenset({"admin", "specialist", "auditor"})
ADMIN = frozenset({"admin"})
AUDIT = frozenset({"admin", "auditor"})
_counter = itertools.count()


def _new_person(_: dict[str, str]) -> dict[str, Any]:
    n = next(_counter)
    return {"email": f"new{n}@example.test", "name": f"New {n}", "roles": ["end_user"]}


def _new_team(_: dict[str, str]) -> dict[str, Any]:
    return {"name": f"Team {next(_counter)}"}


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]
    ok: int
    body: Callable[[dict[str, str]], Any] | None = None
    # Public routes answer without a token; the rest answer 401.
    public: bool = False
    anonymous_status: int = 401
    by_id: bool = field(default=False)


MATRIX: dict[tuple[str, str], Rule] = {
    ("/api/v1/me", "GET"): Rule(EVERYONE, 200),
    ("/api/v1/me", "PATCH"): Rule(EVERYONE, 200, body=lambda _: {"name": "Renamed Person"}),
    ("/api/v1/me/tokens", "GET"): Rule(EVERYONE, 200),
    ("/api/v1/me/tokens", "POST"): Rule(EVERYONE, 201, body=lambda _: {"name": "laptop"}),
    ("/api/v1/me/tokens/<token_id>", "DELETE"): Rule(EVERYONE, 204, by_id=True),
    ("/api/v1/users", "GET"): Rule(READERS, 200),
    ("/api/v1/users", "POST"): Rule(ADMIN, 201, body=_new_person),
    ("/api/v1/users/<person_id>", "GET"): Rule(READERS, 200, by_id=True),
    ("/api/v1/users/<person_id>", "PATCH"): Rule(
        ADMIN, 200, body=lambda _: {"name": "Renamed"}, by_id=True
    ),
    ("/api/v1/teams", "GET"): Rule(READERS, 200),
    ("/api/v1/teams", "POST"): Rule(ADMIN, 201, body=_new_team),
    ("/api/v1/teams/<team_id>", "GET"): Rule(READERS, 200, by_id=True),
    ("/api/v1/teams/<team_id>", "PATCH"): Rule(
        ADMIN, 200, body=lambda _: {"description": "changed"}, by_id=True
    ),
    ("/api/v1/teams/<team_id>", "DELETE"): Rule(ADMIN, 204, by_id=True),
    ("/api/v1/teams/<team_id>/members", "POST"): Rule(
        ADMIN, 200, body=lambda ids: {"person_id": ids["person_id"]}, by_id=True
    ),
    ("/api/v1/teams/<team_id>/members/<person_id>", "DELETE"): Rule(ADMIN, 200, by_id=True),
    ("/api/v1/audit", "GET"): Rule(AUDIT, 200),
    ("/api/v1/audit/verify", "GET"): Rule(AUDIT, 200),
    ("/api/v1/openapi.json", "GET"): Rule(EVERYONE, 200, public=True, anonymous_status=200),
    ("/healthz", "GET"): Rule(EVERYONE, 200, public=True, anonymous_status=200),
    ("/readyz", "GET"): Rule(EVERYONE, 200, public=True, anonymous_status=200),
    # The portal authenticates with its session cookie, not tokens: anonymous visitors are
    # sent to the login page, and its forms need a CSRF token (see tests/integration/portal).
    ("/", "GET"): Rule(EVERYONE, 302, public=True, anonymous_status=302),
    ("/login", "GET"): Rule(EVERYONE, 200, public=True, anonymous_status=200),
    ("/login", "POST"): Rule(EVERYONE, 400, public=True, anonymous_status=400),
    ("/logout", "POST"): Rule(EVERYONE, 302, public=True, anonymous_status=302),
    ("/static/portal/<path:filename>", "GET"): Rule(
        EVERYONE, 200, public=True, anonymous_status=200
    ),
}

STATIC_FILE = {"filename": "portal.css"}


def app_routes(app) -> set[tuple[str, str]]:
    return {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_is_in_the_matrix(app):
    routes = app_routes(app)
    assert routes - set(MATRIX) == set(), "new routes need an entry in MATRIX"
    assert set(MATRIX) - routes == set(), "MATRIX names routes that no longer exist"


def targets(client, account: AccountFixture, caller_role: str) -> dict[str, str]:
    """A fresh person, a team with that person in it, and a token of the caller's."""
    admin = account.admin.headers
    person = client.post("/api/v1/users", headers=admin, json=_new_person({})).get_json()["id"]
    team_body = {**_new_team({}), "member_ids": [person]}
    team = client.post("/api/v1/teams", headers=admin, json=team_body).get_json()["id"]
    caller = getattr(account, caller_role).headers
    token = client.post("/api/v1/me/tokens", headers=caller, json={"name": "t"}).get_json()["id"]
    return {"person_id": person, "team_id": team, "token_id": token, **STATIC_FILE}


def call(client, path: str, method: str, ids: dict[str, str], rule: Rule, headers: dict) -> Any:
    url = path.replace("<path:filename>", ids["filename"])
    for name, value in ids.items():
        url = url.replace(f"<{name}>", value)
    body = rule.body(ids) if rule.body else None
    response = client.open(url, method=method, headers=headers, json=body)
    response.get_data()  # read, then close: static files are streamed
    response.close()
    return response


@pytest.fixture
def two_accounts(app):
    return make_account(app, prefix="own"), make_account(app, prefix="foreign")


@pytest.mark.parametrize(("path", "method"), sorted(MATRIX))
def test_route_answers_each_role_as_the_matrix_says(app, client, two_accounts, path, method):
    rule = MATRIX[(path, method)]
    own, foreign = two_accounts
    anonymous = call(client, path, method, targets(client, own, "admin"), rule, {})
    assert anonymous.status_code == rule.anonymous_status, anonymous.get_data(as_text=True)
    if rule.public:
        return
    assert anonymous.mimetype == "application/problem+json"
    for role in ROLES:
        member = getattr(own, role)
        response = call(client, path, method, targets(client, own, role), rule, member.headers)
        expected = rule.ok if role in rule.allowed else 403
        assert response.status_code == expected, (role, response.get_data(as_text=True))
        if expected >= 400:
            assert response.mimetype == "application/problem+json"
        if rule.by_id:
            ids = targets(client, foreign, role)
            response = call(client, path, method, ids, rule, member.headers)
            expected = 404 if role in rule.allowed else 403
            assert response.status_code == expected, (role, "foreign", response.get_data(True))
