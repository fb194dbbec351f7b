"""The cross-account inbox with 1, 5 and 20 customer nodes on loopback (issue 4).

Every node is a real node in a process of its own (gunicorn, one gthread worker, SQLite).
Each customer trusts the MSP through the real handshake, holds one offering and raises
200 open requests on it. The MSP specialist's inbox page is then timed sequentially with
1, 5 and 20 trusting nodes, then with one of the 20 killed (connections refused) and one
hung (SIGSTOP: connections accepted, never answered, so the per-node timeout applies).
Goals: p95 with 20 nodes at most 2x p95 with 1; a dead node adds no more than its timeout.

Each case also reports the CPU one page costs the MSP's node and the customers' nodes
(their process groups, from /proc). All of them share this machine's cores, so their
sum over the cores is the least time a page can take here however well the fan-out
overlaps; the figures say how far the goal's ratio is within that floor's reach. And
before any trust exists, the same ratio for a bare fan-out (``bare_fan_out``): what the
machine, the server and the framework allow a call that does no work at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.bench.harness import ROOT, free_port

REQUESTS_PER_NODE = 200
SAMPLES = 60
TIMEOUT_MS = 2000  # the settings' default inbox_timeout_ms


class Node:
    def __init__(self, root: Path, name: str, kind: str) -> None:
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = root / name
        env = {**os.environ, "TRUSTDESK_INBOX_TIMEOUT_MS": str(TIMEOUT_MS)}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.fednode",
                str(self.dir),
                str(self.port),
                name,
                kind,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # gunicorn's arbiter and worker: one group to signal
        )
        self.tokens: dict[str, str] = {}

    def ready(self) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    self.tokens = json.loads((self.dir / "tokens.json").read_text())
                    return
            except (httpx.HTTPError, FileNotFoundError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"node {self.name} did not start")

    def call(self, role: str, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(
            method, self.url + path, json=body, timeout=30,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
        )  # fmt: skip
        if response.status_code >= 400:
            raise RuntimeError(
                f"{method} {path} on {self.name}: {response.status_code} {response.text}"
            )
        return response.json()

    def signal(self, number: int) -> None:
        """Signal the node's whole process group (the arbiter and its worker)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, number)

    def stop(self) -> None:
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)


ALWAYS = {"timezone": "UTC", "weekly": {d: [["00:00", "24:00"]] for d in
          ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}  # fmt: skip
TARGETS = {p: {"response": 60, "resolution": 480} for p in ("p1", "p2", "p3", "p4")}


def _desk(msp: Node) -> dict[str, str]:
    calendar = msp.call(
        "admin", "POST", "/api/v1/calendars", {"name": "24x7", "definition": ALWAYS}
    )
    sla = msp.call(
        "admin", "POST", "/api/v1/slas",
        {"name": "Standard", "calendar_id": calendar["id"], "targets": TARGETS},
    )  # fmt: skip
    service = msp.call(
        "admin", "POST", "/api/v1/services", {"name": "Workplace", "default_sla_id": sla["id"]}
    )
    [team] = msp.call("admin", "GET", "/api/v1/teams")["items"]
    return {"service": service["id"], "team": team["id"]}


def join(
    msp: Node, desk: dict[str, str], customer: Node, count: int = REQUESTS_PER_NODE
) -> tuple[str, str]:
    """The real handshake, an offering over the trust, and ``count`` open requests raised
    on it by the customer's end user through the API. Returns (trust id, first request)."""
    invitation = msp.call("admin", "POST", "/api/v1/trusts/invitations")
    proposal = {k: invitation[k] for k in ("node_url", "account", "fingerprint", "code")}
    trust = customer.call("admin", "POST", "/api/v1/trusts", proposal)["id"]
    msp.call("admin", "POST", f"/api/v1/trusts/{trust}/accept")
    offering = {"trust_id": trust, "service_id": desk["service"], "name": "Workplace",
                "team_id": desk["team"]}  # fmt: skip
    msp.call("admin", "POST", "/api/v1/offerings", offering)
    [held] = customer.call("end_user", "GET", "/api/v1/offerings")["items"]
    raised = [
        customer.call("end_user", "POST", "/api/v1/requests", {
            "subject": f"{customer.name}: laptop {i} will not start", "offering_id": held["id"],
            "description": "Raised by the bench.", "priority": f"p{1 + i % 4}"})["id"]
        for i in range(count)
    ]  # fmt: skip
    return trust, raised[0]


def group_cpu_seconds() -> dict[int, float]:
    """CPU used so far per process group (each node is one: its arbiter and worker)."""
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            group = int(fields[2])
            used[group] = used.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return used


def _sample(msp: Node, customers: list[Node]) -> dict[str, Any]:
    """Latency of the page, and the CPU one page costs the MSP's node and the customers'
    nodes together: on one machine their sum over its cores bounds the latency from
    below, however the fan-out is done."""
    times = []
    auth = {"Authorization": f"Bearer {msp.tokens['specialist']}"}
    with httpx.Client(base_url=msp.url, timeout=30, headers=auth) as client:
        for _ in range(5):  # warm up
            client.get("/api/v1/inbox")
        before = group_cpu_seconds()
        for _ in range(SAMPLES):
            started = time.perf_counter()
            body = client.get("/api/v1/inbox").json()
            times.append((time.perf_counter() - started) * 1000)
            statuses: dict[str, int] = {}
            for source in body["sources"]:  # as the last call saw them
                statuses[source["status"]] = statuses.get(source["status"], 0) + 1
        after = group_cpu_seconds()
    times.sort()

    def spent_ms(nodes: list[Node]) -> float:
        groups = [n.process.pid for n in nodes if n.process.pid in after]  # not the killed
        used = sum(after[g] - before.get(g, 0.0) for g in groups)
        return round(used * 1000 / SAMPLES, 1)

    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
        "items": len(body["items"]),
        "sources": statuses,
        "cpu_ms_msp": spent_ms([msp]),
        "cpu_ms_customers": spent_ms(customers),
    }


