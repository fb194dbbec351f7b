"""A database that drops its connections (a restart, a failover) costs one request.

The node pools its connections. When PostgreSQL drops them all, the first request to
find its connection gone fails with a problem document, and the whole pool is renewed
at that moment: the next requests do not each trip over another dead connection.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text

from account_node.db import db
from tests.factories.accounts import make_account

POOLED = 3


def _pooled_backends(app) -> list[int]:
    """Leave at least ``POOLED`` connections in the node's pool, and only those whose
    server process ids this returns: every idle one is checked out, so that the next
    request cannot be handed a connection that earlier tests left and nobody dropped."""
    with app.app_context():
        idle = db.engine.pool.checkedin()  # type: ignore[attr-defined]
        held = [db.engine.connect() for _ in range(max(POOLED, idle))]
        pids = [c.connection.driver_connection.info.backend_pid for c in held]
        for connection in held:
            connection.close()
    return pids


def _terminate(owner_url: str, pids: list[int]) -> int:
    engine = create_engine(owner_url)
    with engine.connect() as connection:
        dropped = connection.scalar(
            text("SELECT count(*) FROM unnest(:pids) AS p WHERE pg_terminate_backend(p)"),
            {"pids": pids},
        )
    engine.dispose()
    return int(dropped or 0)


def test_dropped_connections_cost_one_request_and_renew_the_pool(postgres_app, postgres_urls):
    account = make_account(postgres_app)
    client = postgres_app.test_client()
    assert client.get("/api/v1/me", headers=account.admin.headers).status_code == 200
    pooled = _pooled_backends(postgres_app)
    assert _terminate(postgres_urls[0], pooled) == len(pooled)

    first = client.get("/api/v1/me", headers=account.admin.headers)
    assert first.status_code in (500, 503)
    assert first.mimetype == "application/problem+json"
    after = [client.get("/api/v1/me", headers=account.admin.headers) for _ in range(POOLED)]
    assert [answer.status_code for answer in after] == [200] * POOLED
