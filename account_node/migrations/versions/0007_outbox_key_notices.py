"""Key rotation notices go through the outbox, at the head of each peer's queue.

``precedence`` orders a peer's queue before creation time: a rotation notice (0) must
reach the peer before any message the new key signs (1), including those queued before
the rotation. ``signing_key`` names the own key that signs a message (a rotation notice
is signed by the key it introduces); none means the current key at each attempt, as
before. Existing messages are ordinary ones.

Revision ID: 0007_outbox_key_notices
Revises: 0006_account_indexes
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_outbox_key_notices"
down_revision: str | Sequence[str] | None = "0006_account_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("precedence", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("signing_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("signing_key")
        batch_op.drop_column("precedence")
