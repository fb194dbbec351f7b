"""The audit hash chain, as a pure function over plain events.

An event's hash is SHA-256 over the RFC 8785 canonical JSON of its hashed fields, so it
never changes for a stored event; ``verify_chain`` names the first link that does not hold
whether an event was changed, removed, reordered or cut off the tail.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from account_node.audit.chain import HASHED_FIELDS, ChainReport, event_hash, verify_chain
from account_node.audit.models import GENESIS

FIRST_EVENT = {
    "account_id": "acme",
    "seq": 1,
    "at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    "actor_id": "p1",
    "actor_account_id": "acme",
    "actor_name": "Ada <ada@acme.test>",
    "vouched_by": None,
    "action": "team.create",
    "target_type": "team",
    "target_id": "t1",
    "before": None,
    "after": {"name": "NOC"},
    "prev_hash": GENESIS,
}
# RFC 8785: keys sorted, no whitespace; "at" in UTC with microseconds and a Z.
FIRST_EVENT_CANONICAL = (
    b'{"account_id":"acme","action":"team.create","actor_account_id":"acme","actor_id":"p1",'
    b'"actor_name":"Ada <ada@acme.test>","after":{"name":"NOC"},'
    b'"at":"2026-01-05T09:00:00.000000Z","before":null,"prev_hash":"' + GENESIS.encode() + b'",'
    b'"seq":1,"target_id":"t1","target_type":"team","vouched_by":null}'
)
FIRST_EVENT_HASH = "9dcf0ebb721851530cb90bd42e384d320bdf97f79d14c6f59a8262d431d35446"


def chain(length: int) -> list[dict]:
    """A well-formed chain of ``length`` events, each with its ``hash``."""
    events, previous = [], GENESIS
    for seq in range(1, length + 1):
        event = {
            **FIRST_EVENT,
            "seq": seq,
            "at": FIRST_EVENT["at"] + timedelta(minutes=seq),
            "target_id": f"t{seq}",
            "after": {"name": f"Team {seq}"},
            "prev_hash": previous,
        }
        event["hash"] = previous = event_hash(event)
        events.append(event)
    return events


def head_of(events: list[dict]) -> tuple[int, str]:
    return events[-1]["seq"], events[-1]["hash"]


def rehash_from(events: list[dict], index: int) -> None:
    """Recompute every hash from ``index`` on, as an intruder who rewrites history would."""
    previous = events[index - 1]["hash"] if index else GENESIS
    for event in events[index:]:
        event["prev_hash"] = previous
        event["hash"] = previous = event_hash(event)


# event_hash


def test_the_hash_is_sha256_of_the_canonical_json_of_the_hashed_fields():
    assert hashlib.sha256(FIRST_EVENT_CANONICAL).hexdigest() == FIRST_EVENT_HASH
    assert event_hash(FIRST_EVENT) == FIRST_EVENT_HASH


def test_the_hash_ignores_fields_outside_the_chain():
    stored = {**FIRST_EVENT, "id": 42, "hash": "anything", "note": "not hashed"}
    assert event_hash(stored) == FIRST_EVENT_HASH


def test_the_hash_does_not_depend_on_key_order_or_the_moments_offset():
    reordered = dict(reversed(list(FIRST_EVENT.items())))
    reordered["at"] = FIRST_EVENT["at"].astimezone(timezone(timedelta(hours=-8)))
    reordered["after"] = dict(reversed(list({"b": 1, "name": "NOC"}.items())))
    original = {**FIRST_EVENT, "after": {"name": "NOC", "b": 1}}
    assert event_hash(reordered) == event_hash(original)


@pytest.mark.parametrize("name", [f for f in HASHED_FIELDS if f not in ("at", "seq")])
def test_changing_any_hashed_field_changes_the_hash(name):
    changed = {**FIRST_EVENT, name: {"changed": True}}
    assert event_hash(changed) != FIRST_EVENT_HASH


def test_a_microsecond_or_a_sequence_number_changes_the_hash():
    later = {**FIRST_EVENT, "at": FIRST_EVENT["at"] + timedelta(microseconds=1)}
    assert event_hash(later) != FIRST_EVENT_HASH
    assert event_hash({**FIRST_EVENT, "seq": 2}) != FIRST_EVENT_HASH


def test_the_hash_is_64_lowercase_hex_digits():
    assert len(FIRST_EVENT_HASH) == 64 and set(FIRST_EVENT_HASH) <= set("0123456789abcdef")


# verify_chain


def test_an_intact_chain_with_its_recorded_head_is_ok():
    events = chain(5)
    report = verify_chain(events, head_of(events))
    assert report == ChainReport(True, 5, 5, events[-1]["hash"])
    assert report.as_dict() == {
        "ok": True,
        "events": 5,
        "head_seq": 5,
        "head_hash": events[-1]["hash"],
        "first_broken_seq": None,
        "reason": None,
    }


def test_an_empty_chain_with_a_genesis_head_is_ok():
    assert verify_chain([], (0, GENESIS)) == ChainReport(True, 0, 0, GENESIS)


def test_verification_accepts_any_iterable_of_events():
    events = chain(3)
    assert verify_chain(iter(events), head_of(events)).ok


@pytest.mark.parametrize("seq", [1, 3, 5])
def test_a_modified_event_is_the_first_broken_link(seq):
    events = chain(5)
    events[seq - 1]["after"] = {"name": "Mallory's team"}
    report = verify_chain(events, (5, chain(5)[-1]["hash"]))
    assert (report.ok, report.first_broken_seq) == (False, seq)
    assert report.reason == "event content does not match its hash"
    assert report.head_seq == seq - 1  # the last event that still verified


def test_a_modified_and_rehashed_event_breaks_the_link_after_it():
    events = chain(5)
    events[2]["actor_name"] = "Mallory"
    events[2]["hash"] = event_hash(events[2])
    report = verify_chain(events, (5, chain(5)[-1]["hash"]))
    assert (report.first_broken_seq, report.reason) == (4, "previous-hash link does not match")


def test_a_chain_that_does_not_start_at_genesis_is_broken_at_its_first_event():
    events = chain(3)
    events[0]["prev_hash"] = "f" * 64
    report = verify_chain(events)
    assert (report.first_broken_seq, report.reason) == (1, "previous-hash link does not match")


@pytest.mark.parametrize(("removed", "first_broken"), [(0, 1), (1, 2), (3, 4)])
def test_a_removed_event_is_a_gap_at_its_sequence_number(removed, first_broken):
    events = chain(5)
    head = head_of(events)
    del events[removed]
    report = verify_chain(events, head)
    assert (report.ok, report.first_broken_seq) == (False, first_broken)
    assert report.reason == f"event {first_broken} is missing"


def test_a_reordered_chain_is_broken_where_the_order_first_differs():
    events = chain(5)
    head = head_of(events)
    events[1], events[3] = events[3], events[1]
    report = verify_chain(events, head)
    assert (report.ok, report.first_broken_seq) == (False, 2)


def test_a_duplicated_event_is_found():
    events = chain(4)
    events.insert(2, copy.deepcopy(events[1]))
    assert verify_chain(events).first_broken_seq == 3


def test_a_truncated_tail_is_found_only_through_the_recorded_head():
    events = chain(5)
    head = head_of(events)
    report = verify_chain(events[:3], head)
    assert (report.ok, report.first_broken_seq) == (False, 4)
    assert report.reason == "chain ends before its recorded head"
    assert report.head_seq == 3
    assert verify_chain(events[:3]).ok  # without the head a shorter chain looks whole


def test_a_chain_cut_to_nothing_is_found_through_the_recorded_head():
    events = chain(2)
    assert verify_chain([], head_of(events)).first_broken_seq == 1


def test_a_history_rewritten_and_rehashed_to_the_end_disagrees_with_the_head_at_the_head():
    events = chain(5)
    head = head_of(events)
    events[2]["after"] = {"name": "Mallory's team"}
    rehash_from(events, 2)
    report = verify_chain(events, head)
    assert not report.ok
    # All five events are there; only the recorded head (seq 5) can disagree.
    assert report.first_broken_seq == 5
    assert "ends before" not in (report.reason or "")


def test_events_appended_beyond_the_recorded_head_are_broken_from_the_first_of_them():
    events = chain(5)
    report = verify_chain(events, head_of(events[:3]))
    assert not report.ok
    assert report.first_broken_seq == 4  # the first event the recorded head does not cover


@pytest.mark.parametrize("seq", [0, -7])
def test_an_event_numbered_below_1_is_a_break_at_its_own_number(seq):
    """A chain begins at 1: a walk that started there never saw an event stored lower,
    which any role allowed to append could add, so it comes first and breaks first."""
    events = chain(3)
    forged = {**events[0], "seq": seq, "actor_name": "Mallory"}
    forged["hash"] = event_hash(forged)
    report = verify_chain([forged, *events], head_of(events))
    assert (report.ok, report.first_broken_seq) == (False, seq)
    assert report.reason == "event numbered below 1"
    assert (report.head_seq, report.head_hash) == (0, GENESIS)  # nothing verified before it
