"""Problems are RFC 9457 documents with a stable ``code`` and, for invalid input, the
``errors`` naming each field; every ``NodeError`` renders itself as one."""

from __future__ import annotations

import pytest

from account_node.errors import (
    PROBLEM_BASE,
    BadRequest,
    Conflict,
    Forbidden,
    NodeError,
    NotAuthenticated,
    NotFound,
    ScopeViolation,
    ServiceUnavailable,
    UnsafeDatabaseRole,
    ValidationFailed,
    problem,
)
from account_node.identity.store import PersonNotFound


def test_a_minimal_problem_has_exactly_the_rfc_9457_members_and_a_code():
    body = problem(409, "conflict", "Conflict", "the team exists")
    assert body == {
        "type": "https://trustdesk.dev/problems/conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "the team exists",
        "code": "conflict",
    }


def test_instance_errors_and_extensions_are_added_when_given():
    body = problem(
        422,
        "validation_failed",
        "Invalid",
        "bad",
        instance="/api/v1/teams",
        errors={"name": ("must not be empty",)},
        retry_after=3,
    )
    assert body["instance"] == "/api/v1/teams"
    assert body["errors"] == {"name": ["must not be empty"]}
    assert body["retry_after"] == 3


def test_empty_errors_and_instance_are_left_out():
    body = problem(400, "bad_request", "Bad request", "no", instance="", errors={})
    assert "instance" not in body and "errors" not in body


def test_the_problem_type_is_the_code_under_the_problem_base():
    assert problem(404, "not_found", "Not found", "x")["type"] == PROBLEM_BASE + "not_found"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NodeError, 500, "internal_error"),
        (ValidationFailed, 422, "validation_failed"),
        (BadRequest, 400, "bad_request"),
        (NotAuthenticated, 401, "not_authenticated"),
        (Forbidden, 403, "forbidden"),
        (NotFound, 404, "not_found"),
        (Conflict, 409, "conflict"),
        (ScopeViolation, 500, "scope_violation"),
        (ServiceUnavailable, 503, "service_unavailable"),
        (UnsafeDatabaseRole, 500, "unsafe_database_role"),
    ],
)
def test_each_error_has_its_stable_status_and_code(error, status, code):
    body = error().to_problem()
    assert (body["status"], body["code"], body["type"]) == (status, code, PROBLEM_BASE + code)
    assert body["title"] == body["detail"] == error.title


def test_without_a_detail_the_title_is_the_detail_and_the_message():
    error = Forbidden()
    assert error.detail == str(error) == "Not allowed"


def test_a_node_error_renders_detail_instance_errors_and_extensions():
    error = ValidationFailed(
        "two fields are wrong",
        errors={"email": ("not a valid e-mail address",), "roles": ["unknown roles x"]},
        hint="see the docs",
    )
    assert error.to_problem(instance="/api/v1/users") == {
        "type": PROBLEM_BASE + "validation_failed",
        "title": "The request has invalid fields",
        "status": 422,
        "detail": "two fields are wrong",
        "code": "validation_failed",
        "instance": "/api/v1/users",
        "errors": {"email": ["not a valid e-mail address"], "roles": ["unknown roles x"]},
        "hint": "see the docs",
    }


def test_a_node_error_without_errors_renders_no_errors_member():
    assert "errors" not in Conflict("taken").to_problem()


def test_a_subclass_refines_the_code_and_keeps_the_status():
    body = PersonNotFound("person 7 not found").to_problem()
    assert (body["status"], body["code"], body["title"]) == (404, "person_not_found", "Not found")
    assert isinstance(PersonNotFound(), NotFound)


def test_the_errors_are_copied_so_later_changes_do_not_leak_into_the_problem():
    fields = {"name": ["must not be empty"]}
    error = ValidationFailed(errors=fields)
    fields["name"].append("added later")
    assert error.to_problem()["errors"] == {"name": ["must not be empty"]}
