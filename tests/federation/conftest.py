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
from werkzeug.serving import BaseWSGIServer, make_server

from account_node.app import create_app
from account_node.migrations import upgrade
from tests.conftest import node_settings
from tests.factories.accounts import AccountFixture, make_account


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


def start_node(name: str, directory: Path) -> RunningNode:
    directory.mkdir(parents=True, exist_ok=True)
    upgrade(f"sqlite:///{directory / 'node.db'}")
    server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = node_settings(
        data_dir=str(directory),
        public_url=url,
        node_name=name,
        secret_key=secrets.token_urlsafe(32),
        federation_allow_http=True,
        federation_allow_private=True,
        federation_timeout_seconds=3,
    )
    app = create_app(settings)
    server.app = app
    threading.Thread(target=server.serve_forever, name=f"node-{name}", daemon=True).start()
    return RunningNode(name, app, server, url)


@dataclass
class Federation:
    msp: RunningNode
    customer: RunningNode
    msp_account: AccountFixture
    customer_account: AccountFixture


@pytest.fixture
def federation(tmp_path) -> Iterator[Federation]:
    msp = start_node("msp", tmp_path / "msp")
    customer = start_node("customer", tmp_path / "customer")
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
