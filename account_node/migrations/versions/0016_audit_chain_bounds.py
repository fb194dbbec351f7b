"""An audit chain holds events 1 to its head, and its head moves number and hash together.

``audit_events.seq`` took any number, and the runtime role, with nothing but INSERT,
could add an event at 0 or below: outside what verification walked (from 1), yet listed
by the API. A CHECK now refuses it on both databases.

On SQLite ``INSERT OR REPLACE`` rewrote an event or a head despite the guards of 0015
(REPLACE's implicit delete fires no DELETE trigger), and a head's hash could change at
the same number; the guards now refuse both (``sqlite_guards``). PostgreSQL's head
trigger (0014) refuses the latter too. There, an upsert is an UPDATE: refused by the
grants and the triggers already.

The CHECK is not added over events already stored below 1: those are forged (the node
never wrote one), and the upgrade stops so that someone looks at them first.

Revision ID: 0016_audit_chain_bounds
Revises: 0015_sqlite_audit_guards
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from account_node.migrations.sqlite_guards import GUARDS_0015, create_guards, drop_guards

revision: str = "0016_audit_chain_bounds"
down_revision: str | Sequence[str] | None = "0015_sqlite_audit_guards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_audit_events_seq_from_one"

_HEAD_GUARD = """
CREATE OR REPLACE FUNCTION trustdesk_head_forward_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'an audit chain head is never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.account_id <> OLD.account_id OR NEW.seq < OLD.seq THEN
        RAISE EXCEPTION 'an audit chain head only moves forward'
            USING ERRCODE = 'insufficient_privilege';
    END IF;{whole}
    RETURN NEW;
END $$
"""
_WHOLE = """
    IF NEW.seq = OLD.seq AND NEW.hash IS DISTINCT FROM OLD.hash THEN
        RAISE EXCEPTION 'an audit chain head only moves forward, its number with its hash'
            USING ERRCODE = 'insufficient_privilege';
    END IF;"""


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:  # FORCE binds the owner too, and no account is set: it would count none
        op.execute("ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY")
    forged = bind.scalar(sa.text("SELECT count(*) FROM audit_events WHERE seq < 1"))
    if postgres:
        op.execute("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY")
    if forged:
        raise RuntimeError(
            f"audit_events holds events numbered below 1 ({forged}), which the node never "
            "writes: keep a copy of the database as evidence, run `trustdesk audit verify`, "
            "and remove them (as the owner, the append-only trigger disabled) to upgrade"
        )
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        drop_guards(op.execute)  # before the rebuild, which would drop some, not all
    with op.batch_alter_table("audit_events") as batch:
        batch.create_check_constraint(op.f(CHECK), "seq >= 1")
    if sqlite:
        create_guards(op.execute)
    elif bind.dialect.name == "postgresql":
        op.execute(_HEAD_GUARD.format(whole=_WHOLE))


def downgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        drop_guards(op.execute)
    elif bind.dialect.name == "postgresql":
        op.execute(_HEAD_GUARD.format(whole=""))
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint(op.f(CHECK), type_="check")
    if sqlite:
        create_guards(op.execute, GUARDS_0015)
