"""Background jobs: rq on Redis in production, an in-process runner in the embedded default.

Jobs are named by dotted path and take plain ids, so the enqueuing code never imports
the job's module and a job always reloads fresh state. They are enqueued only after the
transaction that asked for them commits (``enqueue_after_commit``). Queues are named by
purpose so operators can give slow deliveries their own workers.

rq's ``is_async=False`` mode swallows exceptions and never runs delayed jobs (see
shared/STACK.md), so the embedded default has its own small runner: one thread that runs
due jobs in order, with delayed jobs kept in a heap.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session
from werkzeug.utils import import_string

from account_node.clock import Clock
from account_node.db import after_commit

QUEUES = ("default", "sla", "delivery", "notifications", "audit")
log = logging.getLogger(__name__)

# Runs ``func(*args)`` inside an application context and commits or rolls back.
Executor = Callable[[str, tuple[Any, ...]], None]


class JobQueue(Protocol):
    def enqueue(
        self,
        queue: str,
        func: str,
        *args: Any,
        at: datetime | None = None,
        job_id: str | None = None,
    ) -> None: ...

    def close(self) -> None: ...


def _check(queue: str, func: str) -> None:
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; queues are {', '.join(QUEUES)}")
    if not func or "." not in func:
        raise ValueError(f"jobs are named by dotted path, not {func!r}")


def enqueue_after_commit(
    session: Session,
    jobs: JobQueue,
    queue: str,
    func: str,
    *args: Any,
    at: datetime | None = None,
    job_id: str | None = None,
) -> None:
    _check(queue, func)
    after_commit(session, lambda: jobs.enqueue(queue, func, *args, at=at, job_id=job_id))


@contextmanager
def then_next_run(
    jobs: JobQueue, clock: Clock, queue: str, func: str, every: int, name: str, *, when: bool
) -> Iterator[None]:
    """Run a sweep's body, then schedule its next run (``when``), failed or not.

    A sweep schedules its own next run: scheduled after a body that could fail, one
    transient error (a lost connection, SQLite busy, a job timeout) ended the chain, and
    the sweep never ran again until the process restarted."""
    try:
        yield
    finally:
        if when:
            schedule_periodic(jobs, clock, queue, func, every, name)


@contextmanager
def contained(session: Session, what: str, subject: str) -> Iterator[None]:
    """One part of a sweep (an account, a request): a failure is logged and rolled back,
    and the sweep goes on with the next part; the next run tries this one again."""
    try:
        yield
    except Exception:
        session.rollback()
        log.exception("%s failed for %s; the next run tries again", what, subject)


def schedule_periodic(
    jobs: JobQueue, clock: Clock, queue: str, func: str, every: int, name: str
) -> datetime | None:
    """Enqueue the next run of a self-rescheduling sweep at the next whole multiple of
    ``every`` seconds (since the epoch), with a job id naming that slot.

    Each ``trustdesk worker`` starts the sweeps, and a finished sweep schedules its next
    run; with ids that named the moment of enqueuing, every worker start added a chain of
    its own, forever. A job id per slot lets the queue keep one job per slot (rq replaces
    a job enqueued again under its id; the embedded runner keeps the pending one), so
    chains started by several workers, or by restarts, merge into one."""
    if every <= 0:
        return None
    slot = (int(clock.now().timestamp()) // every + 1) * every
    due = datetime.fromtimestamp(slot, tz=UTC)
    jobs.enqueue(queue, func, at=due, job_id=f"{name}-{slot}")
    return due


class RqJobs:
    """rq queues on Redis; a ``trustdesk worker`` process runs them."""

    def __init__(self, redis_url: str) -> None:
        from redis import Redis
        from rq import Queue

        # Bounded waits: a Redis that is down must fail a readiness probe, not hang it.
        self.connection = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        self.queues = {name: Queue(name, connection=self.connection) for name in QUEUES}

    def enqueue(
        self,
        queue: str,
        func: str,
        *args: Any,
        at: datetime | None = None,
        job_id: str | None = None,
    ) -> None:
        _check(queue, func)
        target = self.queues[queue]
        options: dict[str, Any] = {"job_id": job_id} if job_id else {}
        if at is None:
            target.enqueue("account_node.jobs.run_in_worker", func, args, **options)
        else:
            target.enqueue_at(at, "account_node.jobs.run_in_worker", func, args, **options)

    def ping(self) -> bool:
        return bool(self.connection.ping())

    def close(self) -> None:
        self.connection.close()


@dataclass(order=True)
class _Pending:
    due: datetime
    order: int
    func: str = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)
    job_id: str | None = field(compare=False, default=None)


class InlineJobs:
    """The embedded default: one background thread runs jobs as they fall due.

    As on rq, a job id names one job: enqueuing again under the id of a job still
    pending adds nothing."""

    def __init__(self, execute: Executor, clock: Clock) -> None:
        self.execute = execute
        self.clock = clock
        self._heap: list[_Pending] = []
        self._pending_ids: set[str] = set()
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="trustdesk-jobs", daemon=True)
        self._thread.start()

    def enqueue(
        self,
        queue: str,
        func: str,
        *args: Any,
        at: datetime | None = None,
        job_id: str | None = None,
    ) -> None:
        _check(queue, func)
        with self._cond:
            if job_id is not None:
                if job_id in self._pending_ids:
                    return
                self._pending_ids.add(job_id)
            due = at or self.clock.now()
            heapq.heappush(self._heap, _Pending(due, next(self._counter), func, args, job_id))
            self._cond.notify_all()

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every job due now has run (tests and the CLI use this)."""
        with self._cond:
            done = self._cond.wait_for(lambda: not self._due_now() and not self._busy, timeout)
        if not done:
            raise TimeoutError("jobs still running after drain timeout")

    def discard_pending(self) -> int:
        """Drop every job not yet started, as a crash would; returns how many."""
        with self._cond:
            dropped, self._heap = len(self._heap), []
            self._pending_ids.clear()
            return dropped

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def pending_calls(self) -> list[tuple[str, tuple[Any, ...]]]:
        """(func, args) of every job not yet started, soonest first."""
        with self._cond:
            return [(job.func, job.args) for job in sorted(self._heap)]

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _due_now(self) -> bool:
        return bool(self._heap) and self._heap[0].due <= self.clock.now()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._due_now():
                    # Poll at most once a second so delayed jobs and fake clocks are seen.
                    self._cond.wait(timeout=self._wait_seconds())
                if self._closed:
                    return
                job = heapq.heappop(self._heap)
                self._pending_ids.discard(job.job_id or "")
                self._busy += 1
            try:
                self.execute(job.func, job.args)
            except Exception:
                log.exception("job %s failed", job.func)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _wait_seconds(self) -> float:
        if not self._heap:
            return 1.0
        delta: timedelta = self._heap[0].due - self.clock.now()
        return max(0.01, min(1.0, delta.total_seconds()))


def run_in_worker(func: str, args: tuple[Any, ...]) -> None:
    """Entry point of every rq job: the worker installs the executor (see worker.py)."""
    if _worker_executor is None:
        raise RuntimeError("run_in_worker called outside `trustdesk worker`")
    _worker_executor(func, args)


_worker_executor: Executor | None = None


def install_worker_executor(execute: Executor) -> None:
    global _worker_executor
    _worker_executor = execute


def resolve(func: str) -> Callable[..., Any]:
    return import_string(func)  # type: ignore[no-any-return]
