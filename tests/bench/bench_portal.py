"""Portal pages: server time per page, on one node and across a federation (issue 5).

Issue 5 asks for the p95 of the inbox and of a request page with the demo data and with
5,000 requests across two customer nodes, every page under 200 ms. One client asks one
page after another on loopback, so a call's time is the server's time to answer it (plus
well under a millisecond of loopback). Every node runs under gunicorn (2 gthread
workers) on a fresh PostgreSQL database of its own.

- One node: the account's own requests, all open (the inbox reads the most urgent of
  them from the index), and the page of one worked request; 40 and 5,000 requests.
- Federation: an MSP node and two customer nodes, real processes joined by the real
  handshake, the MSP offering one service over each trust. Pages: the MSP specialist's
  inbox (a live, signed fan-out to both customer nodes), a customer's request as the MSP
  specialist sees it over the trust (``/trusts/<t>/requests/<id>``, read live from the
  customer's node), and the same request as its end user sees it on their own node.
  Demo-sized: 20 requests per customer raised through the API, one worked (notes both
  ways, status changes). Then 2,500 per customer (5,000 in all), the rest copied from the
  API-raised ones by a fixture (``grow_customer``); the inbox is timed at its first step
  (50 rows) and at its deepest (``show=MOST_SHOWN``, 100 rows).

Each row also gives the CPU a call cost the servers and databases of every node the page
touched (the inbox: all three), and the client's: figures that other work on a shared
machine does not inflate, unlike the latencies (see ``harness``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import Table, create_engine, func, select, text
from sqlalchemy.engine import make_url

from portal.views.inbox import MOST_SHOWN
from tests.bench.bench_api import Get, seed_admin
from tests.bench.bench_inbox import Node, _desk, join
from tests.bench.bench_requests import grow_to, setup_desk
from tests.bench.harness import (
    APP_ROLE,
    PG_ADMIN,
    ROOT,
    BenchNode,
    free_port,
    load,
    postgres_node,
    print_table,
)

PASSWORD = "bench-password-1"  # every bench person's, set by seed_admin and the nodes
DEMO_REQUESTS = 40
PER_CUSTOMER_DEMO = 20
PER_CUSTOMER_BIG = 2_500


def portal_cookie(url: str, account: str, email: str) -> str:
    """Sign in through the login form; returns the session cookie."""
    with httpx.Client(base_url=url, timeout=10) as http:
        page = http.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, "no CSRF token on the login page"
        form = {"csrf_token": token.group(1), "account": account, "email": email,
                "password": PASSWORD}  # fmt: skip
        response = http.post("/login", data=form)
        assert response.status_code == 303, response.text
        return str(http.cookies["session"])


class Machines:
    """The CPU of several nodes (their servers, their databases) as one reading, so a
    federated page's row says what it cost every node it touched (see ``harness.load``)."""

    def __init__(self, *nodes: BenchNode) -> None:
        self.nodes = nodes

    def cpu_seconds(self) -> tuple[float, float]:
        readings = [node.cpu_seconds() for node in self.nodes]
        return sum(r[0] for r in readings), sum(r[1] for r in readings)

    def worker_cpu_seconds(self) -> dict[int, float]:
        return {pid: s for node in self.nodes for pid, s in node.worker_cpu_seconds().items()}


def measure(
    url: str, cookie: str, path: str, seconds: float, page: str, data: str, nodes: Any
) -> dict[str, Any]:
    """One page asked again and again by one client; a row of the table."""
    headers = {"Cookie": f"session={cookie}", "Accept": "text/html"}
    load(url, headers, Get(path), clients=1, seconds=0.5, max_calls=5)  # warm-up
    result = load(url, headers, Get(path), clients=1, seconds=seconds, max_calls=400, node=nodes)
    assert result.errors == 0, f"{path} answered errors"
    row = result.row(page)
    return {"page": row.pop("scenario"), "data": data, **row}


# --- one node ------------------------------------------------------------------------------


