"""The embedded default refuses what PostgreSQL refuses of the audit log.

Audit events append-only and a chain head that only moves forward (never deleted, never
moved back or to another account), as triggers on SQLite; PostgreSQL has had them since
0001 and 0014. See ``account_node.migrations.sqlite_guards`` for what they do not stop.

Revision ID: 0015_sqlite_audit_guards
Revises: 0014_audit_head_forward_only
Create Date: 2026-12-05 21:55:00
"""

from collections.abc import Sequence

from alembic import op

from account_node.migrations.sqlite_guards import create_guards, drop_guards

revision: str = "0015_sqlite_audit_guards"
down_revision: str | Sequence[str] | None = "0014_audit_head_forward_only"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        create_guards(op.execute)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        drop_guards(op.execute)
