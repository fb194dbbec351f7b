"""Jobs for test_jobs.py, importable by dotted path the way a worker imports a job."""

from __future__ import annotations

from typing import Any

ran: list[tuple[Any, ...]] = []


def remember(*args: Any) -> None:
    """Record the arguments the job was called with."""
    ran.append(args)


def fail(*args: Any) -> None:
    raise RuntimeError(f"job failed on purpose with {args!r}")
