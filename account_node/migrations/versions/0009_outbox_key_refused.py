"""An outbox message remembers that the peer refused it for a key it does not hold.

``key_refused`` is true while the peer's last answer to a message was ``key_unknown``
or ``key_revoked``: the peer lacks this account's key and only its admin, confirming
the key's fingerprint out of band, can change that. Such a message waits for that
(trust.outbox) instead of spending its attempts, and the keys page lists the peer as
one whose admin must confirm (trust.key_status). Existing messages were not refused.

Revision ID: 0009_outbox_key_refused
Revises: 0008_partial_idempotency_index
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_outbox_key_refused"
down_revision: str | Sequence[str] | None = "0008_partial_idempotency_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key_refused", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("key_refused")
