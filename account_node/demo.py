"""``trustdesk demo``: the federation of DESIGN section 7 on this machine, seeded.

Three nodes on the embedded default (SQLite, jobs in-process), each a real HTTP server:
the MSP node on PORT, which also hosts a small customer's account, and two self-hosted
customer nodes on PORT+1 and PORT+2. Every customer trusts the MSP through the real
handshake (invitation, signed proposal, countersignature, all over HTTP, the hosted one
too); the MSP offers its services over each trust; the customers' people raise requests
on them, which the MSP's specialists see in their cross-account inbox. Logins and tokens
are printed and written to ``DATA_DIR/demo.json``; a second run reuses the data.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx

from account_node.context import Work
from account_node.db import db
from account_node.identity.accounts import Accounts
from account_node.identity.authentication import principal_of
from account_node.identity.service import People, Teams, Tokens
from account_node.migrations import upgrade
from account_node.settings import Settings

PASSWORD = "demo-password-1"  # noqa: S105 - printed for the person running the demo

MSP = {
    "id": "northwind-msp",
    "name": "Northwind Managed Services",
    "kind": "msp",
    "admin": ("admin@northwind.example", "Nora Admin"),
    "people": [
        ("alex@northwind.example", "Alex Specialist", ["specialist"]),
        ("sam@northwind.example", "Sam Specialist", ["specialist"]),
        ("audrey@northwind.example", "Audrey Auditor", ["auditor"]),
    ],
    "teams": [("Service Desk", [0, 1]), ("Network Operations", [1])],
}


def _customer(account: str, name: str, domain: str, admin: str, users: list[str]) -> dict[str, Any]:
    return {
        "id": account,
        "name": name,
        "kind": "customer",
        "admin": (f"admin@{domain}", admin),
        "people": [(f"{u.split()[0].lower()}@{domain}", u, ["end_user"]) for u in users],
        "teams": [],
    }


CONTOSO = _customer("contoso", "Contoso Dental", "contoso.example", "Carla Admin", ["Eve Enduser"])
FABRIKAM = _customer(
    "fabrikam", "Fabrikam Logistics", "fabrikam.example", "Frank Admin",
    ["Fiona Dispatcher", "Felix Driver"],
)  # fmt: skip
TAILSPIN = _customer(
    "tailspin", "Tailspin Toys", "tailspin.example", "Tara Admin", ["Tom Designer"]
)
NODES: list[tuple[str, list[dict[str, Any]]]] = [
    ("msp", [MSP, CONTOSO]),
    ("fabrikam", [FABRIKAM]),
    ("tailspin", [TAILSPIN]),
]
REQUESTS = {
    "contoso": [("Printer in surgery 2 jams on every page", "p2", "Workplace support")],
    "fabrikam": [
        ("Depot Wi-Fi drops every afternoon", "p1", "Network & connectivity"),
        ("New starter laptop for Monday", "p3", "Workplace support"),
    ],
    "tailspin": [("Shared drive asks for a password again", "p3", "Workplace support")],
}

OFFICE_NL = {
    "timezone": "Europe/Amsterdam",
    "weekly": {
        d: [["08:30", "12:30"], ["13:00", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")
    },
    "holiday_country": "NL",
}
ALWAYS = {
    "timezone": "UTC",
    "weekly": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}


def _targets(factor: int) -> dict[str, dict[str, int]]:
    return {
        p: {"response": 30 * m * factor, "resolution": 240 * m * factor}
        for p, m in (("p1", 1), ("p2", 2), ("p3", 4), ("p4", 8))
    }


@dataclass
class DemoNode:
    name: str
    url: str
    settings: Settings
    accounts: list[dict[str, Any]]
    app: Any = None
    server: Any = None


def run_demo(settings: Settings, data_dir: str, base_port: int, exit_after_seed: bool) -> None:
    directory = Path(data_dir).resolve()
    nodes = demo_nodes(settings, directory, base_port)
    demo_file = directory / "demo.json"
    fresh = not demo_file.exists()
    for demo_node in nodes:
        Path(demo_node.settings.data_dir).mkdir(parents=True, exist_ok=True)
        upgrade(demo_node.settings.effective_migration_url)
    start(nodes)
    try:
        if fresh:
            with _quiet("werkzeug"):  # seeding's hundred calls would bury the summary
                summary = seed(nodes)
            demo_file.write_text(json.dumps(summary, indent=2) + "\n")
        _print(json.loads(demo_file.read_text()), demo_file)
        if not exit_after_seed:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopping the demo federation")
    finally:
        stop(nodes)


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """``name``'s log at warnings only, for the block."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def demo_nodes(settings: Settings, directory: Path, base_port: int) -> list[DemoNode]:
    """The three nodes' settings: embedded databases under ``directory``, loopback peers."""
    return [
        DemoNode(
            name,
            f"http://127.0.0.1:{base_port + offset}",
            settings.replace(
                data_dir=str(directory / name),
                database_url="",
                public_url=f"http://127.0.0.1:{base_port + offset}",
                node_name=name,
                federation_allow_http=True,
                federation_allow_private=True,
            ),
            accounts,
        )
        for offset, (name, accounts) in enumerate(NODES)
    ]


