"""The request status machine, as a table."""

from __future__ import annotations

import pytest

from services.requests.lifecycle import (
    FINAL,
    TRANSITIONS,
    allowed_transitions,
    can_move,
    is_reopen,
)
from services.requests.models import STATUSES


def test_every_status_has_its_transitions_and_only_known_targets():
    assert set(TRANSITIONS) == set(STATUSES)
    for targets in TRANSITIONS.values():
        assert targets <= set(STATUSES)


@pytest.mark.parametrize("status", sorted(FINAL))
def test_closed_and_cancelled_are_final(status):
    assert allowed_transitions(status, staff=True) == []


@pytest.mark.parametrize(
    ("current", "target", "staff", "allowed"),
    [
        ("new", "in_progress", True, True),
        ("new", "closed", True, False),  # closing needs a resolution first
        ("new", "cancelled", False, True),  # a requester may withdraw
        ("new", "in_progress", False, False),  # but not work the request
        ("waiting_for_customer", "in_progress", True, True),
        ("resolved", "in_progress", False, True),  # the requester reopens
        ("resolved", "closed", False, True),  # or confirms
        ("resolved", "cancelled", True, False),
        ("in_progress", "new", True, False),
    ],
)
def test_transition_table(current, target, staff, allowed):
    assert can_move(current, target, staff=staff) is allowed


def test_a_reopen_is_leaving_resolved_for_an_open_status():
    assert is_reopen("resolved", "in_progress")
    assert not is_reopen("resolved", "closed")
    assert not is_reopen("in_progress", "resolved")
