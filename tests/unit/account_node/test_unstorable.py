"""Text no database can store: a NUL or a lone surrogate, wherever it hides in JSON, and
however the JSON carries it; a surrogate pair is the character it encodes."""

from __future__ import annotations

import json

import pytest

from account_node.unstorable import (
    NUL_MESSAGE,
    SURROGATE_MESSAGE,
    holds_unstorable,
    may_be_unstorable,
    unstorable_fields,
)


def _holds(raw: bytes) -> bool:
    return holds_unstorable(raw, json.loads(raw))


@pytest.mark.parametrize(
    "raw",
    [
        rb'{"name": "Desk \u0000"}',
        rb'{"name": "high \ud800 alone"}',
        rb'{"name": "high at the end \uD83D"}',
        rb'{"name": "low \udc00 alone"}',
        rb'{"name": "low before high \ude00\ud83d"}',
        rb'{"na\u0000me": "a NUL in a key"}',
        rb'{"\udfff": "a lone surrogate in a key"}',
        rb'{"items": [{"subject": "fine"}, {"subject": ["deep", "\ud800"]}]}',
        rb'["\u0000"]',
        rb'"\udbff"',
    ],
)
def test_a_nul_or_a_lone_surrogate_anywhere_is_unstorable(raw):
    assert _holds(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "Plain desk", "count": 3, "ok": true, "none": null}',
        '{"name": "Zoë at the café 😀"}'.encode(),
        rb'{"name": "an emoji written as its pair \ud83d\ude00"}',
        rb'{"name": "the last pair \udbff\udfff"}',
        rb'{"name": "an escaped backslash, then text: \\u0000 and \\ud800"}',
        rb'{"name": "a control character that is not NUL \u0001"}',
        b"[]",
        b"null",
    ],
)
def test_plain_text_and_surrogate_pairs_are_storable(raw):
    assert not _holds(raw)


def test_raw_surrogate_bytes_are_unstorable_too():
    """Python's parser reads bytes that are no UTF-8 (a surrogate encoded as if it were)
    as the lone surrogate they spell, so the bytes are looked at, not only escapes."""
    raw = b'{"name": "Desk \xed\xa0\x80"}'
    assert json.loads(raw) == {"name": "Desk \ud800"}
    assert _holds(raw)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_json_in_utf_16_or_32_is_looked_at_as_its_parser_reads_it(encoding):
    nul = '{"name": "Desk \\u0000"}'.encode(encoding)
    assert json.loads(nul) == {"name": "Desk \x00"}
    assert _holds(nul)
    assert not _holds('{"name": "Desk"}'.encode(encoding))


def test_plain_utf_8_json_is_not_walked_at_all():
    """The first look is at the bytes: plain JSON costs no walk of its strings."""
    assert not may_be_unstorable('{"items": [{"subject": "Printer jams ✓"}]}'.encode())
    assert may_be_unstorable(rb'{"subject": "\\u0000 is text"}')  # looked at, then fine


def test_each_unstorable_string_is_named_by_its_path_with_why():
    data = json.loads(
        rb'{"name": "\u0000", "targets": {"p1": "\ud800"}, "ids": ["ok", "\udc00"],'
        rb' "meta": {"bad\u0000key": 1}}'
    )
    assert unstorable_fields(data) == [
        ("name", NUL_MESSAGE),
        ("meta", NUL_MESSAGE),
        ("targets.p1", SURROGATE_MESSAGE),
        ("ids.1", SURROGATE_MESSAGE),
    ]
    assert unstorable_fields("\x00") == [("body", NUL_MESSAGE)]
    assert unstorable_fields(data, most=1) == [("name", NUL_MESSAGE)]


def test_json_nested_far_past_the_recursion_limit_is_walked_all_the_same():
    deep: object = "\ud800"
    for _ in range(5000):
        deep = [deep]
    assert unstorable_fields(deep) == [(".".join(["0"] * 5000), SURROGATE_MESSAGE)]
