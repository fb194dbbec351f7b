"""Drop the single-column ``account_id`` indexes that a composite key already covers.

Each of these tables has a unique constraint starting with ``account_id`` (the composite
key other tables' foreign keys point at), so the single-column index served no lookup
that constraint's index does not, and cost every insert one more B-tree write: three
on each request raised (the request, its first timeline entry, its audit event).

Revision ID: 0006_account_indexes
Revises: 0005_audit_witness
Create Date: 2026-12-02 13:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_account_indexes"
down_revision: str | Sequence[str] | None = "0005_audit_witness"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED = (
    "account_keys",
    "audit_events",
    "calendars",
    "configuration_items",
    "offerings",
    "outbox_messages",
    "people",
    "pinned_keys",
    "received_notices",
    "request_events",
    "requester_slas",
    "requests",
    "services",
    "slas",
    "teams",
    "trust_invitations",
    "trusts",
    "witnessed_heads",
)


def upgrade() -> None:
    for table in COVERED:
        op.drop_index(f"ix_{table}_account_id", table_name=table)


def downgrade() -> None:
    for table in COVERED:
        op.create_index(f"ix_{table}_account_id", table, ["account_id"], unique=False)
