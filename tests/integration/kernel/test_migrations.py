"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

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
