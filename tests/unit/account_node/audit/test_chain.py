"""The audit hash chain: any change, gap, reordering or truncation is found and located."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from account_node.audit import chain
from account_node.audit.chain import (
    canonical,
    cut,
    event_hash,
    hash_template,
    json_template,
    verify_chain,
)
from account_node.audit.models import GENESIS


def _chain(length: int) -> list[dict]:
    events, previous = [], GENESIS
    for seq in range(1, length + 1):
        event = {
            "account_id": "acme",
            "seq": seq,
            "at": datetime(2026, 1, 5, 9, seq, tzinfo=UTC),
            "actor_id": "p1",
            "actor_account_id": "acme",
            "actor_name": "Ada <ada@acme.test>",
            "vouched_by": None,
            "action": "team.create",
            "target_type": "team",
            "target_id": f"t{seq}",
            "before": None,
            "after": {"name": f"Team {seq}"},
            "prev_hash": previous,
        }
        event["hash"] = previous = event_hash(event)
        events.append(event)
    return events


def test_an_intact_chain_verifies_up_to_its_head():
    events = _chain(5)
    report = verify_chain(events, (5, events[-1]["hash"]))
    assert report.ok and report.events == 5 and report.first_broken_seq is None


def test_the_hash_does_not_depend_on_key_order_or_offset():
    event = _chain(1)[0]
    shuffled = dict(reversed(list(event.items())))
    shuffled["at"] = event["at"].astimezone()
    assert event_hash(shuffled) == event["hash"]


def test_a_changed_event_is_the_first_broken_link():
    events = _chain(5)
    events[2]["after"] = {"name": "Mallory's team"}
    report = verify_chain(events, (5, events[-1]["hash"]))
    assert (report.ok, report.first_broken_seq) == (False, 3)
    assert "content" in report.reason


def test_a_rehashed_change_breaks_the_next_link():
    events = _chain(5)
    events[2]["actor_name"] = "Mallory"
    events[2]["hash"] = event_hash(events[2])
    report = verify_chain(events, (5, events[-1]["hash"]))
    assert report.first_broken_seq == 4
    assert "previous-hash" in report.reason


def test_a_removed_event_is_a_gap():
    events = _chain(5)
    del events[1]
    assert verify_chain(events, (5, events[-1]["hash"])).first_broken_seq == 2


def test_reordered_events_are_found():
    events = _chain(4)
    events[1], events[2] = events[2], events[1]
    assert verify_chain(events).first_broken_seq == 2


def test_a_truncated_tail_is_found_through_the_recorded_head():
    events = _chain(5)
    head = (5, events[-1]["hash"])
    report = verify_chain(events[:3], head)
    assert (report.ok, report.first_broken_seq) == (False, 4)
    assert verify_chain(events[:3]).ok  # without the head, a shorter chain looks whole


_TEXT = st.text(max_size=12)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


@given(
    actor_name=_TEXT,
    target_id=_TEXT,
    vouched_by=st.none() | _TEXT,
    before=_JSON,
    # An "after" that itself holds prev_hash and seq must not fool the template.
    after=st.one_of(_JSON, st.just({"prev_hash": "", "seq": 0, "z": 1})),
    seq=st.integers(1, 10**12),
    prev_hash=st.text("0123456789abcdef", min_size=64, max_size=64),
)
def test_the_hash_template_finished_with_prev_hash_and_seq_is_the_event_hash(
    actor_name, target_id, vouched_by, before, after, seq, prev_hash
):
    event = {
        **_chain(1)[0],
        "actor_name": actor_name,
        "target_id": target_id,
        "vouched_by": vouched_by,
        "before": before,
        "after": after,
    }
    template = hash_template(event)
    assert template.holes == ("prev_hash", "seq")
    finished = template.fill({"prev_hash": prev_hash, "seq": seq}).encode()
    expected = event_hash({**event, "seq": seq, "prev_hash": prev_hash})
    assert hashlib.sha256(finished).hexdigest() == expected


@given(
    after=st.dictionaries(st.text(max_size=6), _JSON, max_size=4),
    number=st.integers(1, 10**9),
    seq=st.integers(1, 10**12),
    prev_hash=st.text("0123456789abcdef", min_size=64, max_size=64),
)
def test_a_template_with_a_hole_in_after_hashes_and_stores_the_number_the_database_fills_in(
    after, number, seq, prev_hash
):
    """A create appends its audit event in the statement that numbers the request: the
    number is a hole in the event's ``after`` as well as in its hash."""
    event = {**_chain(1)[0], "after": {**after, "number": None}}
    template = hash_template(event, ("number",))
    assert template.holes == ("after.number", "prev_hash", "seq")
    filled = {"after.number": number, "prev_hash": prev_hash, "seq": seq}
    expected = event_hash(
        {**event, "after": {**after, "number": number}, "seq": seq, "prev_hash": prev_hash}
    )
    assert hashlib.sha256(template.fill(filled).encode()).hexdigest() == expected
    stored = json_template(event["after"], ("number",))
    assert json.loads(stored.fill({"after.number": number})) == {**after, "number": number}


def test_content_holding_a_holes_marker_is_refused_not_misplaced(monkeypatch):
    """Holes are marked by a fresh random token (64 bits), so no content made earlier
    can hold it; should some content hold it all the same, the template refuses
    rather than put a value in the wrong place."""
    monkeypatch.setattr(chain.secrets, "token_hex", lambda n: "0" * 2 * n)
    event = {**_chain(1)[0], "actor_name": "~" + "0" * 16 + "p"}
    with pytest.raises(RuntimeError, match="exactly once"):
        hash_template(event)


def test_cutting_at_a_marker_that_is_not_there_exactly_once_is_an_error():
    with pytest.raises(RuntimeError, match="exactly once"):
        cut('{"a":"~x","b":"~x"}', {"a": '"~x"'})
    with pytest.raises(RuntimeError, match="exactly once"):
        cut('{"a":1}', {"a": '"~x"'})


# Every code point, surrogates included (hypothesis leaves those out by default).
_ANY_TEXT = st.text(st.characters(exclude_categories=()))
_ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _ANY_TEXT
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=500)
@given(content=st.dictionaries(st.text(max_size=6), _ANY_JSON, max_size=6))
def test_the_fast_canonical_form_is_byte_for_byte_rfc8785(content):
    """Text of any code point (control characters, quotes, surrogates, beyond the BMP),
    integers past 2**53, floats, tuples and keys beyond ASCII: wherever the fast encoder
    is used it writes what rfc8785 writes, and it raises wherever rfc8785 raises."""
    try:
        expected = rfc8785.dumps(content)
    except rfc8785.CanonicalizationError:
        with pytest.raises(rfc8785.CanonicalizationError):
            canonical(content)
        return
    assert canonical(content) == expected


def test_the_fast_canonical_form_covers_escapes_and_text_beyond_the_bmp(monkeypatch):
    content = {"b": ['"\\\b\f\n\r\t\x00\x1f\x7f\u2028', "é😀\ue000"], "a": 2**53 - 1, "": None}
    expected = rfc8785.dumps(content)
    monkeypatch.setattr(rfc8785, "dumps", None)  # the fast path must not need it
    assert canonical(content) == expected
