"""Instructions per API call, counted by callgrind: a figure that other load cannot move.

On a shared 2-core VM the other benches' rates, and even their CPU per call, move by 30 %
and more from one run to the next, so a change worth 5 % cannot be seen in them.
Callgrind counts the instructions the node's Python process executes; for the same code
and data the count repeats to within about 1 %, whatever else the machine does.
PostgreSQL's own work is not counted (it is another process).

The node runs in-process (Flask's test client) on a fresh PostgreSQL database, set up
through the API of a node under gunicorn like the ``requests`` bench. Each scenario
is warmed up, then counted over ``CALLS`` calls: GET /api/v1/me (authentication and the
request cycle), POST /api/v1/requests (a create: SLA, routing, audit) and GET
/api/v1/requests?limit=25. Needs valgrind, its header ``valgrind/callgrind.h`` and a C
compiler (a six-line helper marks the counted calls); skipped, saying so, without them.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.bench.harness import ROOT

CALLS = 100
WARM_UP = 30
SCENARIOS = ("GET /api/v1/me", "POST /api/v1/requests", "GET /api/v1/requests?limit=25")
HEADER = Path("/usr/include/valgrind/callgrind.h")
HELPER = """
#include <valgrind/callgrind.h>
void counting_starts(void) {
    CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT;
}
void counting_ends(void) {
    CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS; CALLGRIND_STOP_INSTRUMENTATION;
}
"""


def missing() -> str | None:
    if shutil.which("valgrind") is None:
        return "valgrind is not installed"
    if shutil.which("cc") is None:
        return "no C compiler (cc)"
    if not HEADER.exists():
        return f"{HEADER} is missing"
    return None


def main() -> dict[str, Any]:
    reason = missing()
    if reason:
        return {"skipped": reason}
    with tempfile.TemporaryDirectory(prefix="td-bench-cg-") as scratch:
        helper = Path(scratch) / "counting.so"
        source = Path(scratch) / "counting.c"
        source.write_text(HELPER)
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", helper, source], check=True)
        out = Path(scratch) / "callgrind.out"
        counted = subprocess.run(
            [
                "valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
                f"--callgrind-out-file={out}", sys.executable, "-m",
                "tests.bench.bench_instructions", str(helper),
            ],
            cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        if counted.returncode != 0:
            raise RuntimeError(f"the counted run failed:\n{counted.stderr[-3000:]}")
        counts = [_total(Path(f"{out}.{part}")) for part in range(1, len(SCENARIOS) + 1)]
    rows = [
        {"scenario": name, "calls": CALLS, "instructions_per_call": count // CALLS}
        for name, count in zip(SCENARIOS, counts, strict=True)
    ]
    return {"rows": rows}


def _total(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"{dump} has no summary line")


def _count(helper: str) -> None:
    """Runs under callgrind: set up a desk, then count each scenario's calls."""
    from tests.bench.bench_api import seed_admin
    from tests.bench.bench_requests import setup_desk
    from tests.bench.harness import postgres_node

    marks = ctypes.CDLL(helper)
    with postgres_node(workers=1) as node:
        headers = {"Authorization": f"Bearer {seed_admin(node)}"}
        offering = setup_desk(node, headers)
        os.environ.update(
            TRUSTDESK_DATABASE_URL=node.runtime_url,
            TRUSTDESK_DATA_DIR=node.data_dir,
            TRUSTDESK_SECRET_KEY="bench",
            TRUSTDESK_PUBLIC_URL=node.url,
            TRUSTDESK_LOG_LEVEL="WARNING",
        )
        from account_node.app import create_app

        client = create_app().test_client()
        raised = iter(range(10**9))

        def call(scenario: str) -> None:
            method, path = scenario.split(" ")
            body = None
            if method == "POST":
                body = {"subject": f"Counted {next(raised)}", "offering_id": offering}
            response = client.open(path, method=method, json=body, headers=headers)
            if response.status_code >= 300:
                raise RuntimeError(f"{scenario}: {response.status_code} {response.text}")

        for scenario in SCENARIOS:
            for _ in range(WARM_UP):
                call(scenario)
            marks.counting_starts()
            for _ in range(CALLS):
                call(scenario)
            marks.counting_ends()


if __name__ == "__main__":
    _count(sys.argv[1])
