"""Audit heads witnessed for peers: each account keeps the chain heads its peers signed.

Revision ID: 0005_audit_witness
Revises: 0004_federation
Create Date: 2026-12-02 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import account_node.db
from account_node.migrations.rls import enable_rls

revision: str = "0005_audit_witness"
down_revision: str | Sequence[str] | None = "0004_federation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "witnessed_heads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("trust_id", sa.String(length=40), nullable=False),
        sa.Column("peer_account", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", account_node.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", account_node.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("conflict", sa.String(length=300), nullable=True),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_witnessed_heads_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_witnessed_heads")),
        sa.UniqueConstraint(
            "account_id",
            "peer_account",
            "seq",
            "hash",
            name=op.f("uq_witnessed_heads_account_id_peer_account_seq_hash"),
        ),
    )
    with op.batch_alter_table("witnessed_heads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_witnessed_heads_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_witnessed_heads_received_at"), ["received_at"], unique=False
        )
    enable_rls("witnessed_heads")


def downgrade() -> None:
    with op.batch_alter_table("witnessed_heads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_witnessed_heads_received_at"))
        batch_op.drop_index(batch_op.f("ix_witnessed_heads_account_id"))
    op.drop_table("witnessed_heads")
