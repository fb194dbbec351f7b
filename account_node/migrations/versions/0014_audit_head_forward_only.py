"""An account's audit chain head only moves forward: never deleted, never moved back.

``audit_events`` is append-only (0001), but the head row that anchors the chain was not:
the runtime role writes it on every append, and so could delete it or move it back.
Verification reports either (events stored beyond the head are a break), but the chain
was left unusable: every later append of the account collided with a stored event.
On PostgreSQL a trigger now refuses a head's deletion, a truncation, or an update that
moves it back or to another account; an append only ever moves it forward.

Revision ID: 0014_audit_head_forward_only
Revises: 0013_session_epoch
Create Date: 2026-12-05 05:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014_audit_head_forward_only"
down_revision: str | Sequence[str] | None = "0013_session_epoch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
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
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_heads_forward_only BEFORE UPDATE OR DELETE ON audit_heads "
        "FOR EACH ROW EXECUTE FUNCTION trustdesk_head_forward_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads "
        "FOR EACH STATEMENT EXECUTE FUNCTION trustdesk_refuse_change()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER audit_heads_no_truncate ON audit_heads")
    op.execute("DROP TRIGGER audit_heads_forward_only ON audit_heads")
    op.execute("DROP FUNCTION trustdesk_head_forward_only()")
