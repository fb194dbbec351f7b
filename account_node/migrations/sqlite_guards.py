"""The audit log's guards on SQLite, as triggers (PostgreSQL has its own: 0001, 0014).

On PostgreSQL the node's role cannot rewrite audit events or move a chain head back, and
even the owner must switch triggers off to do it. SQLite has no roles: whoever holds the
file can drop these triggers, and the hash chain is what then tells (``audit verify``).
They still make the embedded default refuse what PostgreSQL refuses, so no code path of
the node (a bug, a maintenance script run through it) can edit history unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable

_REFUSE = "BEGIN SELECT RAISE(ABORT, '{message}'); END"
GUARDS: dict[str, str] = {
    "audit_events_no_update": "BEFORE UPDATE ON audit_events",
    "audit_events_no_delete": "BEFORE DELETE ON audit_events",
    "audit_heads_never_deleted": "BEFORE DELETE ON audit_heads",
    "audit_heads_forward_only": "BEFORE UPDATE ON audit_heads "
    "WHEN NEW.account_id <> OLD.account_id OR NEW.seq < OLD.seq",
}
MESSAGES: dict[str, str] = {
    "audit_events_no_update": "table audit_events is append-only",
    "audit_events_no_delete": "table audit_events is append-only",
    "audit_heads_never_deleted": "an audit chain head is never deleted",
    "audit_heads_forward_only": "an audit chain head only moves forward",
}


def create_guards(execute: Callable[[str], object]) -> None:
    for name, when in GUARDS.items():
        execute(f"CREATE TRIGGER {name} {when} " + _REFUSE.format(message=MESSAGES[name]))


def drop_guards(execute: Callable[[str], object]) -> None:
    for name in GUARDS:
        execute(f"DROP TRIGGER IF EXISTS {name}")
