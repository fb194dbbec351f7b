"""The foundation's API under gunicorn on PostgreSQL: /me, creating and listing people.

Issue 2 asks for requests/s and p50/p95; 4 client processes on the same machine.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from tests.bench.harness import BenchNode, load, postgres_node, print_table


def seed_admin(node: BenchNode, account: str = "bench") -> str:
    """An account with an admin, through the CLI as an operator would; returns a token."""
    env = {
        **os.environ,
        "TRUSTDESK_DATABASE_URL": node.runtime_url,
        "TRUSTDESK_DATA_DIR": node.data_dir,
        "TRUSTDESK_SECRET_KEY": "bench",
        "TRUSTDESK_ADMIN_PASSWORD": "bench-password-1",
    }
    cli = [sys.executable, "-m", "account_node"]
    email = f"admin@{account}.test"
    subprocess.run(
        [*cli, "account", "create", account, "--name", "Bench", "--kind", "msp",
         "--admin-email", email, "--admin-name", "Bench Admin"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    issued = subprocess.run(
        [*cli, "token", "issue", "--account", account, "--email", email, "--name", "bench"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return issued.stdout.strip()


@dataclass
class Get:
    path: str

    def __call__(self, client: int, i: int) -> tuple[str, str, Any]:
        return "GET", self.path, None


@dataclass
class CreatePerson:
    run: str

    def __call__(self, client: int, i: int) -> tuple[str, str, Any]:
        email = f"p{client}-{i}-{self.run}@bench.test"
        return (
            "POST",
            "/api/v1/users",
            {"email": email, "name": f"Person {i}", "roles": ["end_user"]},
        )


def main(seconds: float = 6.0) -> dict[str, Any]:
    with postgres_node(workers=2) as node:
        headers = {"Authorization": f"Bearer {seed_admin(node)}"}
        rows = [
            load(node.url, headers, Get("/api/v1/me"), seconds=seconds).row("GET /api/v1/me"),
            load(node.url, headers, CreatePerson(secrets.token_hex(3)), seconds=seconds).row(
                "POST /api/v1/users"
            ),
            load(node.url, headers, Get("/api/v1/users?limit=25"), seconds=seconds).row(
                "GET /api/v1/users?limit=25"
            ),
        ]
    return {"rows": rows}


if __name__ == "__main__":
    print_table("foundation API: gunicorn 2 workers, PostgreSQL, 4 clients", main()["rows"])
