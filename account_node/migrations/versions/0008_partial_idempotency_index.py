"""The idempotency index holds only requests raised with a key.

Most creates carry no ``Idempotency-Key``: their rows gave the unique index on
(account, requester, key) nothing to check (NULLs never clash), only one more entry to
write on every create, and one more index on the account column for the planner to
pick for lookups that match nothing but that column (see
``account_node.postgres.warn_without_autovacuum``: on a table without statistics, the
foreign-key check of each new timeline entry used it and read all of the account's
requests). As a partial index (``WHERE idempotency_key IS NOT NULL``) it holds only the
rows that have a key and serves only queries that name one; what it refuses is
unchanged.

Revision ID: 0008_partial_idempotency_index
Revises: 0007_outbox_key_notices
Create Date: 2026-12-03 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_partial_idempotency_index"
down_revision: str | Sequence[str] | None = "0007_outbox_key_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["account_id", "requester_id", "idempotency_key"]
KEYED = sa.text("idempotency_key IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_idempotency")
        batch_op.create_index(
            "ix_requests_idempotency", COLUMNS, unique=True,
            postgresql_where=KEYED, sqlite_where=KEYED,
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_idempotency")
        batch_op.create_index("ix_requests_idempotency", COLUMNS, unique=True)
