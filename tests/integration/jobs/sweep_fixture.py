"""Jobs for test_periodic_sweeps.py, importable by dotted path the way a worker imports a job."""

from __future__ import annotations

import threading
import time
from typing import Any

from account_node.jobs import contained, then_next_run

SWEEP = "tests.integration.jobs.sweep_fixture.sweep"
OVERRUN = "tests.integration.jobs.sweep_fixture.overrun"
NAME = "fixture-sweep"
EVERY = 60

runs: list[str] = []
started = threading.Event()
release = threading.Event()
parts_done: list[str] = []


def reset() -> None:
    runs.clear()
    parts_done.clear()
    started.clear()
    release.clear()


def sweep(node: Any, reschedule: bool = True) -> None:
    """A periodic sweep whose first run lasts until ``release`` is set."""
    with then_next_run(node.jobs, node.clock, "default", SWEEP, EVERY, NAME, when=reschedule):
        runs.append(threading.current_thread().name)
        if not started.is_set():
            started.set()
            release.wait(10)


class _Session:
    def rollback(self) -> None:
        pass


def overrun(node: Any) -> None:
    """A sweep whose first part takes longer than the job may."""
    for part in ("slow", "next"):
        with contained(_Session(), "the fixture sweep", part):  # type: ignore[arg-type]
            if part == "slow":
                time.sleep(5)
            parts_done.append(part)
