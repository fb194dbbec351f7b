"""The shape of a rotation call's body, checked before any key is looked at: a chain of
notices, oldest first, each starting from the key the one before introduced."""

from __future__ import annotations

from typing import Any

import pytest

from trust.errors import FederationRefused
from trust.rotation import MAX_CHAIN, receive_rotation


def _notice(old: str, new: str) -> dict[str, Any]:
    return {"document": {"account": "msp", "old": f"msp#{old}", "new": f"msp#{new}"}}


def _refusal(body: dict[str, Any]) -> str:
    with pytest.raises(FederationRefused) as caught:
        receive_rotation(None, None, body)  # type: ignore[arg-type]  # refused before use
    return str(caught.value.extensions["reason"])


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"notices": []},
        {"notices": {"document": {}}},
        {"notices": ["not a notice"]},
        {"notices": [_notice("k1", "k2")] * (MAX_CHAIN + 1)},
    ],
    ids=["none", "empty", "not-a-list", "not-a-notice", "too-long"],
)
def test_a_body_without_a_chain_of_notices_is_refused(body):
    assert _refusal(body) == "notice_invalid"


@pytest.mark.parametrize(
    "chain",
    [
        [_notice("k1", "k2"), _notice("k3", "k4")],  # a gap: k2 -> k3 is missing
        [_notice("k1", "k2"), _notice("k1", "k3")],  # a fork from k1
        [_notice("k2", "k3"), _notice("k1", "k2")],  # newest first
    ],
    ids=["gap", "fork", "reversed"],
)
def test_a_chain_whose_notices_do_not_follow_each_other_is_refused(chain):
    assert _refusal({"notices": chain}) == "notice_invalid"
