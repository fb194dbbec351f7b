"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint, create_engine, text

from account_node.db import Base
from account_node.migrations import alembic_config, upgrade
from account_node.migrations.sqlite_guards import GUARDS, GUARDS_0015
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


def _triggers(url: str) -> dict[str, str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        )
        found = {name: sql for name, sql in rows}
    engine.dispose()
    return found


def test_the_chain_bounds_stop_the_upgrade_over_events_forged_below_1(tmp_path):
    """Rather than drop evidence or keep a CHECK that the stored rows break: someone
    looks at the forged events first, and the message says how."""
    url = f"sqlite:///{tmp_path / 'node.db'}"
    upgrade(url, revision="0015_sqlite_audit_guards")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (id, name, kind, active, created_at)"
                " VALUES ('acme', 'Acme', 'customer', 1, '2026-12-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO audit_events (seq, at, actor_id, actor_account_id, actor_name,"
                " action, target_type, target_id, prev_hash, hash, account_id) VALUES (0,"
                " '2026-12-01 00:00:00', 'p', 'acme', 'Mallory', 'person.delete', 'person',"
                " 'p', :zero, :zero, 'acme')"
            ),
            {"zero": "0" * 64},
        )
    engine.dispose()
    with pytest.raises(RuntimeError, match=r"events numbered below 1 \(1\).*as the owner"):
        upgrade(url)


def test_downgrading_the_chain_bounds_puts_back_the_sqlite_guards_of_0015(tmp_path):
    """The code before 0016 moves a head's hash at the same number: 0016's guards would
    refuse every one of its appends."""
    url = f"sqlite:///{tmp_path / 'node.db'}"
    upgrade(url)
    assert _triggers(url).keys() == GUARDS.keys()
    command.downgrade(alembic_config(url), "0015_sqlite_audit_guards")
    triggers = _triggers(url)
    assert triggers.keys() == GUARDS_0015.keys()
    assert "NEW.hash" not in triggers["audit_heads_forward_only"]
    upgrade(url)
    assert _triggers(url).keys() == GUARDS.keys()
