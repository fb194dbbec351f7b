"""A person's portal sessions can be ended: signing out, or a new password, ends them all.

Portal sessions are signed cookies the browser holds; without anything on the server to
compare them with, a copy of one (taken before its person signed out, or before their
password was reset) stayed valid for its whole lifetime. A session now carries its
person's ``session_epoch`` from sign-in, and is honoured only while it is the person's
current one; signing out and a password change move it on.

Revision ID: 0013_session_epoch
Revises: 0012_seen_nonces_guard
Create Date: 2026-12-05 04:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_session_epoch"
down_revision: str | Sequence[str] | None = "0012_seen_nonces_guard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people") as table:
        table.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("people") as table:
        table.drop_column("session_epoch")
