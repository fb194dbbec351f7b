"""What makes a create with a used Idempotency-Key a retry of the first, field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.requests.idempotency import Asked
from services.requests.models import Request

RAISED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _first(**changes) -> Request:
    fields = dict(
        requester_id="p-1", subject="Printer on fire", description="Smoke", service_id="s-1",
        offering_id="o-1", ci_id="ci-1", priority="p2", created_at=RAISED, updated_at=RAISED,
    )  # fmt: skip
    return Request(**{**fields, **changes})


def _asked(**changes) -> Asked:
    fields = dict(
        requester_id="p-1", subject="Printer on fire", description="Smoke", service_id=None,
        offering_id="o-1", ci_id="ci-1", priority="p2",
    )  # fmt: skip
    return Asked.of(**{**fields, **changes})


def test_the_same_request_differs_in_nothing():
    assert _asked().differences(_first()) == []


def test_the_subject_is_compared_as_the_create_stores_it_stripped():
    assert _asked(subject="\tPrinter on fire  ").differences(_first()) == []


def test_a_service_left_out_is_the_offerings_and_one_named_must_be_it():
    assert _asked(service_id="s-1").differences(_first()) == []
    assert _asked(service_id="s-2").differences(_first()) == ["service_id"]


def test_without_an_offering_the_service_is_compared_even_when_left_out():
    first = _first(offering_id=None)
    assert _asked(offering_id=None, service_id="s-1").differences(first) == []
    assert _asked(offering_id=None).differences(first) == ["service_id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Scanner on fire"),
        ("description", "Flames"),
        ("ci_id", None),
        ("priority", "p1"),
        ("offering_id", "o-2"),
        ("requester_id", "p-2"),
    ],
)
def test_every_identifying_field_counts(field, value):
    assert _asked(**{field: value}).differences(_first()) == [field]


def test_once_changed_only_what_no_change_touches_is_compared():
    worked = _first(updated_at=RAISED + timedelta(minutes=5), subject="Edited", priority="p1")
    assert _asked(description="Other", ci_id=None).differences(worked) == []
    assert _asked(offering_id="o-2", service_id="s-2").differences(worked) == [
        "service_id",
        "offering_id",
    ]