def start(nodes: list[DemoNode]) -> None:
    """Each node a real, threaded HTTP server with its jobs in-process."""
    from werkzeug.serving import make_server

    from account_node.app import create_app

    for demo_node in nodes:
        demo_node.app = create_app(demo_node.settings)
        demo_node.app.extensions["trustdesk"].start_periodic_jobs()
        port = int(demo_node.url.rsplit(":", 1)[1])
        demo_node.server = make_server("127.0.0.1", port, demo_node.app, threaded=True)
        threading.Thread(
            target=demo_node.server.serve_forever, name=f"demo-{demo_node.name}", daemon=True
        ).start()


def stop(nodes: list[DemoNode]) -> None:
    for demo_node in nodes:
        if demo_node.server is not None:
            demo_node.server.shutdown()
        if demo_node.app is not None:
            demo_node.app.extensions["trustdesk"].close()


def seed(nodes: list[DemoNode]) -> dict[str, Any]:
    people: list[dict[str, Any]] = []
    for demo_node in nodes:
        people += _seed_people(demo_node)
    tokens = {(p["account"], p["roles"][0]): p["token"] for p in people}
    home = {a["id"]: n for n in nodes for a in n.accounts}
    for person in people:  # first use of each token, before any call crosses nodes
        _api(home[person["account"]], person["token"], "GET", "/api/v1/me")
    msp = _Client(home[MSP["id"]], tokens[(MSP["id"], "admin")])
    desk = _seed_msp_desk(msp)
    trusts = []
    for customer in (CONTOSO, FABRIKAM, TAILSPIN):
        node = home[customer["id"]]
        admin = _Client(node, tokens[(customer["id"], "admin")])
        trust_id = _establish(msp, admin)
        trusts.append(
            {"id": trust_id, "trusting": customer["id"], "trusted": MSP["id"], "status": "active"}
        )
        offered = {"Workplace support": ("Service Desk", "Premium")}
        if customer is FABRIKAM:
            offered["Network & connectivity"] = ("Network Operations", "Standard")
        for service, (team, sla) in offered.items():
            msp.post(
                "/api/v1/offerings",
                {"trust_id": trust_id, "service_id": desk[service], "name": service,
                 "team_id": desk[team], "customer_sla_id": desk[sla]},
            )  # fmt: skip
        admin.post("/api/v1/cis", {"type": "site", "name": f"{customer['name']} office"})
        user = _Client(node, tokens[(customer["id"], "end_user")])
        held = {o["name"]: o["id"] for o in user.get("/api/v1/offerings")["items"]}
        for subject, priority, service in REQUESTS[customer["id"]]:
            user.post(
                "/api/v1/requests",
                {"subject": subject, "offering_id": held[service], "priority": priority,
                 "description": "Raised by the demo seed."},
            )  # fmt: skip
    return {
        "nodes": [
            {"name": n.name, "url": n.url, "accounts": [a["id"] for a in n.accounts]} for n in nodes
        ],
        "accounts": [
            {"id": a["id"], "name": a["name"], "node": n.name, "kind": a["kind"]}
            for n in nodes
            for a in n.accounts
        ],
        "people": people,
        "trusts": trusts,
    }


