"""Portal pages under gunicorn (2 workers) on PostgreSQL: server time per page.

Issue 5 asks for the p95 of the inbox and of a request page with the demo data and with
5,000 requests, each page well under 200 ms. One client process asks one page after
another on loopback, so a call's time is the node's time to answer it (plus well under
a millisecond of loopback). The inbox is the worst case: every request is open, so it
reads and sorts all of them (up to its gathering limit) on each visit.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.bench.bench_api import Get, seed_admin
from tests.bench.bench_requests import grow_to, setup_desk
from tests.bench.harness import BenchNode, load, postgres_node, print_table

PASSWORD = "bench-password-1"  # the bench admin's, set by seed_admin
DEMO_REQUESTS = 40


def portal_cookie(node: BenchNode, account: str = "bench") -> str:
    """Sign in through the login form as the bench admin; returns the session cookie."""
    with httpx.Client(base_url=node.url, timeout=10) as http:
        page = http.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, "no CSRF token on the login page"
        form = {
            "csrf_token": token.group(1),
            "account": account,
            "email": f"admin@{account}.test",
            "password": PASSWORD,
        }
        response = http.post("/login", data=form)
        assert response.status_code == 303, response.text
        return str(http.cookies["session"])


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


def measure(node: BenchNode, cookie: str, path: str, seconds: float) -> Any:
    headers = {"Cookie": f"session={cookie}"}
    result = load(node.url, headers, Get(path), clients=1, seconds=seconds, max_calls=400)
    assert result.errors == 0, f"{path} answered errors"
    return result


def main(seconds: float = 5.0) -> dict[str, Any]:
    rows, figures = [], {}
    with postgres_node(workers=2) as node:
        headers = {"Authorization": f"Bearer {seed_admin(node)}"}
        offering = setup_desk(node, headers)
        worked = seed_requests(node, headers, offering)
        cookie = portal_cookie(node)
        for size in (DEMO_REQUESTS, 5_000):
            total = grow_to(node, size)
            for name, path in (("inbox", "/inbox"), ("request page", f"/requests/{worked}")):
                result = measure(node, cookie, path, seconds)
                rows.append(result.row(f"{name} ({total} open requests)"))
                figures[f"{name.replace(' ', '_')}_p95_ms_{total}"] = round(result.p95_ms, 2)
    return {"rows": rows, **figures}


if __name__ == "__main__":
    result = main()
    print_table("portal pages: gunicorn 2 workers, PostgreSQL, 1 client", result.pop("rows"))
    print_table("summary", result)
