"""Regressions found by a second pair of eyes on the kernel, each pinned by a test."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from account_node.audit.chain import event_hash, verify_chain
from account_node.audit.models import GENESIS
from account_node.errors import ValidationFailed
from account_node.identity.tokens import issue_token_secret, parse_token
from account_node.pagination import decode_cursor
from account_node.settings import SettingsError, load_settings


def test_a_token_with_a_trailing_newline_is_not_parsed():
    _, plaintext = issue_token_secret("acme", "p1")
    assert parse_token(plaintext) is not None
    assert parse_token(plaintext + "\n") is None


def test_a_deeply_nested_cursor_is_a_validation_error_not_a_crash():
    nested = base64.urlsafe_b64encode(b"[" * 100_000).decode().rstrip("=")
    with pytest.raises(ValidationFailed):
        decode_cursor(nested)


@pytest.mark.parametrize(
    ("name", "value"),
    [("LOGIN_MAX_FAILURES", "0"), ("PASSWORD_TIME_COST", "0"), ("FEDERATION_TIMEOUT_SECONDS", "0"),
     ("MAX_CONTENT_LENGTH", "-1"), ("SLA_SWEEP_SECONDS", "-5")],
)  # fmt: skip
def test_a_number_no_node_could_run_with_is_refused(name, value):
    with pytest.raises(SettingsError, match=name.lower()):
        load_settings(environ={f"TRUSTDESK_{name}": value})


def _chain(length: int) -> list[dict]:
    events, previous = [], GENESIS
    for seq in range(1, length + 1):
        event = {
            "account_id": "acme", "seq": seq, "at": datetime(2026, 1, 5, tzinfo=UTC),
            "actor_id": "p1", "actor_account_id": "acme", "actor_name": "Ada",
            "vouched_by": None, "action": "x", "target_type": "t", "target_id": str(seq),
            "before": None, "after": None, "prev_hash": previous,
        }  # fmt: skip
        event["hash"] = previous = event_hash(event)
        events.append(event)
    return events


def test_a_history_rewritten_and_rehashed_to_the_end_breaks_at_the_head():
    events = _chain(4)
    head = (4, events[-1]["hash"])
    events[1]["actor_name"] = "Mallory"
    for i in range(1, 4):  # rehash everything after the change, links and all
        events[i]["prev_hash"] = events[i - 1]["hash"]
        events[i]["hash"] = event_hash(events[i])
    report = verify_chain(events, head)
    assert (report.ok, report.first_broken_seq) == (False, 4)


def test_events_beyond_the_recorded_head_are_broken_from_the_first_of_them():
    events = _chain(5)
    report = verify_chain(events, (3, events[2]["hash"]))
    assert (report.ok, report.first_broken_seq) == (False, 4)
