"""A transaction scoped to one account sees and changes only that account's own row.

Every table with an ``account_id`` was isolated by row-level security, but the
``accounts`` table itself, which has none, was not: a transaction scoped to one account
(the setting ``app.account_id``) could list every account the node hosts and rename or
deactivate another. Its policy compares the row's ``id``. Node-level work (the CLI
creating an account, jobs listing the active ones, authentication before an account is
known) runs without a scope, and sees them all, as it did: an empty setting means
"no account chosen", as in ``rls.py``.

Revision ID: 0011_accounts_isolation
Revises: 0010_idempotency_digests
Create Date: 2026-12-04 21:30:00
"""

from collections.abc import Sequence

from alembic import op

from account_node.migrations.rls import SETTING

revision: str = "0011_accounts_isolation"
down_revision: str | Sequence[str] | None = "0010_idempotency_digests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCOPE = f"coalesce(current_setting('{SETTING}', true), '')"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE accounts ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE accounts FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY account_isolation ON accounts "
        f"USING ({_SCOPE} IN ('', id)) WITH CHECK ({_SCOPE} IN ('', id))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP POLICY account_isolation ON accounts")
    op.execute("ALTER TABLE accounts NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE accounts DISABLE ROW LEVEL SECURITY")
