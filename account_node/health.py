"""Liveness and readiness probes for load balancers and orchestrators (no auth)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import text

from account_node.db import db
from account_node.errors import problem
from account_node.http import node, problem_response

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> dict[str, Any]:
    """The process answers; says nothing about its dependencies."""
    return {"status": "ok"}


@health.get("/readyz")
def readyz() -> Any:
    """Ready to serve: the database answers and, when configured, Redis does too."""
    checks = {"database": _database(), "redis": _redis()}
    if all(state in ("ok", "not_configured") for state in checks.values()):
        return {"status": "ok", "checks": checks}
    body = problem(503, "not_ready", "Not ready", "a dependency is unavailable", checks=checks)
    return problem_response(body)


def _database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception:
        return "unavailable"
    finally:
        db.session.rollback()


def _redis() -> str:
    jobs = node().jobs
    ping = getattr(jobs, "ping", None)
    if ping is None:
        return "not_configured"
    try:
        return "ok" if ping() else "unavailable"
    except Exception:
        return "unavailable"
