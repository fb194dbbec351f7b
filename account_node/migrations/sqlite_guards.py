"""The audit log's guards on SQLite, as triggers (PostgreSQL has its own: 0001, 0014, 0016).

On PostgreSQL the node's role cannot rewrite audit events or move a chain head back, and
even the owner must switch triggers off to do it. SQLite has no roles: whoever holds the
file can drop these triggers, and the hash chain is what then tells (``audit verify``).
They still make the embedded default refuse what PostgreSQL refuses, so no code path of
the node (a bug, a maintenance script run through it) can edit history unnoticed.

``INSERT OR REPLACE`` deletes the row it collides with, and SQLite runs no DELETE
trigger for that deletion (unless ``recursive_triggers`` is on, a setting of each
connection, which another program opening the file would not make): an event or a head
could be rewritten with nothing but INSERT. So an insert that would collide with a stored
event or head is refused before it runs, whatever the connection's settings. A head's
hash changes only as its number moves forward: an append moves both at once.

``GUARDS`` is the set the current code expects; 0015 and 0016 both create it (a rebuilt
table loses its triggers). ``GUARDS_0015`` is what 0015 first installed, for 0016's
downgrade to put back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

_REFUSE = "BEGIN SELECT RAISE(ABORT, '{message}'); END"
_APPEND_ONLY = "table audit_events is append-only"
_NEVER_DELETED = "an audit chain head is never deleted"
_FORWARD = "an audit chain head only moves forward"
_WHOLE = "an audit chain head only moves forward, its number with its hash"

# name -> (when, message)
Guards = Mapping[str, tuple[str, str]]

GUARDS_0015: Guards = {
    "audit_events_no_update": ("BEFORE UPDATE ON audit_events", _APPEND_ONLY),
    "audit_events_no_delete": ("BEFORE DELETE ON audit_events", _APPEND_ONLY),
    "audit_heads_never_deleted": ("BEFORE DELETE ON audit_heads", _NEVER_DELETED),
    "audit_heads_forward_only": (
        "BEFORE UPDATE ON audit_heads WHEN NEW.account_id <> OLD.account_id OR NEW.seq < OLD.seq",
        _FORWARD,
    ),
}
GUARDS: Guards = {
    **GUARDS_0015,
    "audit_events_no_replace": (
        "BEFORE INSERT ON audit_events WHEN"
        " EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id)"
        " OR EXISTS (SELECT 1 FROM audit_events"
        " WHERE account_id = NEW.account_id AND seq = NEW.seq)",
        _APPEND_ONLY,
    ),
    "audit_heads_never_replaced": (
        "BEFORE INSERT ON audit_heads WHEN"
        " EXISTS (SELECT 1 FROM audit_heads WHERE account_id = NEW.account_id)",
        _NEVER_DELETED,
    ),
    "audit_heads_forward_only": (
        "BEFORE UPDATE ON audit_heads WHEN NEW.account_id <> OLD.account_id"
        " OR NEW.seq < OLD.seq OR (NEW.seq = OLD.seq AND NEW.hash IS NOT OLD.hash)",
        _WHOLE,
    ),
}


def create_guards(execute: Callable[[str], object], guards: Guards = GUARDS) -> None:
    for name, (when, message) in guards.items():
        execute(f"CREATE TRIGGER {name} {when} " + _REFUSE.format(message=message))


def drop_guards(execute: Callable[[str], object]) -> None:
    """Drop every guard, of whichever set."""
    for name in {**GUARDS_0015, **GUARDS}:
        execute(f"DROP TRIGGER IF EXISTS {name}")
