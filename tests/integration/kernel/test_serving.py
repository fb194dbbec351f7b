"""The node as `trustdesk serve` runs it: gunicorn, its workers and their connections."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from account_node.server import REQUESTS_PER_CONNECTION
from tests.bench.harness import free_port

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A node on SQLite under gunicorn with two workers, on a loopback port."""
    data_dir = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {
        **os.environ,
        "TRUSTDESK_DATA_DIR": str(data_dir),
        "TRUSTDESK_SECRET_KEY": "served",
        "TRUSTDESK_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TRUSTDESK_LOG_LEVEL": "WARNING",
    }
    env.pop("TRUSTDESK_DATABASE_URL", None)
    command = [sys.executable, "-m", "account_node"]
    subprocess.run([*command, "db", "upgrade"], env=env, cwd=ROOT, check=True)
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port), "--workers", "2"], env=env, cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the node did not come up within 30 s"
            assert server.poll() is None, "the node exited while starting"
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_kept_alive_connection_is_closed_after_its_hundredth_request(served):
    """So that a few long-lived clients cannot all stay on one worker (see _rebalance);
    the client simply carries on over a new connection."""
    with httpx.Client(base_url=served, timeout=5) as client:
        answers = [client.get("/healthz") for _ in range(REQUESTS_PER_CONNECTION + 1)]
    assert all(answer.status_code == 200 for answer in answers)
    closing = [
        i + 1 for i, answer in enumerate(answers) if answer.headers.get("connection") == "close"
    ]
    assert closing == [REQUESTS_PER_CONNECTION]


def test_the_longest_query_a_list_allows_reaches_the_node_not_a_414_in_html(served):
    """A search of 200 characters outside ASCII is 2,400 bytes percent-encoded; with a
    cursor and a list of filters (a trust's offerings, on the visibility API) the line
    passed gunicorn's default limit of 4,094 bytes, and its 414 came as HTML, not a
    problem. Here it reaches the node (no token: a 401 problem)."""
    statuses = ["waiting_for_customer"] * 60
    query = {"q": "\U0001f5a8" * 200, "cursor": "A" * 512, "status": statuses}
    answer = httpx.get(f"{served}/api/v1/requests", params=query, timeout=5)
    assert len(str(answer.request.url)) > 4094
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "chunks",
    [b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n"],
    ids=["chunk size of letters", "chunk without its terminator"],
)
def test_a_body_whose_chunks_are_malformed_is_a_400_problem_not_a_500(served, chunks):
    """gunicorn raises from the request's stream where the node first reads the body: a
    client's broken framing, on any path, must not become a 500 and a logged traceback."""
    host, port = served.removeprefix("http://").split(":")
    head = (
        f"POST /federation/v1/acme/trusts/t1/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(head + chunks)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"400", answer
    assert b"application/problem+json" in rest and b'"code":"bad_request"' in rest