def seed_requests(node: BenchNode, headers: dict[str, str], offering: str) -> str:
    """Demo-sized data: requests through the API, one of them worked (notes, status)."""
    with httpx.Client(base_url=node.url, headers=headers, timeout=10) as http:
        ids = []
        for i in range(DEMO_REQUESTS):
            body = {
                "subject": f"Demo request {i}",
                "offering_id": offering,
                "priority": ("p1", "p2", "p3", "p4")[i % 4],
            }
            ids.append(http.post("/api/v1/requests", json=body).raise_for_status().json()["id"])
        worked = ids[0]
        for n in range(6):
            note = {"body": f"Note {n}: looked into it", "public": n % 2 == 0}
            http.post(f"/api/v1/requests/{worked}/notes", json=note).raise_for_status()
        for status in ("in_progress", "waiting_for_customer", "in_progress"):
            patch = {"status": status}
            http.patch(f"/api/v1/requests/{worked}", json=patch).raise_for_status()
        return worked


def one_node(seconds: float) -> list[dict[str, Any]]:
    rows = []
    with postgres_node(workers=2) as node:
        headers = {"Authorization": f"Bearer {seed_admin(node)}"}
        offering = setup_desk(node, headers)
        worked = seed_requests(node, headers, offering)
        cookie = portal_cookie(node.url, "bench", "admin@bench.test")
        for size in (DEMO_REQUESTS, 5_000):
            data = f"{grow_to(node, size)} own requests"
            for name, path in (("inbox", "/inbox"), ("request page", f"/requests/{worked}")):
                rows.append(
                    measure(node.url, cookie, path, seconds, f"one node: {name}", data, node)
                )
    return rows


# --- federation ----------------------------------------------------------------------------


def serve_node(directory: str, port: str, name: str, kind: str, owner: str, runtime: str) -> None:
    """A node's process (``python -m tests.bench.bench_portal node ...``): migrate its
    PostgreSQL database, create account NAME with an admin, a specialist in the team
    "Service Desk" and an end user (tokens to DIR/tokens.json), serve on PORT."""
    from account_node.app import create_app
    from account_node.context import Work
    from account_node.db import db
    from account_node.identity.accounts import Accounts
    from account_node.identity.authentication import principal_of
    from account_node.identity.service import People, Teams, Tokens
    from account_node.migrations import upgrade
    from account_node.server import serve_forever
    from account_node.settings import load_settings

    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    settings = load_settings().replace(
        data_dir=str(root), database_url=runtime, migration_database_url=owner,
        public_url=f"http://127.0.0.1:{port}", node_name=name,
        federation_allow_http=True, federation_allow_private=True,
        password_time_cost=1, password_memory_kib=1024, sla_sweep_seconds=0,
        log_level="WARNING", secret_key=f"bench-secret-{name}-0123456789abcdef",
    )  # fmt: skip
    upgrade(owner, APP_ROLE)
    app = create_app(settings)
    node = app.extensions["trustdesk"]
    with app.app_context():
        accounts = Accounts(db.session, node.clock, node.jobs, settings, node.passwords)
        _, admin = accounts.create(
            name, name.title(), f"admin@{name}.test", "Admin", PASSWORD, kind=kind
        )
        who = principal_of(admin, "bench")
        work = Work(db.session, who.scope, who.actor, node.clock, node.jobs, settings, who.roles)
        people = People(work, node.passwords)
        staff = {
            "admin": admin,
            "specialist": people.create(f"spec@{name}.test", "Spec", ["specialist"], PASSWORD),
            "end_user": people.create(f"user@{name}.test", "User", ["end_user"], PASSWORD),
        }
        Teams(work).create("Service Desk", member_ids=[staff["specialist"].id])
        tokens = {role: Tokens(work).issue(p.id, "bench", 1)[1] for role, p in staff.items()}
        db.session.commit()
    node.close()
    (root / "tokens.json").write_text(json.dumps(tokens))
    serve_forever(settings, "127.0.0.1", int(port), 2)


