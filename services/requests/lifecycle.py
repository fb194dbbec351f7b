"""The request status machine (DESIGN section 4). Pure: no I/O, no framework.

``new`` is where every request starts; ``closed`` and ``cancelled`` are final. A resolved
request may be reopened (back to ``in_progress``), and its resolution clock then
continues from where it stopped. Requesters (end users) may cancel their request while it
is open, and close or reopen it once resolved; everything else is staff work.
"""

from __future__ import annotations

from collections.abc import Mapping

TRANSITIONS: Mapping[str, frozenset[str]] = {
    "new": frozenset({"assigned", "in_progress", "waiting_for_customer", "resolved", "cancelled"}),
    "assigned": frozenset({"in_progress", "waiting_for_customer", "resolved", "cancelled"}),
    "in_progress": frozenset({"assigned", "waiting_for_customer", "resolved", "cancelled"}),
    "waiting_for_customer": frozenset({"in_progress", "resolved", "cancelled"}),
    "resolved": frozenset({"in_progress", "closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}
OPEN = frozenset({"new", "assigned", "in_progress", "waiting_for_customer"})
FINAL = frozenset({"closed", "cancelled"})
REQUESTER_MOVES: Mapping[str, frozenset[str]] = {
    **{status: frozenset({"cancelled"}) for status in OPEN},
    "resolved": frozenset({"in_progress", "closed"}),
}


def allowed_transitions(status: str, *, staff: bool, held: bool = True) -> list[str]:
    """``held``: whether a person holds the request (has it assigned). ``assigned`` says
    someone does, so it is no move for a request no one holds: assigning a person makes
    the move itself."""
    moves = TRANSITIONS.get(status, frozenset())
    if not staff:
        moves = moves & REQUESTER_MOVES.get(status, frozenset())
    if not held:
        moves = moves - {"assigned"}
    return sorted(moves)


def can_move(current: str, target: str, *, staff: bool, held: bool = True) -> bool:
    return target in allowed_transitions(current, staff=staff, held=held)


def is_reopen(current: str, target: str) -> bool:
    return current == "resolved" and target in OPEN