def bare_fan_out(customers: list[Node]) -> dict[int, float]:
    """The p95 (ms) of the least a fan-out can cost on this machine: this process GETs
    ``/healthz`` (no authentication, no database, no signature) of 1, 5 and 20 nodes at
    once on kept-alive connections, as the MSP's pool does, and waits for all of them.
    The same gunicorn and Flask serve it; what the inbox adds on top is its own work."""
    found = {}
    clients = [httpx.Client(base_url=c.url, timeout=30) for c in customers]
    try:
        with ThreadPoolExecutor(max_workers=len(clients)) as pool:
            for size in (1, 5, 20):
                asked = clients[:size]
                times = []
                for sample in range(5 + SAMPLES):
                    started = time.perf_counter()
                    list(pool.map(lambda client: client.get("/healthz"), asked))
                    if sample >= 5:  # the first few open the connections
                        times.append((time.perf_counter() - started) * 1000)
                times.sort()
                found[size] = round(times[int(0.95 * (len(times) - 1))], 1)
    finally:
        for client in clients:
            client.close()
    return found


def main() -> dict[str, Any]:
    """The machine may be shared: the load average at start and end says how far the
    figures can be compared with a run on an idle machine."""
    before = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="td-bench-inbox-"))
    msp = Node(root, "msp", "msp")
    customers = [Node(root, f"customer{i:02d}", "customer") for i in range(20)]
    nodes = [msp, *customers]
    try:
        for node in nodes:
            node.ready()
        bare = bare_fan_out(customers)
        desk = _desk(msp)
        rows = []
        joined = 0
        for size in (1, 5, 20):
            with ThreadPoolExecutor(max_workers=5) as pool:
                list(pool.map(lambda c: join(msp, desk, c), customers[joined:size]))
            joined = size
            rows.append({"case": f"{size} customer node(s)", **_sample(msp, customers[:size])})
        customers[-1].signal(signal.SIGKILL)  # killed: its port refuses connections
        customers[-1].process.wait()
        rows.append({"case": "20 nodes, one killed", **_sample(msp, customers)})
        customers[-2].signal(signal.SIGSTOP)  # hung: the kernel accepts, nobody answers
        rows.append({"case": "20 nodes, one killed, one hung", **_sample(msp, customers)})
    finally:
        for node in nodes:
            node.stop()
    one, twenty = rows[0]["p95_ms"], rows[2]["p95_ms"]
    cores = os.cpu_count() or 1
    floor = (rows[2]["cpu_ms_msp"] + rows[2]["cpu_ms_customers"]) / cores
    return {
        "rows": rows,
        "p95 20 nodes / p95 1 node": round(twenty / one, 2),
        "goal: at most": 2.0,
        f"20 nodes: least page time their CPU allows on {cores} cores (ms)": round(floor, 1),
        "ratio that floor allows at best": round(floor / one, 2),
        "bare fan-out to /healthz, p95 with 1 / 5 / 20 nodes (ms)": " / ".join(
            str(bare[n]) for n in (1, 5, 20)
        ),
        "bare fan-out: p95 20 nodes / p95 1 node": round(bare[20] / bare[1], 2),
        "hung node's extra p95 (ms)": round(rows[4]["p95_ms"] - rows[3]["p95_ms"], 1),
        "per-node timeout (ms)": TIMEOUT_MS,
        "load average (1 min), start / end": f"{before:.1f} / {os.getloadavg()[0]:.1f}",
    }
