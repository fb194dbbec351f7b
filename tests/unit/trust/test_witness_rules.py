"""What a witness concludes from a peer's new audit head, given the heads seen before."""

from __future__ import annotations

from dataclasses import dataclass, field

from trust.witness import conflict_of

A, B, C = "a" * 64, "b" * 64, "c" * 64


@dataclass
class Seen:
    """The heads this account witnessed for one peer: seq -> hashes."""

    heads: dict[int, set[str]] = field(default_factory=dict)

    def highest_seq(self, peer: str) -> int | None:
        return max(self.heads, default=None)

    def hashes_at(self, peer: str, seq: int) -> set[str]:
        return self.heads.get(seq, set())


def _head(seq: int, hash_: str, previous: tuple[int, str | None] | None = None) -> dict:
    return {
        "seq": seq,
        "hash": hash_,
        "previous": {"seq": previous[0], "hash": previous[1]} if previous else None,
    }


def test_a_first_head_and_a_chain_that_grew_are_fine():
    assert conflict_of(Seen(), "peer", _head(5, A)) is None
    assert conflict_of(Seen({5: {A}}), "peer", _head(9, B, previous=(5, A))) is None


def test_a_head_below_one_witnessed_means_the_chain_was_cut_short():
    found = conflict_of(Seen({9: {B}}), "peer", _head(7, C))
    assert found and "went back from event 9 to 7" in found


def test_another_hash_for_a_witnessed_number_means_the_history_forked():
    found = conflict_of(Seen({9: {B}}), "peer", _head(9, C))
    assert found and "forked" in found


def test_a_previous_head_that_now_hashes_differently_means_it_was_rewritten():
    found = conflict_of(Seen({5: {A}}), "peer", _head(12, C, previous=(5, B)))
    assert found and "rewritten" in found and "event 5" in found


def test_a_previous_head_never_witnessed_here_proves_nothing_either_way():
    assert conflict_of(Seen({5: {A}}), "peer", _head(12, C, previous=(8, B))) is None


def test_a_previous_head_the_chain_no_longer_holds_means_it_was_cut():
    found = conflict_of(Seen({5: {A}}), "peer", _head(12, C, previous=(5, None)))
    assert found and "event 5" in found and "cut" in found
