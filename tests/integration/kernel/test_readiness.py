"""Readiness reports the database and, when configured, Redis."""

from __future__ import annotations

from account_node.app import create_app
from tests.conftest import node_settings


def test_the_embedded_default_is_ready_without_redis(client):
    body = client.get("/readyz").get_json()
    assert body == {"status": "ok", "checks": {"database": "ok", "redis": "not_configured"}}


def test_a_node_with_redis_checks_it(redis_url, sqlite_dir, clock):
    app = create_app(node_settings(data_dir=str(sqlite_dir), redis_url=redis_url), clock=clock)
    try:
        assert app.test_client().get("/readyz").get_json()["checks"]["redis"] == "ok"
    finally:
        app.extensions["trustdesk"].close()


def test_a_node_whose_redis_is_down_is_not_ready(sqlite_dir, clock):
    settings = node_settings(data_dir=str(sqlite_dir), redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings, clock=clock)
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["checks"] == {"database": "ok", "redis": "unavailable"}
    finally:
        app.extensions["trustdesk"].close()


def test_liveness_needs_nothing(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
