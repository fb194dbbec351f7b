"""A trusting node's list page is untrusted input: its shape is checked before use."""

from __future__ import annotations

import copy

import pytest
from marshmallow import ValidationError

from services.visibility.schemas import Invalid, SharedEvent, check_shared_page

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
        (("allowed_transitions",), ["../admin"]),  # a move goes into a form: a token
        (("sla", "response", "target_minutes"), -5),
        (("sla", "resolution", "used_seconds"), 10**300),  # a count, not a crash later
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


def test_a_request_on_an_offering_not_asked_for_is_refused():
    """The offering decides who here may see the request (its routing team): a peer
    may not slip another offering's request onto a page asked for one."""
    other = {**ITEM, "id": "r2", "offering": "o2"}
    with pytest.raises(Invalid, match="not asked for"):
        check_shared_page({"items": [ITEM, other]}, offerings=["o1"])
    assert len(check_shared_page({"items": [ITEM, other]}, offerings=["o1", "o2"])["items"]) == 2


def test_a_request_sent_twice_on_one_page_is_refused():
    with pytest.raises(Invalid, match="twice"):
        check_shared_page({"items": [ITEM, {**ITEM, "urgency_at": "2026-12-03T12:00:00+00:00"}]})


EVENT = {"seq": 2, "at": "2026-12-02T08:05:00+00:00", "kind": "status", "public": True,
         "actor": "Eve <eve@acme.test>", "body": "",
         "data": {"from": "new", "to": "assigned"}}  # fmt: skip


def test_an_events_data_is_short_texts_under_short_names():
    assert SharedEvent().load(EVENT)["data"] == {"from": "new", "to": "assigned"}
    assert SharedEvent().load({**EVENT, "data": {"from": None}})["data"] == {"from": None}


@pytest.mark.parametrize(
    "data",
    [
        {"from": 1, "to": 2},  # pages label these: a number broke the request's page
        {"clock": {"nested": "object"}},
        {"from": "x" * 301},
        {f"key{i}": "v" for i in range(11)},
    ],
)
def test_an_events_data_of_any_other_shape_is_refused(data):
    with pytest.raises(ValidationError):
        SharedEvent().load({**EVENT, "data": data})
