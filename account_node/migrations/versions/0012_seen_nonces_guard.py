"""The node's runtime role may forget a federation nonce only once it has expired.

``seen_nonces`` (trust.inbox, the embedded default's replay guard) has no account: a
nonce is the calling key's. The runtime role could delete any row of it, and so, from
any account's transaction (an injected statement, say), wipe the node's replay
protection while signatures were still valid. Row-level security now lets it read and
add nonces, and delete only those expired (the sweep's own condition); no row is
ever updated (the grants take UPDATE away, ``migrations.grant_runtime_role``).

Revision ID: 0012_seen_nonces_guard
Revises: 0011_accounts_isolation
Create Date: 2026-12-04 22:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_seen_nonces_guard"
down_revision: str | Sequence[str] | None = "0011_accounts_isolation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POLICIES = (
    ("nonces_read", "SELECT", "USING (true)"),
    ("nonces_add", "INSERT", "WITH CHECK (true)"),
    ("nonces_forget_expired", "DELETE", "USING (expires_at < now())"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE seen_nonces ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE seen_nonces FORCE ROW LEVEL SECURITY")
    for name, command, rule in _POLICIES:
        op.execute(f"CREATE POLICY {name} ON seen_nonces FOR {command} {rule}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _, _ in _POLICIES:
        op.execute(f"DROP POLICY {name} ON seen_nonces")
    op.execute("ALTER TABLE seen_nonces NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE seen_nonces DISABLE ROW LEVEL SECURITY")
