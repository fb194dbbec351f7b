"""Bad input gets a clear RFC 9457 problem, and nothing is written."""

from __future__ import annotations

import pytest

from tests.factories.accounts import make_account
from tests.integration.services.requests.conftest import build_desk

PROBLEM = "application/problem+json"


@pytest.fixture
def account(app):
    return make_account(app)


def _people_count(client, account) -> int:
    body = client.get("/api/v1/users?limit=200", headers=account.admin.headers).get_json()
    return len(body["items"])


def _assert_problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status
    if code:
        assert body["code"] == code
    return body


def test_malformed_json_is_a_422_naming_the_body(client, account):
    response = client.post(
        "/api/v1/users",
        headers={**account.admin.headers, "Content-Type": "application/json"},
        data="{not json",
    )
    body = _assert_problem(response, 422, "validation_failed")
    assert "body" in body["errors"]


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/teams", "/api/v1/services"])
def test_json_nested_past_the_parsers_limit_is_malformed_json_too(client, account, path):
    response = client.post(
        path,
        headers={**account.admin.headers, "Content-Type": "application/json"},
        data="[" * 100_000,
    )
    body = _assert_problem(response, 422, "validation_failed")
    assert "body" in body["errors"]


def test_each_invalid_field_is_named_and_nothing_is_written(client, account):
    before = _people_count(client, account)
    response = client.post(
        "/api/v1/users",
        headers=account.admin.headers,
        json={
            "email": "not-an-address",
            "name": "x" * 201,
            "roles": ["wizard"],
            "password": 12345,
            "shoe_size": 44,
        },
    )
    body = _assert_problem(response, 422, "validation_failed")
    assert set(body["errors"]) == {"email", "name", "roles.0", "password", "shoe_size"}
    assert _people_count(client, account) == before


def test_domain_rules_are_422s_too(client, account):
    response = client.post(
        "/api/v1/users",
        headers=account.admin.headers,
        json={"email": "a@b.example", "name": "A", "roles": ["end_user"], "time_zone": "Mars/Base"},
    )
    assert _assert_problem(response, 422)["errors"] == {
        "time_zone": ["unknown time zone 'Mars/Base': use an IANA name such as Europe/Amsterdam"]
    }


def test_a_legacy_time_zone_stored_before_may_be_sent_back_unchanged(app, client, account):
    """Before zones had to be IANA names, ``localtime`` was taken: a form or a client that
    sends back what it read must not fail on it; changing to another such name does."""
    from sqlalchemy import text

    from account_node.db import db

    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            text("UPDATE people SET time_zone = 'localtime' WHERE id = :p"),
            {"p": account.end_user.id},
        )
    path, admin = f"/api/v1/users/{account.end_user.id}", account.admin.headers
    person = client.get(path, headers=admin).get_json()
    same = {"name": "Renamed", "time_zone": person["time_zone"]}
    assert client.patch(path, headers=admin, json=same).status_code == 200
    other = client.patch(path, headers=admin, json={"time_zone": "posixrules"})
    assert _assert_problem(other, 422)["errors"]["time_zone"]


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "posix/Europe/Paris"])
def test_a_persons_time_zone_is_an_iana_name_as_a_calendars_is(client, account, zone):
    """Files ZoneInfo loads that name no place, or a host's own setting (``localtime``
    means another zone on another node): refused for people as for calendars."""
    response = client.patch(
        f"/api/v1/users/{account.end_user.id}",
        headers=account.admin.headers,
        json={"time_zone": zone},
    )
    assert _assert_problem(response, 422)["errors"]["time_zone"][0].startswith(
        f"unknown time zone {zone!r}"
    )


def test_a_duplicate_email_is_refused_without_a_second_row(client, account):
    body = {"email": account.specialist.email, "name": "Twin", "roles": ["specialist"]}
    response = client.post("/api/v1/users", headers=account.admin.headers, json=body)
    assert "email" in _assert_problem(response, 422)["errors"]


def test_a_body_over_the_limit_is_a_413(app, client, account):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post(
        "/api/v1/teams",
        headers={**account.admin.headers, "Content-Type": "application/json"},
        data='{"name": "' + "x" * limit + '"}',
    )
    _assert_problem(response, 413)


