"""Shared fixtures: real databases (SQLite and PostgreSQL), Redis, and node apps.

PostgreSQL and Redis are real servers. Without them a test that needs one skips and says
why; with ``TRUSTDESK_REQUIRE_SERVICES=1`` (what CI sets) it fails instead, so a CI run
can never pass by skipping. Tests isolate themselves by creating their own accounts, the
same isolation the product relies on, so one database serves a whole session.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from account_node.app import create_app
from account_node.clock import FakeClock
from account_node.migrations import upgrade
from account_node.settings import Settings

REQUIRE_SERVICES = os.environ.get("TRUSTDESK_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get(
    "TRUSTDESK_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TRUSTDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
APP_ROLE = "trustdesk_app"


def service_missing(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; TRUSTDESK_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(f"{message}; start it to run this test")


def node_settings(**overrides: object) -> Settings:
    base = Settings(
        password_time_cost=1,
        password_memory_kib=1024,
        secret_key="test-secret-key",
        node_name="test",
        sla_sweep_seconds=0,  # tests run the sweeps themselves
        outbox_sweep_seconds=0,
        audit_witness_seconds=0,
        federation_prune_seconds=0,
        inbox_stream_seconds=2,  # a live stream a test opens ends on its own, soon
    )
    return base.replace(**overrides)


@pytest.fixture(scope="session")
def postgres_urls() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database: (owner URL, runtime-role URL)."""
    admin = make_url(PG_ADMIN_URL)
    name = f"td_test_{secrets.token_hex(4)}"
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        service_missing("PostgreSQL", exc)
    owner = admin.set(database=name).render_as_string(hide_password=False)
    runtime = admin.set(database=name, username=APP_ROLE, password=None).render_as_string(
        hide_password=False
    )
    upgrade(owner, APP_ROLE)
    yield owner, runtime
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sqlite-node")
    upgrade(f"sqlite:///{directory / 'node.db'}")
    return directory


@pytest.fixture(scope="session")
def clock() -> FakeClock:
    return FakeClock()


def _app(settings: Settings, clock: FakeClock) -> Iterator[Flask]:
    app = create_app(settings, clock=clock)
    app.config["TESTING"] = True
    yield app
    app.extensions["trustdesk"].close()


@pytest.fixture(scope="session")
def sqlite_app(sqlite_dir: Path, clock: FakeClock) -> Iterator[Flask]:
    yield from _app(node_settings(data_dir=str(sqlite_dir)), clock)


@pytest.fixture(scope="session")
def postgres_app(
    postgres_urls: tuple[str, str], clock: FakeClock, tmp_path_factory
) -> Iterator[Flask]:
    owner, runtime = postgres_urls
    settings = node_settings(
        data_dir=str(tmp_path_factory.mktemp("pg-node")),
        database_url=runtime,
        migration_database_url=owner,
    )
    yield from _app(settings, clock)


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest) -> Flask:
    """Each integration test runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_app" if request.param == "sqlite" else "postgres_app"
    return request.getfixturevalue(name)


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture(scope="session")
def redis_url() -> str:
    from redis import Redis

    try:
        connection = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        connection.ping()
        connection.close()
    except Exception as exc:
        service_missing("Redis", exc)
    return REDIS_URL
