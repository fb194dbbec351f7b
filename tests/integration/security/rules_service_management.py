"""Access rules for calendars, SLAs, the catalog, the CMDB, offerings and requests."""

from __future__ import annotations

from typing import Any

from tests.integration.security.matrix import (
    ADMIN,
    EVERYONE,
    READERS,
    STAFF,
    Ids,
    Rule,
    counter,
)

ALWAYS = {"timezone": "UTC", "weekly": {"mon": [["09:00", "17:00"]]}}
TARGETS_MIN = {p: {"response": 60, "resolution": 240} for p in ("p1", "p2", "p3", "p4")}
RAISERS = frozenset({"admin", "specialist", "end_user"})


def _post(client, account, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, headers=account.admin.headers, json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def _unique(prefix: str) -> str:
    return f"{prefix} {next(counter)}"


def calendar_target(client, account, role, ids: Ids) -> Ids:
    body = {"name": _unique("Cal"), "definition": ALWAYS}
    return {"calendar_id": _post(client, account, "/api/v1/calendars", body)["id"]}


def sla_target(client, account, role, ids: Ids) -> Ids:
    calendar = ids.get("calendar_id") or calendar_target(client, account, role, ids)["calendar_id"]
    body = {"name": _unique("SLA"), "calendar_id": calendar, "targets": TARGETS_MIN}
    return {"sla_id": _post(client, account, "/api/v1/slas", body)["id"], "calendar_id": calendar}


def service_target(client, account, role, ids: Ids) -> Ids:
    found = dict(ids)
    if "sla_id" not in found:
        found.update(sla_target(client, account, role, found))
    body = {"name": _unique("Service"), "default_sla_id": found["sla_id"]}
    found["service_id"] = _post(client, account, "/api/v1/services", body)["id"]
    return found


def _desk_team(client, account) -> str:
    """A team with the account's specialist in it, so routed requests reach them."""
    body = {"name": _unique("Desk"), "member_ids": [account.specialist.id]}
    return _post(client, account, "/api/v1/teams", body)["id"]


def offering_target(client, account, role, ids: Ids) -> Ids:
    found = dict(ids)
    if "service_id" not in found:
        found.update(service_target(client, account, role, found))
    found.setdefault("team_id", _desk_team(client, account))
    body = {
        "service_id": found["service_id"],
        "name": _unique("Offer"),
        "team_id": found["team_id"],
    }
    found["offering_id"] = _post(client, account, "/api/v1/offerings", body)["id"]
    return found


def ci_target(client, account, role, ids: Ids) -> Ids:
    body = {"type": "laptop", "name": _unique("CI")}
    return {"ci_id": _post(client, account, "/api/v1/cis", body)["id"]}


def group_target(client, account, role, ids: Ids) -> Ids:
    found = dict(ids)
    if "sla_id" not in found:
        found.update(sla_target(client, account, role, found))
    body = {"label": _unique("VIP"), "sla_id": found["sla_id"], "person_ids": []}
    found["group_id"] = _post(client, account, "/api/v1/slas/requester-overrides", body)["id"]
    return found


def request_target(client, account, role, ids: Ids) -> Ids:
    """A request raised by the end user, routed to a team with the specialist in it."""
    found = offering_target(client, account, role, {**ids, "team_id": _desk_team(client, account)})
    response = client.post(
        "/api/v1/requests",
        headers=account.end_user.headers,
        json={"subject": "Broken", "offering_id": found["offering_id"]},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    found["request_id"] = response.get_json()["id"]
    return found


TARGETS = {
    "calendar_id": calendar_target,
    "sla_id": sla_target,
    "service_id": service_target,
    "offering_id": offering_target,
    "ci_id": ci_target,
    "group_id": group_target,
    "request_id": request_target,
}


def _named(_: Ids) -> dict[str, Any]:
    return {"name": _unique("Renamed")}


RULES: dict[tuple[str, str], Rule] = {
    ("/api/v1/calendars", "GET"): Rule(READERS, 200),
    ("/api/v1/calendars", "POST"): Rule(
        ADMIN, 201, body=lambda _: {"name": _unique("Cal"), "definition": ALWAYS}
    ),
    ("/api/v1/calendars/preview", "POST"): Rule(
        EVERYONE,
        200,
        body=lambda _: {"calendar": ALWAYS, "start": "2026-01-05T09:00:00Z", "seconds": 3600},
    ),
    ("/api/v1/calendars/<calendar_id>", "GET"): Rule(READERS, 200, by_id=True),
    ("/api/v1/calendars/<calendar_id>", "PATCH"): Rule(ADMIN, 200, body=_named, by_id=True),
    ("/api/v1/calendars/<calendar_id>", "DELETE"): Rule(ADMIN, 204, by_id=True),
    ("/api/v1/slas", "GET"): Rule(READERS, 200),
    ("/api/v1/slas", "POST"): Rule(
        ADMIN,
        201,
        body=lambda ids: {
            "name": _unique("SLA"),
            "calendar_id": ids["calendar_id"],
            "targets": TARGETS_MIN,
        },
        needs=("calendar_id",),
    ),
    ("/api/v1/slas/<sla_id>", "GET"): Rule(READERS, 200, by_id=True),
    ("/api/v1/slas/<sla_id>", "PATCH"): Rule(ADMIN, 200, body=_named, by_id=True),
    ("/api/v1/slas/requester-overrides", "GET"): Rule(READERS, 200),
    ("/api/v1/slas/requester-overrides", "POST"): Rule(
        ADMIN,
        201,
        body=lambda ids: {"label": _unique("VIP"), "sla_id": ids["sla_id"]},
        needs=("sla_id",),
    ),
    ("/api/v1/slas/requester-overrides/<group_id>", "GET"): Rule(READERS, 200, by_id=True),
    ("/api/v1/slas/requester-overrides/<group_id>", "PATCH"): Rule(
        ADMIN, 200, body=lambda _: {"label": _unique("VIP")}, by_id=True
    ),
    ("/api/v1/slas/requester-overrides/<group_id>", "DELETE"): Rule(ADMIN, 204, by_id=True),
    ("/api/v1/services", "GET"): Rule(EVERYONE, 200),
    ("/api/v1/services", "POST"): Rule(
        ADMIN,
        201,
        body=lambda ids: {"name": _unique("Service"), "default_sla_id": ids["sla_id"]},
        needs=("sla_id",),
    ),
    ("/api/v1/services/<service_id>", "GET"): Rule(EVERYONE, 200, by_id=True),
    ("/api/v1/services/<service_id>", "PATCH"): Rule(ADMIN, 200, body=_named, by_id=True),
    ("/api/v1/cis", "GET"): Rule(EVERYONE, 200),
    ("/api/v1/cis", "POST"): Rule(
        ADMIN, 201, body=lambda _: {"type": "laptop", "name": _unique("CI")}
    ),
    # End users see only the CIs they own: another's is as absent as a foreign one.
    ("/api/v1/cis/<ci_id>", "GET"): Rule(READERS, 200, by_id=True, denied=404),
    ("/api/v1/cis/<ci_id>", "PATCH"): Rule(ADMIN, 200, body=_named, by_id=True),
    ("/api/v1/offerings", "GET"): Rule(EVERYONE, 200),
    ("/api/v1/offerings", "POST"): Rule(
        ADMIN,
        201,
        body=lambda ids: {
            "service_id": ids["service_id"],
            "name": _unique("Offer"),
            "team_id": ids["team_id"],
        },
        needs=("service_id", "team_id"),
    ),
    ("/api/v1/offerings/<offering_id>", "GET"): Rule(EVERYONE, 200, by_id=True),
    ("/api/v1/offerings/<offering_id>", "PATCH"): Rule(ADMIN, 200, body=_named, by_id=True),
    ("/api/v1/offerings/<offering_id>/expire", "POST"): Rule(ADMIN, 200, by_id=True),
    ("/api/v1/requests", "GET"): Rule(EVERYONE, 200),
    ("/api/v1/requests", "POST"): Rule(
        RAISERS,
        201,
        body=lambda ids: {"subject": "Help", "offering_id": ids["offering_id"]},
        needs=("offering_id",),
    ),
    ("/api/v1/requests/<request_id>", "GET"): Rule(EVERYONE, 200, by_id=True),
    ("/api/v1/requests/<request_id>", "PATCH"): Rule(
        RAISERS, 200, body=lambda _: {"subject": "Still broken"}, by_id=True
    ),
    ("/api/v1/requests/<request_id>/notes", "GET"): Rule(EVERYONE, 200, by_id=True),
    ("/api/v1/requests/<request_id>/notes", "POST"): Rule(
        RAISERS, 201, body=lambda _: {"body": "Any news?"}, by_id=True
    ),
    ("/api/v1/requests/<request_id>/timeline", "GET"): Rule(EVERYONE, 200, by_id=True),
    ("/api/v1/requests/<request_id>/sla-override", "POST"): Rule(
        STAFF,
        200,
        body=lambda ids: {"sla_id": ids["sla_id"], "reason": "VIP printer"},
        by_id=True,
        needs=("sla_id",),
    ),
    ("/api/v1/requests/<request_id>/reevaluate", "POST"): Rule(
        STAFF, 200, body=lambda _: {"reason": "contract changed"}, by_id=True
    ),
}
