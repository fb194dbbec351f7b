"""A request raised with an Idempotency-Key keeps digests of what its create asked for.

A create whose key was used before is a retry only if it asks for the same request.
Compared with the request as it now is, that held until someone edited it; since then
its subject, description, priority and item could no longer tell, and a reused key with
another body was answered as a retry. ``idempotency_digests`` keeps, per editable
field, a digest of the value asked for (services.requests.idempotency). Requests raised
before keep none and are compared as before.

Revision ID: 0010_idempotency_digests
Revises: 0009_outbox_key_refused
Create Date: 2026-12-04 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_idempotency_digests"
down_revision: str | Sequence[str] | None = "0009_outbox_key_refused"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_digests", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("idempotency_digests")
