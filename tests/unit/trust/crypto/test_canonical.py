"""Canonical JSON (RFC 8785): the RFC's own vectors, and refusal of what JSON cannot carry."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trust.crypto.canonical import MAX_DEPTH, CanonicalizationError, canonicalize

VECTORS = Path(__file__).parents[3] / "vectors" / "rfc8785"
NUMBERS = json.loads((VECTORS / "numbers.json").read_text())["samples"]
EXAMPLES = {e["name"]: e for e in json.loads((VECTORS / "examples.json").read_text())["examples"]}


def _double(hex_bits: str) -> float:
    return struct.unpack(">d", bytes.fromhex(hex_bits))[0]


@pytest.mark.parametrize(
    "sample", [s for s in NUMBERS if "expected" in s], ids=lambda s: s["ieee754"]
)
def test_numbers_serialize_as_rfc_8785_appendix_b_prints_them(sample):
    assert canonicalize(_double(sample["ieee754"])) == sample["expected"].encode()


@pytest.mark.parametrize(
    "sample", [s for s in NUMBERS if "refused" in s], ids=lambda s: s["refused"]
)
def test_nan_and_infinity_from_appendix_b_are_refused(sample):
    with pytest.raises(CanonicalizationError, match="no JSON form"):
        canonicalize({"value": _double(sample["ieee754"])})


def test_primitive_values_serialize_as_in_rfc_8785_section_3_2_2():
    example = EXAMPLES["rfc8785-3.2.2-values"]
    assert canonicalize(json.loads(example["input"])) == example["expected"].encode("utf-8")


def test_members_sort_by_utf16_code_units_as_in_rfc_8785_section_3_2_3():
    example = EXAMPLES["rfc8785-3.2.3-sorting"]
    canonical = canonicalize(json.loads(example["input"]))
    assert list(json.loads(canonical).values()) == example["expected_member_order"]


def test_whitespace_and_member_order_of_the_input_do_not_matter():
    assert canonicalize({"b": [1, 2], "a": {"y": None, "x": True}}) == canonicalize(
        json.loads('{ "a" : { "x" : true , "y" : null } , "b" : [ 1 , 2 ] }')
    )


def test_output_is_utf8_without_escaping_non_ascii():
    assert canonicalize({"name": "Müller €"}) == '{"name":"Müller €"}'.encode()


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"a": [1, float("nan")]}, "$.a[1]"),
        ({"a": float("-inf")}, "$.a"),
        ({1: "a"}, "$"),
        ({"a": {1, 2}}, "$.a"),
        ({"a": (1, 2)}, "$.a"),
        (b"bytes", "$"),
        ({"big": 2**53 + 1}, "$.big"),
        ({"small": -(2**60) - 1}, "$.small"),
        ({"huge": 10**400}, "$.huge"),
        ("\ud800", "$"),
        ({"\udc00": 1}, "$"),
    ],
)
def test_values_without_an_exact_json_form_are_refused_naming_where(value, where):
    with pytest.raises(CanonicalizationError) as caught:
        canonicalize(value)
    assert str(caught.value).startswith(where + ":")


def test_integers_are_kept_exactly_or_refused_never_rounded():
    assert canonicalize([2**53 - 1, -(2**53 - 1)]) == b"[9007199254740991,-9007199254740991]"
    assert canonicalize([2**53, 10**20]) == b"[9007199254740992,100000000000000000000]"


@given(st.integers())
def test_an_accepted_integer_reads_back_as_itself(number):
    try:
        canonical = canonicalize(number)
    except CanonicalizationError:
        return
    assert json.loads(canonical) == number


def test_nesting_deeper_than_the_limit_is_refused():
    deep: object = "leaf"
    for _ in range(MAX_DEPTH):
        deep = [deep]
    assert canonicalize(deep).startswith(b"[[[")
    with pytest.raises(CanonicalizationError, match="nested deeper"):
        canonicalize([deep])


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_canonical_form_is_a_fixed_point_of_parsing(value):
    canonical = canonicalize(value)
    assert canonicalize(json.loads(canonical)) == canonical
