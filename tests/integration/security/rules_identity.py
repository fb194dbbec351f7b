"""Access rules for the caller, people, teams, audit and the public routes."""

from __future__ import annotations

from typing import Any

from tests.integration.security.matrix import (
    ADMIN,
    AUDIT,
    EVERYONE,
    READERS,
    Ids,
    Rule,
    counter,
)


def new_person(_: Ids) -> dict[str, Any]:
    n = next(counter)
    return {"email": f"new{n}@example.test", "name": f"New {n}", "roles": ["end_user"]}


def new_team(_: Ids) -> dict[str, Any]:
    return {"name": f"Team {next(counter)}"}


def person_target(client, account, role, ids: Ids) -> Ids:
    body = client.post("/api/v1/users", headers=account.admin.headers, json=new_person({}))
    return {"person_id": body.get_json()["id"]}


def team_target(client, account, role, ids: Ids) -> Ids:
    """A team with one member, so member removal has someone to remove."""
    person = ids.get("person_id") or person_target(client, account, role, ids)["person_id"]
    body = {**new_team({}), "member_ids": [person]}
    team = client.post("/api/v1/teams", headers=account.admin.headers, json=body).get_json()
    return {"team_id": team["id"], "person_id": person}


def token_target(client, account, role, ids: Ids) -> Ids:
    caller = getattr(account, role).headers
    token = client.post("/api/v1/me/tokens", headers=caller, json={"name": "t"}).get_json()
    return {"token_id": token["id"]}


def static_target(client, account, role, ids: Ids) -> Ids:
    return {"filename": "portal.css"}


TARGETS = {
    "person_id": person_target,
    "team_id": team_target,
    "token_id": token_target,
    "filename": static_target,
}

PUBLIC = {"public": True}

RULES: dict[tuple[str, str], Rule] = {
    ("/api/v1/me", "GET"): Rule(EVERYONE, 200),
    ("/api/v1/me", "PATCH"): Rule(EVERYONE, 200, body=lambda _: {"name": "Renamed Person"}),
    ("/api/v1/me/tokens", "GET"): Rule(EVERYONE, 200),
    ("/api/v1/me/tokens", "POST"): Rule(EVERYONE, 201, body=lambda _: {"name": "laptop"}),
    ("/api/v1/me/tokens/<token_id>", "DELETE"): Rule(EVERYONE, 204, by_id=True),
    ("/api/v1/users", "GET"): Rule(READERS, 200),
    ("/api/v1/users", "POST"): Rule(ADMIN, 201, body=new_person),
    ("/api/v1/users/<person_id>", "GET"): Rule(READERS, 200, by_id=True),
    ("/api/v1/users/<person_id>", "PATCH"): Rule(
        ADMIN, 200, body=lambda _: {"name": "Renamed"}, by_id=True
    ),
    ("/api/v1/teams", "GET"): Rule(READERS, 200),
    ("/api/v1/teams", "POST"): Rule(ADMIN, 201, body=new_team),
    ("/api/v1/teams/<team_id>", "GET"): Rule(READERS, 200, by_id=True),
    ("/api/v1/teams/<team_id>", "PATCH"): Rule(
        ADMIN, 200, body=lambda _: {"description": "changed"}, by_id=True
    ),
    ("/api/v1/teams/<team_id>", "DELETE"): Rule(ADMIN, 204, by_id=True),
    ("/api/v1/teams/<team_id>/members", "POST"): Rule(
        ADMIN,
        200,
        body=lambda ids: {"person_id": ids["person_id"]},
        by_id=True,
        needs=("person_id",),
    ),
    ("/api/v1/teams/<team_id>/members/<person_id>", "DELETE"): Rule(ADMIN, 200, by_id=True),
    ("/api/v1/audit", "GET"): Rule(AUDIT, 200),
    ("/api/v1/audit/verify", "GET"): Rule(AUDIT, 200),
    ("/api/v1/openapi.json", "GET"): Rule(EVERYONE, 200, anonymous_status=200, **PUBLIC),
    ("/healthz", "GET"): Rule(EVERYONE, 200, anonymous_status=200, **PUBLIC),
    ("/.well-known/trustdesk-node", "GET"): Rule(EVERYONE, 200, anonymous_status=200, **PUBLIC),
    ("/readyz", "GET"): Rule(EVERYONE, 200, anonymous_status=200, **PUBLIC),
    # The portal authenticates with its session cookie, not tokens: anonymous visitors go
    # to the login page, and its forms need a CSRF token (tests/integration/portal).
    ("/", "GET"): Rule(EVERYONE, 302, anonymous_status=302, **PUBLIC),
    ("/login", "GET"): Rule(EVERYONE, 200, anonymous_status=200, **PUBLIC),
    ("/login", "POST"): Rule(EVERYONE, 400, anonymous_status=400, **PUBLIC),
    ("/logout", "POST"): Rule(EVERYONE, 302, anonymous_status=302, **PUBLIC),
    ("/static/portal/<path:filename>", "GET"): Rule(EVERYONE, 200, anonymous_status=200, **PUBLIC),
}