class PortalNode(Node):
    """The inbox bench's node (calls with a role's token, stop, signal), but on a
    PostgreSQL database of its own, with two workers, started by ``serve_node``."""

    def __init__(self, root: Path, name: str, kind: str, database: tuple[str, str]) -> None:
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = root / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.owner_url, runtime = database
        command = [sys.executable, "-m", "tests.bench.bench_portal", "node", str(self.dir),
                   str(self.port), name, kind, self.owner_url, runtime]  # fmt: skip
        with (self.dir / "node.log").open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=log, start_new_session=True
            )
        self.tokens: dict[str, str] = {}


@contextmanager
def fresh_databases(count: int) -> Iterator[list[tuple[str, str]]]:
    """``count`` empty databases: (owner URL, the runtime role's URL) each; dropped after."""
    admin = make_url(PG_ADMIN)
    names = [f"td_bench_{secrets.token_hex(4)}" for _ in range(count)]
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for name in names:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield [
            (
                admin.set(database=name).render_as_string(hide_password=False),
                admin.set(database=name, username=APP_ROLE, password=None).render_as_string(
                    hide_password=False
                ),
            )
            for name in names
        ]
    finally:
        with engine.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def work_over_trust(msp: Node, customer: Node, trust: str, request_id: str) -> None:
    """A worked request: the MSP specialist's notes and status changes over the trust, the
    end user's replies on their own node, so both pages show a real timeline."""
    path = f"/api/v1/trusts/{trust}/requests/{request_id}"
    for n in range(4):
        note = {"body": f"Note {n}: looked into it", "public": n % 2 == 0}
        msp.call("specialist", "POST", f"{path}/notes", note)
        reply = {"body": f"Reply {n}: thanks", "public": True}
        customer.call("end_user", "POST", f"/api/v1/requests/{request_id}/notes", reply)
    for status in ("in_progress", "waiting_for_customer", "in_progress"):
        msp.call("specialist", "PATCH", path, {"status": status})


def grow_customer(owner_url: str, count: int) -> int:
    """A fixture, bypassing the API: copy the open requests raised through the API (and
    their timelines) until the node holds ``count``. Each copy is a valid request: a new
    id and the next number (the counter moves on), every moment shifted together, so its
    SLA clocks read as the original's would have, a few seconds to minutes earlier. No
    audit events are written for copies (their hash chain cannot be faked validly)."""
    from services.requests.models import Request, RequestCounter, RequestEvent

    requests, events, counters = (
        cast(Table, model.__table__) for model in (Request, RequestEvent, RequestCounter)
    )
    engine = create_engine(owner_url)
    with engine.begin() as connection:
        have = connection.scalar(select(func.count()).select_from(requests)) or 0
        if count > have:
            originals = connection.execute(
                select(requests).where(requests.c.status == "new")
                .order_by(requests.c.number).limit(PER_CUSTOMER_DEMO)
            ).mappings().all()  # fmt: skip
            timelines = _timelines(connection, events, [r["id"] for r in originals])
            last = connection.scalar(select(func.max(requests.c.number))) or 0
            copies, copied_events = [], []
            for g in range(1, count - have + 1):
                original = originals[g % len(originals)]
                copy = _shifted(original, timedelta(seconds=g), MOMENTS)
                copy.update(id=uuid.uuid4().hex, number=last + g, idempotency_key=None)
                copies.append(copy)
                copied_events += [
                    {**_shifted(e, timedelta(seconds=g), ("at",)), "id": uuid.uuid4().hex,
                     "request_id": copy["id"]}
                    for e in timelines[original["id"]]
                ]  # fmt: skip
            connection.execute(requests.insert(), copies)
            connection.execute(events.insert(), copied_events)
            connection.execute(counters.update().values(last=last + count - have))
        connection.execute(text("ANALYZE requests"))
        connection.execute(text("ANALYZE request_events"))
        total = connection.scalar(select(func.count()).select_from(requests)) or 0
    engine.dispose()
    return total


