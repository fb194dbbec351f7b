"""What the node needs of PostgreSQL: a cursor that describes results lazily and
exactly, and a warning when the server keeps no statistics."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from account_node.postgres import LazyDescription, NodeCursor, warn_without_autovacuum

INT4, TEXT = 23, 25


@pytest.fixture
def engine(postgres_urls: tuple[str, str]) -> Iterator[Engine]:
    owner, _ = postgres_urls
    engine = create_engine(owner, connect_args={"cursor_factory": NodeCursor})
    yield engine
    engine.dispose()


@pytest.fixture
def cursor(engine: Engine) -> Iterator[psycopg.Cursor]:
    connection = engine.raw_connection()
    try:
        yield connection.cursor()  # type: ignore[misc]
    finally:
        connection.close()


def test_a_result_is_described_by_name_and_type_as_the_db_api_says(cursor) -> None:
    cursor.execute("SELECT 1 AS one, 'x'::text AS word")

    description = cursor.description

    assert isinstance(description, LazyDescription)
    assert len(description) == 2
    assert [(d[0], d[1]) for d in description] == [("one", INT4), ("word", TEXT)]
    assert all(len(d) == 7 for d in description)


def test_a_description_still_describes_its_result_after_the_next_statement(cursor) -> None:
    cursor.execute("SELECT 1 AS first")
    earlier = cursor.description
    cursor.execute("SELECT 'a'::text AS second, 2 AS third")

    assert [d[0] for d in earlier] == ["first"]
    assert [d[0] for d in cursor.description] == ["second", "third"]


def test_a_statement_without_rows_has_no_description(cursor) -> None:
    cursor.execute("CREATE TEMPORARY TABLE scratch (n int)")
    cursor.execute("INSERT INTO scratch VALUES (1)")

    assert cursor.description is None


def test_a_select_of_no_columns_is_described_as_empty(cursor) -> None:
    cursor.execute("SELECT")

    assert cursor.description is not None
    assert len(cursor.description) == 0


def test_sqlalchemy_reads_rows_by_name_through_it_first_and_later_times(engine) -> None:
    with engine.connect() as connection:
        for n in (1, 2):
            statement = text("SELECT :n AS n, 'row ' || :n AS label")
            row = connection.execute(statement, {"n": n}).mappings().one()
            assert dict(row) == {"n": n, "label": f"row {n}"}


def test_a_server_without_autovacuum_is_named_in_the_log(engine, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="account_node.postgres")
    with engine.connect() as connection:
        off = connection.scalar(text("SHOW autovacuum")) == "off"
        assert warn_without_autovacuum(connection) is off
    warned = [r.getMessage() for r in caplog.records if "autovacuum is off" in r.getMessage()]
    assert len(warned) == (1 if off else 0)


def test_sqlite_has_no_autovacuum_to_miss(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'node.db'}")
    with engine.connect() as connection:
        assert warn_without_autovacuum(connection) is False
    engine.dispose()
