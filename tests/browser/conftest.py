"""Browser tests: real Chromium (Debian's) driven by Playwright against a real node.

The node is a real HTTP server on a loopback port with its own SQLite database, seeded
through its REST API. Chromium is Debian's ``/usr/bin/chromium`` launched by Playwright
with ``executable_path`` (never ``playwright install``). Without Chromium or Playwright
these tests skip and say why; with ``TRUSTDESK_REQUIRE_SERVICES=1`` (CI) they fail.
Screenshots of the main pages go to ``var/screenshots/`` for people to look at.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from werkzeug.serving import make_server

from account_node.app import create_app
from account_node.migrations import upgrade
from tests.conftest import REQUIRE_SERVICES, node_settings
from tests.factories.accounts import PASSWORD, AccountFixture, make_account

CHROMIUM = os.environ.get("TRUSTDESK_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
OFFICE = {
    "timezone": "Europe/Amsterdam",
    "weekly": {d: [["08:00", "12:00"], ["13:00", "17:00"]] for d in WEEKDAYS},
}


def _missing(why: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{why}; TRUSTDESK_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(f"{why}; install Debian's chromium and the test extra to run browser tests")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _missing(f"Playwright for Python is not installed ({exc})")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@dataclass
class Seeded:
    url: str
    app: Flask
    account: AccountFixture
    offering: str
    service: str
    team: str
    sla: str

    def api(self, role: str = "admin") -> httpx.Client:
        member = getattr(self.account, role)
        return httpx.Client(base_url=self.url, headers=member.headers, timeout=15)


def _seed(url: str, account: AccountFixture) -> dict[str, str]:
    with httpx.Client(base_url=url, headers=account.admin.headers, timeout=15) as api:

        def made(path: str, body: dict[str, Any]) -> str:
            response = api.post(path, json=body)
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        targets = {
            p: {"response": 60 * m, "resolution": 240 * m}
            for p, m in (("p1", 1), ("p2", 2), ("p3", 4), ("p4", 8))
        }
        calendar = made("/api/v1/calendars", {"name": "Office hours", "definition": OFFICE})
        sla = made(
            "/api/v1/slas", {"name": "Standard", "calendar_id": calendar, "targets": targets}
        )
        made(
            "/api/v1/slas",
            {
                "name": "Premium",
                "calendar_id": calendar,
                "targets": {p: {"response": 15, "resolution": 60} for p in targets},
            },
        )
        team = made(
            "/api/v1/teams",
            {"name": "Service Desk", "member_ids": [account.specialist.id, account.admin.id]},
        )
        service = made(
            "/api/v1/services",
            {
                "name": "Workplace support",
                "default_sla_id": sla,
                "description": "Laptops, printers, accounts, e-mail",
            },
        )
        offering = made(
            "/api/v1/offerings",
            {"service_id": service, "name": "Workplace for HQ", "team_id": team},
        )
        made("/api/v1/cis", {"type": "laptop", "name": "LT-0042", "owner_id": account.end_user.id})
        for subject, priority in (("VPN drops every hour", "p2"), ("New starter laptop", "p3")):
            made(
                "/api/v1/requests",
                {
                    "subject": subject,
                    "offering_id": offering,
                    "priority": priority,
                    "requester_id": account.end_user.id,
                },
            )
        people = api.get("/api/v1/users").json()["items"]
        for person in people:  # the end user lives in Amsterdam, the others stay on UTC
            if person["id"] == account.end_user.id:
                api.patch(f"/api/v1/users/{person['id']}", json={"time_zone": "Europe/Amsterdam"})
        return {"offering": offering, "service": service, "team": team, "sla": sla}


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One real node for the session, seeded like a small demo desk."""
    directory = tmp_path_factory.mktemp("browser-node")
    upgrade(f"sqlite:///{directory / 'node.db'}")
    server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = node_settings(
        data_dir=str(directory),
        public_url=url,
        node_name="browser-test",
        secret_key=secrets.token_urlsafe(32),
    )
    app = create_app(settings)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, name="browser-node", daemon=True)
    thread.start()
    try:
        account = make_account(app, kind="msp", prefix="brw")
        yield Seeded(url, app, account, **_seed(url, account))
    finally:
        server.shutdown()
        app.extensions["trustdesk"].close()


@pytest.fixture
def login(chromium, node):
    """``login(role, viewport=...)``: a new browser context signed in as that person."""
    contexts = []

    def sign_in(role: str, width: int = 1280, height: int = 860) -> Any:
        context = chromium.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{node.url}/login")
        member = getattr(node.account, role)
        page.fill("#account", node.account.id)
        page.fill("#email", member.email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{node.url}/")
        return page

    yield sign_in
    for context in contexts:
        context.close()


def shot(page: Any, name: str, full: bool = True) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    return path


# --- the three-node demo federation -------------------------------------------------------


@dataclass
class DemoFederation:
    """``trustdesk demo`` on free loopback ports: its nodes and ``demo.json``'s summary."""

    nodes: list[Any]
    summary: dict[str, Any]

    def url(self, account: str) -> str:
        [node] = [n for n in self.summary["nodes"] if account in n["accounts"]]
        return str(node["url"])

    def person(self, account: str, role: str) -> dict[str, Any]:
        return next(
            p for p in self.summary["people"] if p["account"] == account and role in p["roles"]
        )

    def api(self, account: str, role: str) -> httpx.Client:
        token = self.person(account, role)["token"]
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.url(account), headers=headers, timeout=15)


def _free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (the demo wants a run)."""
    import random
    import socket

    for _ in range(50):
        base = random.randint(20_000, 60_000)
        sockets = []
        try:
            for offset in range(count):
                probe = socket.socket()
                sockets.append(probe)
                probe.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
    raise RuntimeError("no run of free loopback ports")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoFederation]:
    """The demo federation, seeded: MSP node (with hosted contoso), fabrikam, tailspin.

    Streams last long here (the suite's default is seconds) so a live update is never
    lost in a reconnect gap while a test waits for it."""
    from account_node import demo as demo_module

    directory = tmp_path_factory.mktemp("demo")
    settings = node_settings(secret_key=secrets.token_urlsafe(32), inbox_stream_seconds=120)
    nodes = demo_module.demo_nodes(settings, directory, _free_ports(3))
    for demo_node in nodes:
        Path(demo_node.settings.data_dir).mkdir(parents=True, exist_ok=True)
        upgrade(demo_node.settings.effective_migration_url)
    demo_module.start(nodes)
    try:
        yield DemoFederation(nodes, demo_module.seed(nodes))
    finally:
        demo_module.stop(nodes)


@pytest.fixture
def demo_login(chromium, demo):
    """``demo_login(account, role)``: a new browser context signed in on that account's
    node as its person with the role."""
    contexts = []

    def sign_in(account: str, role: str, width: int = 1280, height: int = 860) -> Any:
        context = chromium.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        url = demo.url(account)
        person = demo.person(account, role)
        page.goto(f"{url}/login")
        page.fill("#account", account)
        page.fill("#email", person["email"])
        page.fill("#password", person["password"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/")
        return page

    yield sign_in
    for context in contexts:
        context.close()
