"""Changing stored rows behind the node's back, as an intruder with database access would.

On PostgreSQL that takes the owner's role and switching triggers off (a superuser's
``session_replication_role``), for the node's own role never could; on SQLite, whoever has
the file drops the guard triggers (``account_node.migrations.sqlite_guards``), and here
puts them back after, for the next test on the same database.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from account_node.migrations.sqlite_guards import create_guards, drop_guards


def intrude(app: Any, request: pytest.FixtureRequest, statement: str, **params: Any) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        engine = create_engine(request.getfixturevalue("postgres_urls")[0])
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(statement), params)
        engine.dispose()
        return
    from account_node.db import db

    with app.app_context(), db.engine.begin() as connection:
        drop_guards(connection.exec_driver_sql)
        try:
            connection.execute(text(statement), params)
        finally:
            create_guards(connection.exec_driver_sql)