def _seed_people(demo_node: DemoNode) -> list[dict[str, Any]]:
    node = demo_node.app.extensions["trustdesk"]
    settings = demo_node.settings
    out: list[dict[str, Any]] = []
    with demo_node.app.app_context():
        accounts = Accounts(db.session, node.clock, node.jobs, settings, node.passwords)
        for spec in demo_node.accounts:
            _, admin = accounts.create(
                spec["id"], spec["name"], spec["admin"][0], spec["admin"][1], PASSWORD,
                kind=spec["kind"], via="demo",
            )  # fmt: skip
            who = principal_of(admin, "demo")
            work = Work(
                db.session, who.scope, who.actor, node.clock, node.jobs, settings, who.roles
            )
            people = [admin] + [
                People(work, node.passwords).create(email, name, roles, PASSWORD)
                for email, name, roles in spec["people"]
            ]
            for team_name, members in spec["teams"]:
                Teams(work).create(team_name, member_ids=[people[1 + i].id for i in members])
            for person in people:
                # Tokens are issued by the admin seeding the demo, for each person.
                _, secret = Tokens(work).issue(person.id, "demo", 30)
                out.append(
                    {
                        "account": spec["id"],
                        "email": person.email,
                        "password": PASSWORD,
                        "roles": person.roles,
                        "token": secret,
                    }
                )
        db.session.commit()
    return out


def _seed_msp_desk(msp: _Client) -> dict[str, str]:
    """The MSP's calendar, SLAs, services and teams, by name -> id."""
    office = msp.post("/api/v1/calendars", {"name": "Office hours NL", "definition": OFFICE_NL})
    always = msp.post("/api/v1/calendars", {"name": "24x7", "definition": ALWAYS})
    found = {
        "Standard": msp.post(
            "/api/v1/slas",
            {"name": "Standard", "calendar_id": office["id"], "targets": _targets(2)},
        )["id"],
        "Premium": msp.post(
            "/api/v1/slas", {"name": "Premium", "calendar_id": always["id"], "targets": _targets(1)}
        )["id"],
    }
    for name, description in (
        ("Workplace support", "Laptops, printers, accounts and the software on them"),
        ("Network & connectivity", "Wi-Fi, VPN, internet lines and firewalls"),
    ):
        found[name] = msp.post(
            "/api/v1/services",
            {"name": name, "description": description, "default_sla_id": found["Standard"]},
        )["id"]
    for team in msp.get("/api/v1/teams")["items"]:
        found[team["name"]] = team["id"]
    return found


def _establish(msp: _Client, customer: _Client) -> str:
    invitation = msp.post("/api/v1/trusts/invitations", None)
    proposal = {k: invitation[k] for k in ("node_url", "account", "fingerprint", "code")}
    trust_id = str(customer.post("/api/v1/trusts", proposal)["id"])
    msp.post(f"/api/v1/trusts/{trust_id}/accept", None)
    return trust_id


@dataclass
class _Client:
    node: DemoNode
    token: str

    def get(self, path: str) -> Any:
        return _api(self.node, self.token, "GET", path)

    def post(self, path: str, body: Any) -> Any:
        return _api(self.node, self.token, "POST", path, body)


def _api(node: DemoNode, token: str, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(
        method,
        node.url + path,
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if response.status_code >= 400:
        raise click.ClickException(
            f"seeding the demo failed: {method} {path} on {node.name} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json()


def _print(summary: dict[str, Any], demo_file: Path) -> None:
    for node_info in summary["nodes"]:
        click.echo(
            f"node {node_info['name']:<9} {node_info['url']}  (portal: {node_info['url']}/login)"
            f"  accounts: {', '.join(node_info['accounts'])}"
        )
    click.echo(f"API docs: {summary['nodes'][0]['url']}/api/v1/openapi.json")
    click.echo("logins (account / e-mail / password / roles):")
    for person in summary["people"]:
        click.echo(
            f"  {person['account']:<14} {person['email']:<30} {person['password']}  "
            f"{','.join(person['roles'])}"
        )
    click.echo(
        "trusts: "
        + ", ".join(f"{t['trusting']} -> {t['trusted']} ({t['status']})" for t in summary["trusts"])
    )
    click.echo(f"tokens and everything else: {demo_file}")
