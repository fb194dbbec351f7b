"""Benchmark runner: ``.venv/bin/python tests/bench/run.py [suite ...|all]`` (see SUITES).

Each suite is a module ``tests/bench/bench_<name>.py`` with ``main() -> dict``. The API
suites start a real node under gunicorn on a fresh PostgreSQL database (127.0.0.1:5432,
or TRUSTDESK_BENCH_DATABASE_URL) and only ever talk to loopback.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITES = ("calendar", "signatures", "api", "requests", "instructions", "portal", "inbox")


def run(name: str) -> dict:
    from tests.bench.harness import print_table

    result = importlib.import_module(f"tests.bench.bench_{name}").main()
    rows = result.pop("rows", None)
    if rows:
        print_table(name, rows)
    if result:
        print_table(f"{name}: figures", result)
    return {"rows": rows, **result}


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    wanted = argv[1:] or ["all"]
    names = SUITES if wanted == ["all"] else wanted
    unknown = sorted(set(names) - set(SUITES))
    if unknown:
        print(f"unknown suites {', '.join(unknown)}; choose from {', '.join(SUITES)} or all")
        return 2
    results = {name: run(name) for name in names}
    out = ROOT / "var" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
