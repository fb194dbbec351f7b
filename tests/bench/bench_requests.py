"""Requests through the API under gunicorn (2 workers) on PostgreSQL, 4 client processes.

Issue 3 goals: creating requests (SLA, routing and audit included) at >= 400/s, and a
page of 25 with p95 <= 50 ms that stays flat (within 1.2x) from 500 to 50,000 requests.

The node runs its jobs in-process (the embedded default), so the create figure is the
node's own work. A last row repeats the create load on a fresh node whose jobs go to
Redis + rq as in production (each create enqueues its SLA check there; no worker runs
them), with the Redis server's CPU counted with the database's.

Order: a short warm-up of creates (first calls compile statements and calendars), an
ANALYZE (see ``analyze``), the list at 500 requests, the create load, then the list at
50,000. The list at 500 thus really has 500 requests whatever the create rate. Each row
also gives the CPU a call cost the server, the database and the clients (see harness):
on a shared machine, rates move with other load, and ``2 cores * 1000 / total CPU ms``
bounds the rate an idle one allows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from services.requests.models import Request
from tests.bench.bench_api import Get, seed_admin
from tests.bench.harness import BenchNode, LoadResult, load, postgres_node, print_table

OFFICE = {
    "timezone": "Europe/Amsterdam",
    "weekly": {
        d: [["08:00", "12:00"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")
    },
    "holiday_country": "NL",
}
TARGETS = {
    p: {"response": 60 * m, "resolution": 240 * m}
    for p, m in (("p1", 1), ("p2", 2), ("p3", 4), ("p4", 8))
}


@dataclass
class CreateRequest:
    offering_id: str

    def __call__(self, client: int, i: int) -> tuple[str, str, Any]:
        body = {"subject": f"Bench {client}-{i}", "offering_id": self.offering_id, "priority": "p3"}
        return "POST", "/api/v1/requests", body


def setup_desk(node: BenchNode, headers: dict[str, str]) -> str:
    with httpx.Client(base_url=node.url, headers=headers, timeout=10) as http:

        def made(path: str, body: dict[str, Any]) -> str:
            response = http.post(path, json=body)
            response.raise_for_status()
            return str(response.json()["id"])

        calendar = made("/api/v1/calendars", {"name": "Office", "definition": OFFICE})
        sla = made(
            "/api/v1/slas", {"name": "Standard", "calendar_id": calendar, "targets": TARGETS}
        )
        service = made("/api/v1/services", {"name": "Workplace", "default_sla_id": sla})
        team = made("/api/v1/teams", {"name": "Service Desk"})
        return made(
            "/api/v1/offerings", {"service_id": service, "name": "Workplace", "team_id": team}
        )


def analyze(node: BenchNode) -> None:
    """Give the planner statistics, as autovacuum does in production once a table has
    50 rows. Without them (autovacuum off, as on some CI machines) plans made on the
    near-empty tables stay in the node's connections, and some read all of an account's
    requests per create (``account_node.postgres.warn_without_autovacuum``)."""
    engine = create_engine(node.owner_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()


def grow_to(node: BenchNode, count: int) -> int:
    """Copy one real request until the account holds ``count`` (a fixture, bypassing the API)."""
    engine = create_engine(node.owner_url)
    columns = [c.name for c in Request.__table__.columns]
    overrides = {
        "id": "md5(r.id || g::text)",
        "number": "r.number + g",
        "subject": "'Seeded request ' || g",
        "created_at": "r.created_at - make_interval(secs => g)",
        "updated_at": "r.created_at - make_interval(secs => g)",
        "idempotency_key": "NULL",
    }
    select_list = ", ".join(overrides.get(c, f"r.{c}") for c in columns)
    with engine.begin() as connection:
        have = connection.scalar(text("SELECT count(*) FROM requests"))
        missing = count - have
        if missing > 0:
            template = connection.scalar(text("SELECT id FROM requests ORDER BY number LIMIT 1"))
            connection.execute(
                text(
                    f"INSERT INTO requests ({', '.join(columns)}) SELECT {select_list} "  # noqa: S608
                    "FROM requests r, generate_series(:first, :first + :n - 1) g WHERE r.id = :t"
                ),
                {"first": 1_000_000 + have, "n": missing, "t": template},
            )
        connection.execute(text("ANALYZE requests"))
        total = connection.scalar(text("SELECT count(*) FROM requests"))
    engine.dispose()
    return int(total)


def sweep_figures(node: BenchNode, sample: int = 10_000) -> dict[str, float]:
    """The periodic SLA sweep, in this process, on the bench database.

    ``sweep_s``: the sweep as the node runs it. The database picks the requests whose
    stored clocks may be stale; the seeded copies carry their template's (fresh)
    moments and states, so it picks none, and the figure is the cost of asking.
    ``load_<n>_s`` and ``read_<n>_s``: what the sweep does for each request it picks,
    before it decides to write: load ``sample`` open requests from the database, then
    read both clocks of each and compare them with what is stored (the issue's "SLA
    state of 10,000 open requests", through the node's own code and data).
    """
    import time

    from account_node.app import create_app
    from account_node.db import db
    from account_node.settings import load_settings
    from services.requests.jobs import monitor_work, sweep_clocks
    from services.requests.service import Requests

    settings = load_settings().replace(
        database_url=node.runtime_url, data_dir=node.data_dir, secret_key="bench",
        public_url=node.url, log_level="WARNING", sla_sweep_seconds=0,
    )  # fmt: skip
    owner = create_engine(node.owner_url)  # past row-level security
    with owner.connect() as connection:
        account = connection.scalar(text("SELECT account_id FROM requests LIMIT 1"))
    owner.dispose()
    app = create_app(settings)
    runner = app.extensions["trustdesk"]
    try:
        with app.app_context():
            began = time.perf_counter()
            sweep_clocks(runner, reschedule=False)
            swept = time.perf_counter() - began
            requests = Requests(monitor_work(runner, account))
            began = time.perf_counter()
            batch = requests.store.open_requests(None, sample)
            loaded = time.perf_counter()
            requests.stale(batch)  # reads, compares, writes nothing
            read = time.perf_counter()
            db.session.rollback()
    finally:
        runner.close()
    return {
        "sweep_s": round(swept, 3),
        f"load_{len(batch)}_s": round(loaded - began, 3),
        f"read_{len(batch)}_s": round(read - loaded, 3),
    }


BENCH_REDIS_URL = os.environ.get("TRUSTDESK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def creates_with_jobs_on_redis(seconds: float) -> LoadResult | str:
    """The create load on a fresh node whose jobs go to Redis, or why it could not run."""
    import redis

    try:
        redis.Redis.from_url(BENCH_REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"skipped: no Redis at {BENCH_REDIS_URL} ({type(exc).__name__})"
    with postgres_node(workers=2, redis_url=BENCH_REDIS_URL) as node:
        headers = {"Authorization": f"Bearer {seed_admin(node)}"}
        create = CreateRequest(setup_desk(node, headers))
        load(node.url, headers, create, seconds=1.0)  # warm-up, not reported
        analyze(node)
        return load(node.url, headers, create, seconds=seconds, node=node)


def main(seconds: float | None = None) -> dict[str, Any]:
    seconds = seconds or float(os.environ.get("TRUSTDESK_BENCH_SECONDS", "6"))
    rows = []
    with postgres_node(workers=2) as node:
        headers = {"Authorization": f"Bearer {seed_admin(node)}"}
        offering = setup_desk(node, headers)
        create, listing = CreateRequest(offering), Get("/api/v1/requests?limit=25")
        load(node.url, headers, create, seconds=1.0)  # warm-up, not reported
        analyze(node)
        lists = {}
        total = grow_to(node, 500)
        lists[500] = load(node.url, headers, listing, seconds=seconds, node=node)
        rows.append(lists[500].row(f"GET /api/v1/requests?limit=25 ({total} in account)"))
        created = load(node.url, headers, create, seconds=seconds, node=node)
        rows.append(created.row("POST /api/v1/requests"))
        total = grow_to(node, 50_000)
        lists[50_000] = load(node.url, headers, listing, seconds=seconds, node=node)
        rows.append(lists[50_000].row(f"GET /api/v1/requests?limit=25 ({total} in account)"))
        sweep = sweep_figures(node)
    queued = creates_with_jobs_on_redis(seconds)
    if not isinstance(queued, str):
        rows.append(queued.row("POST /api/v1/requests (jobs on Redis + rq)"))
    flat = lists[50_000].p95_ms / lists[500].p95_ms
    create_cpu = created.server_cpu_ms + created.db_cpu_ms + created.client_cpu_ms
    return {
        "rows": rows,
        "create_per_s": round(created.per_second, 1),
        "create_cpu_ms_total": round(create_cpu, 2),
        "create_per_s_bound_2_idle_cores": round(2000 / create_cpu, 1) if create_cpu else None,
        "create_worker_cpu_pct": "/".join(map(str, created.worker_shares)),
        **(
            {"create_jobs_on_redis": queued}
            if isinstance(queued, str)
            else {
                "create_per_s_jobs_on_redis": round(queued.per_second, 1),
                "create_cpu_ms_total_jobs_on_redis": round(
                    queued.server_cpu_ms + queued.db_cpu_ms + queued.client_cpu_ms, 2
                ),
            }
        ),
        "list_p50_ms_500": round(lists[500].p50_ms, 2),
        "list_p95_ms_500": round(lists[500].p95_ms, 2),
        "list_p50_ms_50000": round(lists[50_000].p50_ms, 2),
        "list_p95_ms_50000": round(lists[50_000].p95_ms, 2),
        "list_flatness": round(flat, 2),
        f"sla_sweep_s_{total}_open": sweep["sweep_s"],
        **{f"sla_{k}": v for k, v in sweep.items() if k != "sweep_s"},
    }


if __name__ == "__main__":
    result = main()
    print_table("requests API: gunicorn 2 workers, PostgreSQL, 4 clients", result.pop("rows"))
    print_table("summary", result)
