"""Row-level security and append-only helpers for revisions (no-ops off PostgreSQL).

The policy treats an empty setting as "no account": ``current_setting(..., true)`` reads
back as '' (not NULL) once the transaction that set it has ended, and no account id is ''.
"""

from __future__ import annotations

from alembic import op

SETTING = "app.account_id"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def enable_rls(table: str) -> None:
    if not _postgresql():
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY account_isolation ON {table} "
        f"USING (account_id = current_setting('{SETTING}', true)) "
        f"WITH CHECK (account_id = current_setting('{SETTING}', true))"
    )


def make_append_only(table: str) -> None:
    if not _postgresql():
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION trustdesk_refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION trustdesk_refuse_change()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION trustdesk_refuse_change()"
    )
