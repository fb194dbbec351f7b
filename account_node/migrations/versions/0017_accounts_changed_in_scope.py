"""Only a transaction scoped to an account may change or delete that account's row.

0011 let a transaction with no account chosen (an empty setting) read every account, which
node-level work needs (authentication looks the account up before a scope exists; jobs
list the active ones; the CLI lists them), but also change any of them: the runtime role,
with no scope set, could rename or deactivate every tenant. Reads and inserts stay as they
were (``trustdesk account create`` and the demo insert an account before its scope
exists); an update or a delete now needs the row's own account in the setting, as the
node's one writer of accounts (``PersonStore.admins_left``, which locks its account's row)
always has.

Revision ID: 0017_accounts_changed_in_scope
Revises: 0016_audit_chain_bounds
Create Date: 2026-12-06 09:30:00
"""

from collections.abc import Sequence

from alembic import op

from account_node.migrations.rls import SETTING

revision: str = "0017_accounts_changed_in_scope"
down_revision: str | Sequence[str] | None = "0016_audit_chain_bounds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCOPE = f"coalesce(current_setting('{SETTING}', true), '')"
_POLICIES = (
    ("accounts_read", "SELECT", f"USING ({_SCOPE} IN ('', id))"),
    ("accounts_create", "INSERT", f"WITH CHECK ({_SCOPE} IN ('', id))"),
    ("accounts_change", "UPDATE", f"USING ({_SCOPE} = id) WITH CHECK ({_SCOPE} = id)"),
    ("accounts_remove", "DELETE", f"USING ({_SCOPE} = id)"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP POLICY account_isolation ON accounts")
    for name, command, rule in _POLICIES:
        op.execute(f"CREATE POLICY {name} ON accounts FOR {command} {rule}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _, _ in _POLICIES:
        op.execute(f"DROP POLICY {name} ON accounts")
    op.execute(
        f"CREATE POLICY account_isolation ON accounts "
        f"USING ({_SCOPE} IN ('', id)) WITH CHECK ({_SCOPE} IN ('', id))"
    )
