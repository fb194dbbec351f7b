"""A trusting node's list page is untrusted input: its shape is checked before use."""

from __future__ import annotations

import copy

import pytest

from services.visibility.schemas import Invalid, check_shared_page

CLOCK = {"target_minutes": 60, "due": "2026-12-02T10:00:00+00:00",
         "at_risk_at": "2026-12-02T09:45:00+00:00", "used_seconds": 120,
         "state": "on_track", "stopped_at": None, "paused": False}  # fmt: skip
ITEM = {"id": "r1", "reference": "REQ-1", "subject": "Printer", "status": "new",
        "priority": "p2", "offering": "o1", "offering_name": "Workplace",
        "requester": "Eve", "created_at": "2026-12-02T08:00:00+00:00",
        "updated_at": "2026-12-02T08:00:00+00:00", "urgency_at": "2026-12-02T12:00:00+00:00",
        "allowed_transitions": ["assigned"],
        "sla": {"name": "Gold", "source": "offering", "reason": "customer default",
                "response": CLOCK, "resolution": CLOCK}}  # fmt: skip


def test_a_well_formed_page_comes_back_with_its_moments_parsed():
    page = check_shared_page({"items": [ITEM], "next_cursor": None})
    [item] = page["items"]
    assert item["urgency_at"].isoformat() == "2026-12-02T12:00:00+00:00"
    assert item["sla"]["response"]["due"].utcoffset() is not None


def _broken(path: tuple[str, ...], value) -> dict:
    item = copy.deepcopy(ITEM)
    target = item
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return {"items": [item]}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("id",), 7),
        (("id",), "../../../admin/keys"),  # would point the inbox's link at another page
        (("offering",), "off/ering"),
        (("subject",), "x" * 201),
        (("priority",), "p9"),
        (("urgency_at",), "tomorrow"),
        (("urgency_at",), "2026-12-02T12:00:00"),  # no offset: which zone?
        # Valid ISO 8601 whose moments no datetime holds (the years 0 and 10000 in UTC):
        # taken as they were, they broke the pages that showed them.
        (("sla", "response", "due"), "0001-01-01T00:00:00+01:00"),
        (("urgency_at",), "9999-12-31T23:30:00-01:00"),
        (("sla",), "gold"),
        (("sla", "response", "state"), "fine"),
        (("sla", "resolution", "used_seconds"), "120"),
        (("allowed_transitions",), "closed"),
    ],
)
def test_anything_off_shape_is_refused(path, value):
    with pytest.raises(Invalid):
        check_shared_page(_broken(path, value))


def test_a_page_longer_than_asked_for_is_refused():
    with pytest.raises(Invalid):
        check_shared_page({"items": [ITEM] * 3}, limit=2)


@pytest.mark.parametrize("answer", [None, [], {"items": "many"}, {"items": [1]}])
def test_a_page_that_is_not_a_page_is_refused(answer):
    with pytest.raises(Invalid):
        check_shared_page(answer)
