"""Alembic migrations for every package, and the PostgreSQL isolation they install.

``upgrade(url)`` is what ``trustdesk db upgrade`` runs: Alembic's revisions (which also
ENABLE and FORCE row-level security with a policy on every table that has
``account_id``), then the grants for the node's runtime role. The runtime role owns no
table and cannot bypass RLS; the owner connection is used only here.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

HERE = Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(
    url: str, app_role: str | None = None, revision: str = "head", app_password: str = ""
) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        if engine.dialect.name == "postgresql" and app_role:
            grant_runtime_role(engine, app_role, app_password)
    finally:
        engine.dispose()


def grant_runtime_role(engine: Engine, role: str, password: str = "") -> None:
    """Create the runtime role if missing and give it row access, nothing more."""
    if not role.replace("_", "").isalnum():
        raise ValueError(f"role name {role!r} must be letters, digits and underscores")
    with engine.begin() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        if not exists:
            connection.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS'))
        if password:
            quoted = password.replace("'", "''")
            connection.exec_driver_sql(f"ALTER ROLE \"{role}\" PASSWORD '{quoted}'")
        database = connection.scalar(text("SELECT current_database()"))
        for statement in (
            f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"',
            f'GRANT USAGE ON SCHEMA public TO "{role}"',
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
            f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
            f'REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM "{role}"',
            f'REVOKE UPDATE, TRUNCATE ON seen_nonces FROM "{role}"',
            f'REVOKE ALL ON alembic_version FROM "{role}"',
            f'GRANT SELECT ON alembic_version TO "{role}"',
        ):
            connection.execute(text(statement))
        # Before PostgreSQL 15 everyone may create in ``public``: the node would refuse to
        # start (``tenancy.assert_isolation_holds``). Revoked where this role owns the
        # schema; elsewhere the refusal names the statement for its owner to run.
        owns_public = connection.scalar(
            text(
                "SELECT pg_has_role(current_user, nspowner, 'USAGE') "
                "FROM pg_namespace WHERE nspname = 'public'"
            )
        )
        if owns_public:
            connection.execute(text(f'REVOKE CREATE ON SCHEMA public FROM PUBLIC, "{role}"'))
