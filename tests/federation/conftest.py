"""Several real nodes as real HTTP servers on loopback ports, each with its own database."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import BaseWSGIServer, make_server

from account_node.app import create_app
from account_node.migrations import upgrade
from tests.conftest import APP_ROLE, PG_ADMIN_URL, node_settings, service_missing
from tests.factories.accounts import AccountFixture, make_account
from tests.federation.flows import build_msp_desk, establish_trust, offer, ok


@dataclass
class RunningNode:
    name: str
    app: Flask
    server: BaseWSGIServer
    url: str

    def client(self, member) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=member.headers, timeout=15)

    def stop(self) -> None:
        self.server.shutdown()
        self.app.extensions["trustdesk"].close()


def start_node(
    name: str, directory: Path, database: tuple[str, str] | None = None, **settings: object
) -> RunningNode:
    """Start a node; ``database`` is (owner URL, runtime URL) on PostgreSQL, else SQLite."""
    directory.mkdir(parents=True, exist_ok=True)
    if database is None:
        upgrade(f"sqlite:///{directory / 'node.db'}")
    else:
        upgrade(database[0], APP_ROLE)
    server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    node = node_settings(
        data_dir=str(directory),
        public_url=url,
        node_name=name,
        secret_key=secrets.token_urlsafe(32),
        federation_allow_http=True,
        federation_allow_private=True,
        federation_timeout_seconds=3,
        database_url=database[1] if database else "",
        **settings,
    )
    app = create_app(node)
    server.app = app
    threading.Thread(target=server.serve_forever, name=f"node-{name}", daemon=True).start()
    return RunningNode(name, app, server, url)


@dataclass
class Federation:
    msp: RunningNode
    customer: RunningNode
    msp_account: AccountFixture
    customer_account: AccountFixture


def _postgres_database(name: str) -> tuple[str, str]:
    """A fresh database of its own for one node: (owner URL, runtime-role URL)."""
    admin = make_url(PG_ADMIN_URL)
    database = f"td_fed_{name}_{secrets.token_hex(3)}"
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        engine.dispose()
    except Exception as exc:
        service_missing("PostgreSQL", exc)
    owner = admin.set(database=database).render_as_string(hide_password=False)
    runtime = admin.set(database=database, username=APP_ROLE, password=None)
    return owner, runtime.render_as_string(hide_password=False)


def _drop(owner_url: str) -> None:
    engine = create_engine(make_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        name = make_url(owner_url).database
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def federation(request, tmp_path) -> Iterator[Federation]:
    """An MSP node and a customer node, each with its own database of the given kind."""
    databases = {}
    if request.param == "postgresql":
        databases = {name: _postgres_database(name) for name in ("msp", "customer")}
    msp = start_node("msp", tmp_path / "msp", databases.get("msp"))
    customer = start_node("customer", tmp_path / "customer", databases.get("customer"))
    try:
        yield Federation(
            msp,
            customer,
            make_account(msp.app, kind="msp", prefix="msp"),
            make_account(customer.app),
        )
    finally:
        msp.stop()
        customer.stop()
        for owner, _ in databases.values():
            _drop(owner)


@pytest.fixture
def served(federation):
    """A trust, an offering, and one request raised by the customer's end user."""
    trust = establish_trust(
        federation.msp, federation.msp_account, federation.customer, federation.customer_account
    )
    desk = build_msp_desk(federation.msp, federation.msp_account)
    offering = offer(federation.msp, federation.msp_account, desk, trust)
    with federation.customer.client(federation.customer_account.end_user) as customer:
        [held] = ok(customer.get("/api/v1/offerings"))["items"]
        raised = ok(
            customer.post(
                "/api/v1/requests",
                json={"subject": "Printer jams", "offering_id": held["id"], "priority": "p2"},
            ),
            201,
        )
    federation.trust, federation.offering, federation.request = trust, offering, raised
    return federation
