"""Benchmark plumbing: a real node under gunicorn on a fresh PostgreSQL database, and a
bounded load generator (separate client processes, fixed duration) on loopback only.

Clients, server and database share the machine's cores, and so may other work. Besides
rates and latencies, a load therefore reports the CPU each call cost the server (its
gunicorn processes), the database (the backends of the bench database) and the clients:
figures that show whether the clients themselves are the bottleneck (on a shared VM,
other load inflates them too; see the ``instructions`` suite for a figure it does not),
and how the server's workers shared the work.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get(
    "TRUSTDESK_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
APP_ROLE = "trustdesk_app"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class BenchNode:
    url: str
    owner_url: str
    runtime_url: str
    data_dir: str
    server_pid: int = 0
    database: str = ""
    redis_url: str = ""  # jobs on Redis + rq when set, else in-process

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU used so far by (the server's processes, the services it uses: the bench
        database's backends, and the Redis server when the node's jobs go there).

        Linux only (``/proc``); (0, 0) elsewhere. Processes that ended meanwhile are not
        counted, so take both readings while the server runs.
        """
        server = services = 0.0
        for pid, parent, seconds, cmdline in _processes() if self.server_pid else ():
            if self.server_pid in (pid, parent):
                server += seconds
            elif self._serves_it(cmdline):
                services += seconds
        return server, services

    def _serves_it(self, cmdline: str) -> bool:
        if cmdline.startswith("postgres:"):
            return f" {self.database} " in cmdline
        return bool(self.redis_url) and cmdline.startswith("redis-server")

    def worker_cpu_seconds(self) -> dict[int, float]:
        """CPU used so far by each of the server's workers (gunicorn's children)."""
        if not self.server_pid:
            return {}
        return {pid: s for pid, parent, s, _ in _processes() if parent == self.server_pid}


def _empty_redis(url: str) -> None:
    if url:
        import redis

        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()


def _processes() -> Iterator[tuple[int, int, float, str]]:
    """(pid, parent pid, CPU seconds, command line) of every process; Linux only."""
    if not Path("/proc").is_dir():
        return
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        yield int(entry.name), int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, cmdline


@contextmanager
def postgres_node(workers: int = 2, redis_url: str = "") -> Iterator[BenchNode]:
    """A fresh database, migrated, and a node serving it under gunicorn; torn down after.
    With ``redis_url``, the node's jobs go to Redis + rq as in production (that Redis
    database is emptied before and after); else they run in-process."""
    from account_node.migrations import upgrade

    admin = make_url(PG_ADMIN)
    name = f"td_bench_{secrets.token_hex(4)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    owner = admin.set(database=name).render_as_string(hide_password=False)
    runtime = admin.set(database=name, username=APP_ROLE, password=None).render_as_string(
        hide_password=False
    )
    data_dir = ROOT / "var" / name
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "TRUSTDESK_DATABASE_URL": runtime,
        "TRUSTDESK_MIGRATION_DATABASE_URL": owner,
        "TRUSTDESK_DATA_DIR": str(data_dir),
        "TRUSTDESK_SECRET_KEY": "bench",
        "TRUSTDESK_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TRUSTDESK_LOG_LEVEL": "WARNING",
        "TRUSTDESK_REDIS_URL": redis_url,
    }
    server = None
    try:
        _empty_redis(redis_url)
        upgrade(owner, APP_ROLE)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "account_node",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            cwd=ROOT,
        )
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url)
        yield BenchNode(url, owner, runtime, str(data_dir), server.pid, name, redis_url)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        _empty_redis(redis_url)
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def _wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"node at {url} did not become ready")


# A call is (method, path, json body or None); a scenario makes the i-th call of client c.
Scenario = Callable[[int, int], tuple[str, str, Any]]


def _client(
    args: tuple[str, dict[str, str], Scenario, int, float, int],
) -> tuple[list[float], int, float]:
    """One client process: keep-alive HTTP/1.1 with the standard library's client.

    Not httpx: its per-call overhead is several times http.client's, and on a small
    machine every millisecond a client spends is one the server under test does not get.
    """
    base, headers, scenario, client_no, seconds, max_calls = args
    latencies, errors = [], 0
    began = _own_cpu()
    target = urlsplit(base)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    sent = {**headers, "Accept": "application/json"}
    deadline = time.monotonic() + seconds
    try:
        for i in range(max_calls):
            if time.monotonic() > deadline:
                break
            method, path, body = scenario(client_no, i)
            payload = None if body is None else json.dumps(body).encode()
            call_headers = sent if payload is None else {**sent, "Content-Type": JSON}
            started = time.perf_counter()
            connection.request(method, path, body=payload, headers=call_headers)
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            errors += response.status >= 400
    finally:
        connection.close()
    return latencies, errors, _own_cpu() - began


JSON = "application/json"


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class LoadResult:
    calls: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    # CPU per call, in milliseconds: the server, the database, the clients (0 if unknown).
    server_cpu_ms: float = 0.0
    db_cpu_ms: float = 0.0
    client_cpu_ms: float = 0.0
    # Each worker's share of the workers' CPU, in %: gunicorn keeps a keep-alive
    # connection in the worker that accepted it, so 4 clients may well be split 3 to 1,
    # and a rate from such a run is lower than from an even one.
    worker_shares: tuple[int, ...] = ()

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds

    def row(self, name: str) -> dict[str, Any]:
        return {
            "scenario": name,
            "calls": self.calls,
            "errors": self.errors,
            "per_s": round(self.per_second, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "cpu_ms_server": round(self.server_cpu_ms, 2),
            "cpu_ms_db": round(self.db_cpu_ms, 2),
            "cpu_ms_clients": round(self.client_cpu_ms, 2),
            "worker_cpu_pct": "/".join(map(str, self.worker_shares)) or "-",
        }


def load(
    base: str,
    headers: dict[str, str],
    scenario: Scenario,
    clients: int = 4,
    seconds: float = 6.0,
    max_calls: int = 20_000,
    node: BenchNode | None = None,
) -> LoadResult:
    """Run ``clients`` processes calling ``scenario`` for ``seconds`` (bounded) each.

    With ``node``, the CPU the node's server and database spent is measured too.
    """
    before = node.cpu_seconds() if node else (0.0, 0.0)
    workers_before = node.worker_cpu_seconds() if node else {}
    began = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with context.Pool(clients) as pool:
        results = pool.map(
            _client, [(base, headers, scenario, c, seconds, max_calls) for c in range(clients)]
        )
    elapsed = time.perf_counter() - began
    after = node.cpu_seconds() if node else (0.0, 0.0)
    workers = node.worker_cpu_seconds() if node else {}
    used = sorted(cpu - workers_before.get(pid, 0.0) for pid, cpu in workers.items())
    latencies = sorted(x for lat, _, _ in results for x in lat)
    errors = sum(e for _, e, _ in results)
    calls = len(latencies)
    per_call = 1000 / calls if calls else 0.0
    return LoadResult(
        calls,
        errors,
        elapsed,
        statistics.median(latencies) * 1000,
        latencies[int(len(latencies) * 0.95) - 1] * 1000,
        server_cpu_ms=(after[0] - before[0]) * per_call,
        db_cpu_ms=(after[1] - before[1]) * per_call,
        client_cpu_ms=sum(cpu for _, _, cpu in results) * per_call,
        worker_shares=tuple(round(100 * u / sum(used)) for u in used) if sum(used) else (),
    )


def print_table(title: str, rows: list[dict[str, Any]] | dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    if isinstance(rows, dict):
        rows = [{"figure": k, "value": v} for k, v in rows.items()]
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)