def test_an_unknown_path_is_a_404_problem(client):
    _assert_problem(client.get("/api/v1/nothing-here"), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/v1//users", "/api/v1/users//", "//api/v1/users"])
def test_a_path_with_an_empty_segment_names_nothing(client, account, path):
    """Not a 308 redirect to another path, its Location built from the caller's Host."""
    response = client.get(path, headers={**account.admin.headers, "Host": "evil.example"})
    _assert_problem(response, 404)
    assert "Location" not in response.headers


def test_a_wrong_method_is_a_405_problem_that_keeps_allow(client):
    response = client.put("/api/v1/me")
    _assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_an_unknown_token_is_a_401_problem(client):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer tdp_nope_x_y"})
    _assert_problem(response, 401, "invalid_token")


def test_a_revoked_token_stops_working_at_once(client, account):
    issued = client.post("/api/v1/me/tokens", headers=account.end_user.headers, json={"name": "x"})
    token = issued.get_json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    client.delete(f"/api/v1/me/tokens/{token['id']}", headers=headers)
    _assert_problem(client.get("/api/v1/me", headers=headers), 401, "invalid_token")


def test_a_bad_cursor_is_a_422_naming_the_cursor(client, account):
    response = client.get("/api/v1/users?cursor=garbage", headers=account.admin.headers)
    assert "cursor" in _assert_problem(response, 422)["errors"]


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/requests", "/api/v1/audit"])
def test_a_query_parameter_no_route_takes_is_a_422_naming_it(client, account, path):
    """A typo (``stauts``) was ignored: the answer was every row, as if filtered."""
    response = client.get(f"{path}?stauts=open", headers=account.admin.headers)
    body = _assert_problem(response, 422, "validation_failed")
    assert list(body["errors"]) == ["stauts"]


def test_a_number_past_what_its_column_holds_is_a_422_naming_it(client, account):
    """PostgreSQL's integer is 32 bits: 2**31 was the database's refusal, naming nothing."""
    response = client.get("/api/v1/audit?before_seq=2147483648", headers=account.admin.headers)
    assert list(_assert_problem(response, 422)["errors"]) == ["before_seq"]


def test_a_float_where_an_integer_belongs_is_refused(client, account):
    response = client.post(
        "/api/v1/me/tokens", headers=account.admin.headers, json={"name": "x", "days": 2.6e-42}
    )
    assert "days" in _assert_problem(response, 422)["errors"]


def test_an_unexpected_error_is_a_500_problem_without_internals(app, client, account, monkeypatch):
    from account_node.identity import service

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service.Teams, "create", explode)
    response = client.post("/api/v1/teams", headers=account.admin.headers, json={"name": "T"})
    body = _assert_problem(response, 500, "internal_error")
    assert "secret" not in body["detail"]


@pytest.mark.parametrize("state", ["40P01", "40001"], ids=["deadlock", "serialization"])
def test_a_transaction_that_gave_way_is_a_409_to_retry(client, account, monkeypatch, state):
    """PostgreSQL ends one of two transactions that wait on each other: the caller's
    change was not saved and may simply be sent again; not a 500."""
    from sqlalchemy.exc import OperationalError

    from account_node.identity import service

    class GaveWay(Exception):
        sqlstate = state

    def gave_way(*args, **kwargs):
        raise OperationalError("UPDATE api_tokens ...", {}, GaveWay("deadlock detected"))

    monkeypatch.setattr(service.Teams, "create", gave_way)
    response = client.post("/api/v1/teams", headers=account.admin.headers, json={"name": "T"})
    body = _assert_problem(response, 409, "concurrent_change")
    assert "Try again" in body["detail"] and "api_tokens" not in body["detail"]


def test_the_last_admin_cannot_be_demoted(client, account):
    response = client.patch(
        f"/api/v1/users/{account.admin.id}",
        headers=account.admin.headers,
        json={"roles": ["auditor"]},
    )
    _assert_problem(response, 409, "conflict")


# A NUL character: PostgreSQL cannot store one in text, so no field may hold one, on
# either database; it is refused at the edge, before any view reads or writes.

