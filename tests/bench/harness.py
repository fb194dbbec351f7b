"""Benchmark plumbing: a real node under gunicorn on a fresh PostgreSQL database, and a
bounded load generator (separate client processes, fixed duration) on loopback only."""

from __future__ import annotations

import multiprocessing
import os
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


@contextmanager
def postgres_node(workers: int = 2) -> Iterator[BenchNode]:
    """A fresh database, migrated, and a node serving it under gunicorn; torn down after."""
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
    }
    server = None
    try:
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
        yield BenchNode(url, owner, runtime, str(data_dir))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
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


def _client(args: tuple[str, dict[str, str], Scenario, int, float, int]) -> tuple[list[float], int]:
    base, headers, scenario, client_no, seconds, max_calls = args
    latencies, errors = [], 0
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
        for i in range(max_calls):
            if time.monotonic() > deadline:
                break
            method, path, body = scenario(client_no, i)
            began = time.perf_counter()
            response = http.request(method, path, json=body)
            latencies.append(time.perf_counter() - began)
            errors += response.status_code >= 400
    return latencies, errors


@dataclass
class LoadResult:
    calls: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float

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
        }


def load(
    base: str,
    headers: dict[str, str],
    scenario: Scenario,
    clients: int = 4,
    seconds: float = 6.0,
    max_calls: int = 20_000,
) -> LoadResult:
    """Run ``clients`` processes calling ``scenario`` for ``seconds`` (bounded) each."""
    began = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with context.Pool(clients) as pool:
        results = pool.map(
            _client, [(base, headers, scenario, c, seconds, max_calls) for c in range(clients)]
        )
    elapsed = time.perf_counter() - began
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    return LoadResult(
        len(latencies),
        errors,
        elapsed,
        statistics.median(latencies) * 1000,
        latencies[int(len(latencies) * 0.95) - 1] * 1000,
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
