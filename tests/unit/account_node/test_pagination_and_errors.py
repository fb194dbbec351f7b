"""Cursors are opaque and checked; problems follow RFC 9457 with a stable code."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from account_node.errors import NotFound, ValidationFailed, problem
from account_node.pagination import decode_cursor, encode_cursor


def test_a_cursor_round_trips():
    moment = datetime(2026, 1, 5, 9, 30, 15, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, "abc")) == (moment, "abc")


@pytest.mark.parametrize("cursor", ["", "garbage", "W10", "WyIyMDI2LTAxLTA1IiwgMV0"])
def test_a_cursor_the_server_did_not_issue_is_a_validation_error(cursor):
    with pytest.raises(ValidationFailed) as caught:
        decode_cursor(cursor)
    assert "cursor" in caught.value.errors


def test_a_problem_has_the_rfc_9457_members_and_a_code():
    body = problem(422, "validation_failed", "Invalid", "bad", instance="/x", errors={"a": ["no"]})
    assert body == {
        "type": "https://trustdesk.dev/problems/validation_failed",
        "title": "Invalid",
        "status": 422,
        "detail": "bad",
        "code": "validation_failed",
        "instance": "/x",
        "errors": {"a": ["no"]},
    }


def test_a_node_error_renders_its_class_code_and_extensions():
    body = NotFound("team 7 not found", hint="check the id").to_problem()
    assert (body["status"], body["code"], body["detail"], body["hint"]) == (
        404,
        "not_found",
        "team 7 not found",
        "check the id",
    )