NUL = ["must not contain a NUL character"]


def _team_names(client, account) -> list[str]:
    body = client.get("/api/v1/teams", headers=account.admin.headers).get_json()
    return [team["name"] for team in body["items"]]


def test_a_nul_in_a_json_string_is_a_422_naming_the_field_and_nothing_is_written(client, account):
    before = _team_names(client, account)
    response = client.post(
        "/api/v1/teams",
        headers=account.admin.headers,
        json={"name": "Desk\x00", "member_ids": [account.specialist.id, "x\x00"]},
    )
    assert _assert_problem(response, 422, "validation_failed")["errors"] == {
        "name": NUL,
        "member_ids.1": NUL,
    }
    assert _team_names(client, account) == before


def test_a_nul_deep_in_the_body_is_named_by_its_path_and_in_a_key_by_its_object(client, account):
    calendar = {"timezone": "UTC", "weekly": {"mon": [["09:00", "17:00\x00"]]}}
    response = client.post(
        "/api/v1/calendars/preview",
        headers=account.end_user.headers,
        json={"calendar": calendar, "start": "2026-01-05T09:00:00Z", "seconds": 60},
    )
    assert _assert_problem(response, 422)["errors"] == {"calendar.weekly.mon.0.1": NUL}
    response = client.post(
        "/api/v1/calendars/preview",
        headers=account.end_user.headers,
        json={"calendar": {"time\x00zone": "UTC"}, "start": "2026-01-05T09:00:00Z"},
    )
    assert _assert_problem(response, 422)["errors"] == {"calendar": NUL}


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(client, account):
    response = client.post(
        "/api/v1/teams", headers=account.admin.headers, json={"name": "C:\\u0000 share"}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["name"] == "C:\\u0000 share"


# A lone surrogate (``"\\ud800"`` in JSON) encodes no character: no UTF-8 text, so no
# database, can hold it. A pair of them is one character beyond the BMP, as many encoders
# escape an emoji, and is welcome.

LONE = ["must not contain a lone surrogate (\\ud800 to \\udfff): it encodes no character"]


def test_a_lone_surrogate_in_a_json_string_is_a_422_naming_the_field(client, account):
    before = _team_names(client, account)
    response = client.post(
        "/api/v1/teams",
        headers=account.admin.headers,
        data='{"name": "Desk \\ud800", "description": "tail \\uDC00", "member_ids": []}',
        content_type="application/json",
    )
    assert _assert_problem(response, 422, "validation_failed")["errors"] == {
        "name": LONE,
        "description": LONE,
    }
    assert _team_names(client, account) == before


def test_a_surrogate_pair_is_the_character_it_encodes(client, account):
    response = client.post(
        "/api/v1/teams",
        headers=account.admin.headers,
        data='{"name": "Desk \\ud83d\\ude00"}',
        content_type="application/json",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["name"] == "Desk \U0001f600"


def test_json_the_parser_reads_past_utf_8_is_looked_at_as_it_reads_it(client, account):
    """Python's parser reads a surrogate spelled in bytes that are no UTF-8, and JSON in
    UTF-16: endpoints that read the body with ``request.get_json`` (the federation ones)
    would see a lone surrogate, or a NUL, that no escape showed. The guard reads as they do."""
    before = _team_names(client, account)
    for body, errors in (
        (b'{"name": "Desk \xed\xa0\x80", "member_ids": []}', {"name": LONE}),
        ('{"name": "Desk \\u0000", "member_ids": []}'.encode("utf-16"), {"name": NUL}),
    ):
        response = client.post(
            "/api/v1/teams",
            headers=account.admin.headers,
            data=body,
            content_type="application/json",
        )
        assert _assert_problem(response, 422, "validation_failed")["errors"] == errors
    assert _team_names(client, account) == before


def test_a_nul_in_a_query_argument_is_a_422_naming_it(client, account):
    for path, name in (
        ("/api/v1/requests?q=a%00b", "q"),
        ("/api/v1/users?cursor=a%00b", "cursor"),
        ("/api/v1/audit?action=team.create%00", "action"),
    ):
        response = client.get(path, headers=account.admin.headers)
        assert _assert_problem(response, 422)["errors"] == {name: NUL}, path


def test_a_path_segment_with_a_nul_names_nothing(client, account):
    team = client.post("/api/v1/teams", headers=account.admin.headers, json={"name": "NOC"})
    for method, path in (
        ("get", "/api/v1/requests/a%00b"),
        ("get", "/api/v1/teams/a%00b"),
        ("delete", f"/api/v1/teams/{team.get_json()['id']}/members/a%00b"),
        ("get", "/api/v1/cis/%00"),
    ):
        response = getattr(client, method)(path, headers=account.admin.headers)
        _assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(
    "key",
    [
        ["2026-01-05T09:00:00+00:00", "x\x00y"],  # a NUL, which PostgreSQL cannot store
        ["2026-01-05T09:00:00+00:00", "x\ud800"],  # a lone surrogate, which no text holds
        ["0001-01-01T00:00:00+01:00", "x"],  # valid ISO 8601, but the year 0 in UTC
        ["9999-12-31T23:59:59-01:00", "x"],  # and the year 10000
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/requests", "/api/v1/cis", "/api/v1/users"])
def test_a_cursor_hiding_what_the_database_cannot_take_is_refused_like_any_forged_one(
    client, account, key, path
):
    import base64
    import json

    cursor = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
    response = client.get(path, headers=account.admin.headers, query_string={"cursor": cursor})
    assert _assert_problem(response, 422)["errors"] == {"cursor": ["invalid cursor"]}


def test_a_value_the_database_refuses_is_a_422_without_internals(client, account, monkeypatch):
    from sqlalchemy.exc import DataError

    from account_node.identity import service

    def refused(*args, **kwargs):
        raise DataError("INSERT INTO teams ...", {}, Exception("secret: cannot store that"))

    monkeypatch.setattr(service.Teams, "create", refused)
    response = client.post("/api/v1/teams", headers=account.admin.headers, json={"name": "T"})
    body = _assert_problem(response, 422, "validation_failed")
    assert "secret" not in response.get_data(as_text=True)
    assert body["detail"] == "A value in the request cannot be stored; nothing was saved."


# People named in a body are fields: one not of this account is a 422 naming the field,
# as for any other id in a body (a 404 is for the path's own resource).


def test_a_team_with_an_unknown_member_is_a_422_naming_that_member_and_is_not_created(
    app, client, account
):
    theirs = make_account(app)
    before = _team_names(client, account)
    response = client.post(
        "/api/v1/teams",
        headers=account.admin.headers,
        json={"name": "NOC", "member_ids": [account.specialist.id, "nope", theirs.specialist.id]},
    )
    assert _assert_problem(response, 422, "validation_failed")["errors"] == {
        "member_ids.1": ["no such person in this account"],
        "member_ids.2": ["no such person in this account"],
    }
    assert _team_names(client, account) == before


def test_adding_an_unknown_person_to_a_team_is_a_422_naming_person_id(app, client, account):
    theirs = make_account(app)
    team = client.post("/api/v1/teams", headers=account.admin.headers, json={"name": "NOC"})
    path = f"/api/v1/teams/{team.get_json()['id']}/members"
    for person_id in ("nope", theirs.specialist.id):
        response = client.post(path, headers=account.admin.headers, json={"person_id": person_id})
        assert _assert_problem(response, 422)["errors"] == {
            "person_id": ["no such person in this account"]
        }
    members = client.get(path.removesuffix("/members"), headers=account.admin.headers)
    assert members.get_json()["members"] == []


def test_a_team_names_each_member_once_however_often_the_list_repeats_them(client, account):
    specialist = account.specialist.id
    response = client.post(
        "/api/v1/teams",
        headers=account.admin.headers,
        json={"name": "NOC", "member_ids": [specialist, specialist]},
    )
    assert response.status_code == 201
    assert [m["id"] for m in response.get_json()["members"]] == [specialist]


def test_a_team_created_with_more_members_than_one_call_takes_is_a_422(client, account):
    response = client.post(
        "/api/v1/teams",
        headers=account.admin.headers,
        json={"name": "NOC", "member_ids": [account.specialist.id] * 501},
    )
    assert "member_ids" in _assert_problem(response, 422, "validation_failed")["errors"]


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],
    ids=["year-0-in-utc", "year-10000-in-utc"],
)
@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
def test_a_moment_outside_the_years_1_to_9999_in_utc_is_a_422_naming_it(app, client, moment, field):
    """Valid ISO 8601, but no datetime holds its moment: it used to fail at the write."""
    desk = build_desk(app, client)
    body = {"service_id": desk.service, "name": "Edge", "team_id": desk.team, field: moment}
    created = desk.post("/api/v1/offerings", body)
    assert _assert_problem(created, 422, "validation_failed")["errors"] == {
        field: ["must fall within the years 1 to 9999 in UTC"]
    }
    changed = desk.client.patch(
        f"/api/v1/offerings/{desk.offering}",
        json={field: moment},
        headers=desk.account.admin.headers,
    )
    assert set(_assert_problem(changed, 422, "validation_failed")["errors"]) == {field}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_a_415_and_changes_nothing(client, account, content_type):
    """webargs reads a body of another type as no body at all: this PATCH used to answer
    200 having renamed nobody."""
    me = account.admin
    headers = {**me.headers, **({"Content-Type": content_type} if content_type else {})}
    response = client.patch("/api/v1/me", headers=headers, data='{"name": "Renamed"}')
    body = _assert_problem(response, 415, "unsupported_media_type")
    assert "application/json" in body["detail"]
    assert client.get("/api/v1/me", headers=me.headers).get_json()["name"] != "Renamed"


def test_a_key_rotation_asked_in_text_plain_to_treat_the_key_as_compromised_does_nothing(
    client, account
):
    """Read as no body, it rotated the key as uncompromised: announced, not revoked."""
    headers = {**account.admin.headers, "Content-Type": "text/plain"}
    response = client.post("/api/v1/keys/rotate", headers=headers, data='{"compromised": true}')
    _assert_problem(response, 415, "unsupported_media_type")


def test_field_errors_from_the_schema_and_from_the_services_are_one_problem_type(client, account):
    """One type, one title (RFC 9457 section 3.1.3), whichever layer found the error."""
    from_schema = client.post("/api/v1/users", headers=account.admin.headers, json={"email": 5})
    from_service = client.post("/api/v1/teams", headers=account.admin.headers, json={"name": "   "})
    first = _assert_problem(from_schema, 422, "validation_failed")
    second = _assert_problem(from_service, 422, "validation_failed")
    assert (first["type"], first["title"]) == (second["type"], second["title"])


def test_deleting_a_team_that_routes_an_offering_is_a_409_saying_why_and_removes_nothing(
    app, client
):
    desk = build_desk(app, client)
    members = desk.get(f"/api/v1/teams/{desk.team}").get_json()["members"]
    response = desk.client.delete(f"/api/v1/teams/{desk.team}", headers=desk.account.admin.headers)
    body = _assert_problem(response, 409, "team_in_use")
    assert "route them to another team first" in body["detail"]
    assert desk.get(f"/api/v1/teams/{desk.team}").get_json()["members"] == members


def test_an_account_proposing_a_trust_to_itself_is_a_422_naming_the_account(client, account):
    """Refused before any call: it was sent to its own node, which declined (a 502)."""
    headers = account.admin.headers
    invitation = client.post("/api/v1/trusts/invitations", headers=headers).get_json()
    proposal = {k: invitation[k] for k in ("node_url", "account", "fingerprint", "code")}
    response = client.post("/api/v1/trusts", headers=headers, json=proposal)
    assert set(_assert_problem(response, 422, "validation_failed")["errors"]) == {"account"}
    assert client.get("/api/v1/trusts", headers=headers).get_json()["items"] == []


def test_a_cursor_in_letters_no_cursor_has_is_a_422_naming_it(client, account):
    response = client.get(
        "/api/v1/requests", headers=account.admin.headers, query_string={"cursor": "\u00e4" * 10}
    )
    assert set(_assert_problem(response, 422)["errors"]) == {"cursor"}
