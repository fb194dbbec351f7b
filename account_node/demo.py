"""``trustdesk demo``: a seeded node on the embedded default, ready to click through.

Until the federation lands (issue 4) this is one node: the MSP's account plus a small
customer's account hosted beside it. It prints the URL and logins and writes them to
``DATA_DIR/demo.json`` in the shape DESIGN section 7 gives, then serves until interrupted.
A second run reuses the seeded data directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from account_node.context import Work
from account_node.db import db
from account_node.identity.accounts import Accounts
from account_node.identity.authentication import principal_of
from account_node.identity.service import People, Teams, Tokens
from account_node.migrations import upgrade
from account_node.settings import Settings

PASSWORD = "demo-password-1"  # noqa: S105 - printed for the person running the demo

ACCOUNTS = [
    {
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
    },
    {
        "id": "contoso",
        "name": "Contoso Dental",
        "kind": "customer",
        "admin": ("admin@contoso.example", "Carla Admin"),
        "people": [("eve@contoso.example", "Eve Enduser", ["end_user"])],
        "teams": [],
    },
]


def run_demo(settings: Settings, data_dir: str, base_port: int, exit_after_seed: bool) -> None:
    from account_node.server import serve_forever

    directory = Path(data_dir).resolve()
    url = f"http://127.0.0.1:{base_port}"
    node_settings = settings.replace(
        data_dir=str(directory / "msp"), database_url="", public_url=url, node_name="msp"
    )
    demo_file = directory / "demo.json"
    if not demo_file.exists():
        Path(node_settings.data_dir).mkdir(parents=True, exist_ok=True)
        upgrade(node_settings.effective_migration_url)
        demo_file.write_text(json.dumps(seed(node_settings, url), indent=2) + "\n")
    summary = json.loads(demo_file.read_text())
    _print(summary, demo_file)
    if not exit_after_seed:
        serve_forever(node_settings, "127.0.0.1", base_port, 1)


def seed(settings: Settings, url: str) -> dict[str, Any]:
    from account_node.app import create_app

    app = create_app(settings)
    node = app.extensions["trustdesk"]
    people_out: list[dict[str, Any]] = []
    with app.app_context():
        accounts = Accounts(db.session, node.clock, node.jobs, settings, node.passwords)
        for spec in ACCOUNTS:
            _, admin = accounts.create(
                spec["id"],
                spec["name"],
                spec["admin"][0],
                spec["admin"][1],
                PASSWORD,
                kind=spec["kind"],
                via="demo",
            )
            who = principal_of(admin, "demo")
            work = Work(
                db.session, who.scope, who.actor, node.clock, node.jobs, settings, who.roles
            )
            people = [admin] + [
                People(work, node.passwords).create(email, name, roles, PASSWORD)
                for email, name, roles in spec["people"]
            ]
            teams = [
                Teams(work).create(team_name, member_ids=[people[1 + i].id for i in members])
                for team_name, members in spec["teams"]
            ] or [Teams(work).create(f"{spec['name']} IT", member_ids=[admin.id])]
            seed_service_desk(work, teams[0].id, requester=people[-1].id)
            for person in people:
                _, secret = Tokens(work).issue(person.id, "demo", 30)
                # Tokens are issued by the admin seeding the demo, for each person.
                people_out.append(
                    {
                        "account": spec["id"],
                        "email": person.email,
                        "password": PASSWORD,
                        "roles": person.roles,
                        "token": secret,
                    }
                )
        db.session.commit()
    node.close()
    return {
        "nodes": [{"name": "msp", "url": url, "accounts": [a["id"] for a in ACCOUNTS]}],
        "accounts": [
            {"id": a["id"], "name": a["name"], "node": "msp", "kind": a["kind"]} for a in ACCOUNTS
        ],
        "people": people_out,
        "trusts": [],
    }


OFFICE_NL = {
    "timezone": "Europe/Amsterdam",
    "weekly": {
        d: [["08:30", "12:30"], ["13:00", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")
    },
    "holiday_country": "NL",
}


def _targets(factor: int) -> dict[str, dict[str, int]]:
    return {
        p: {"response": 30 * m * factor, "resolution": 240 * m * factor}
        for p, m in (("p1", 1), ("p2", 2), ("p3", 4), ("p4", 8))
    }


def seed_service_desk(work: Work, team_id: str, requester: str) -> None:
    """A calendar, SLAs, a service offered to a team, CIs and a few requests."""
    from services.catalog.service import Catalog
    from services.cmdb.service import Cmdb
    from services.offerings.service import Offerings
    from services.requests.service import Requests
    from services.sla.service import Calendars, Slas

    calendar = Calendars(work).create("Office hours NL", OFFICE_NL)
    standard = Slas(work).create("Standard", calendar.id, _targets(2))
    premium = Slas(work).create("Premium", calendar.id, _targets(1))
    service = Catalog(work).create("Workplace support", standard.id, "Laptops, printers, accounts")
    offering = Offerings(work).create(service.id, "Workplace support", team_id, premium.id)
    office = Cmdb(work).create(type="site", name="Head office", sla_id=premium.id)
    printer = Cmdb(work).create(type="printer", name="PRN-001", parent_id=office.id)
    raising = Requests(work)
    for subject, ci in (("Printer jams on every page", printer.id), ("New starter laptop", None)):
        raising.create(subject=subject, offering_id=offering.id, requester_id=requester, ci_id=ci)


def _print(summary: dict[str, Any], demo_file: Path) -> None:
    for node_info in summary["nodes"]:
        click.echo(
            f"node {node_info['name']}: {node_info['url']}  (portal: {node_info['url']}/login)"
        )
    click.echo(f"API docs: {summary['nodes'][0]['url']}/api/v1/openapi.json")
    click.echo("logins (account / e-mail / password / roles):")
    for person in summary["people"]:
        click.echo(
            f"  {person['account']:<14} {person['email']:<28} {person['password']}  "
            f"{','.join(person['roles'])}"
        )
    click.echo(f"tokens and everything else: {demo_file}")