MOMENTS = ("created_at", "updated_at", "response_due_at", "resolution_due_at",
           "response_at_risk_at", "resolution_at_risk_at")  # fmt: skip


def _shifted(row: Any, earlier: timedelta, moments: tuple[str, ...]) -> dict[str, Any]:
    return {k: (v - earlier if k in moments and v is not None else v) for k, v in row.items()}


def _timelines(connection: Any, events: Any, ids: list[str]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {i: [] for i in ids}
    for event in connection.execute(select(events).where(events.c.request_id.in_(ids))):
        found[event.request_id].append(event._mapping)
    return found


@contextmanager
def three_nodes() -> Iterator[tuple[PortalNode, list[PortalNode]]]:
    """An MSP node and two customer nodes, each a process with a database of its own."""
    root = Path(tempfile.mkdtemp(prefix="td-bench-portal-"))
    with fresh_databases(3) as databases:
        msp = PortalNode(root, "msp", "msp", databases[0])
        customers = [PortalNode(root, f"customer{i}", "customer", databases[1 + i]) for i in (0, 1)]
        try:
            for node in (msp, *customers):
                node.ready()
            yield msp, customers
        finally:
            for node in (msp, *customers):
                node.stop()
    shutil.rmtree(root, ignore_errors=True)  # kept after a failure: each node's node.log


def machine(node: PortalNode) -> BenchNode:
    """What ``harness`` needs to read a node's CPU: its server's pid and its database."""
    database = make_url(node.owner_url).database or ""
    return BenchNode(node.url, node.owner_url, "", str(node.dir), node.process.pid, database)


def federation(seconds: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with three_nodes() as (msp, customers):
        desk = _desk(msp)
        (trust, worked), _ = (join(msp, desk, c, PER_CUSTOMER_DEMO) for c in customers)
        work_over_trust(msp, customers[0], trust, worked)
        specialist = portal_cookie(msp.url, "msp", "spec@msp.test")
        user = portal_cookie(customers[0].url, "customer0", "user@customer0.test")
        machines = [machine(node) for node in (msp, *customers)]
        everyone, msp_and_customer = Machines(*machines), Machines(*machines[:2])
        inbox = ("MSP inbox", msp.url, specialist, "/inbox", everyone)
        deepest = (f"MSP inbox, {MOST_SHOWN} shown", msp.url, specialist,
                   f"/inbox?show={MOST_SHOWN}", everyone)  # fmt: skip
        pages = [
            ("MSP request over trust", msp.url, specialist,
             f"/trusts/{trust}/requests/{worked}", msp_and_customer),
            ("customer's own request", customers[0].url, user, f"/requests/{worked}",
             Machines(machines[1])),
        ]  # fmt: skip
        for per_customer in (PER_CUSTOMER_DEMO, PER_CUSTOMER_BIG):
            for customer in customers:
                grow_customer(customer.owner_url, per_customer)
            data = f"{2 * per_customer} on 2 customer nodes"
            # On the demo data, every step of the inbox shows everything: one row says it.
            inboxes = [inbox] if per_customer == PER_CUSTOMER_DEMO else [inbox, deepest]
            for name, url, cookie, path, involved in inboxes + pages:
                rows.append(measure(url, cookie, path, seconds, name, data, involved))
    return rows


def main(seconds: float = 5.0) -> dict[str, Any]:
    before = os.getloadavg()[0]
    rows = federation(seconds) + one_node(seconds)
    slowest = max(rows, key=lambda row: row["p95_ms"])
    return {
        "rows": rows,
        "slowest p95 (ms)": f"{slowest['p95_ms']} ({slowest['page']}, {slowest['data']})",
        "goal: every page under (ms)": 200,
        # Latencies move with other work on the machine; the CPU columns much less.
        "load average (1 min), start / end": f"{before:.1f} / {os.getloadavg()[0]:.1f}",
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["node"]:
        serve_node(*sys.argv[2:])
    else:
        result = main()
        print_table("portal pages: gunicorn 2 workers per node, PostgreSQL", result.pop("rows"))
        print_table("summary", result)
