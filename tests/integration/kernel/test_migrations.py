"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint, create_engine

from account_node.db import Base
from account_node.models import import_all_models


def _differences(url: str) -> list:
    import_all_models()
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    return diff


def test_sqlite_schema_matches_the_models(sqlite_dir):
    assert _differences(f"sqlite:///{sqlite_dir / 'node.db'}") == []


def test_postgresql_schema_matches_the_models(postgres_urls):
    assert _differences(postgres_urls[0]) == []


def test_every_account_scoped_table_has_an_index_that_starts_with_the_account():
    """RLS filters every query by account and deleting an account checks every scoped
    table: each needs an index led by ``account_id``, from a composite key or its own."""
    import_all_models()
    for table in Base.metadata.tables.values():
        if "account_id" not in table.c:
            continue
        leading = [next(iter(index.columns)).name for index in table.indexes] + [
            next(iter(constraint.columns)).name
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint)
        ]
        assert "account_id" in leading, f"{table.name} has no index starting with account_id"
