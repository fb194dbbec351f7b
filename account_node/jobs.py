"""Background jobs: rq on Redis in production, an in-process runner in the embedded default.

Jobs are named by dotted path and take plain ids, so the enqueuing code never imports
the job's module and a job always reloads fresh state. They are enqueued only after the
transaction that asked for them commits (``enqueue_after_commit``). Queues are named by
purpose so operators can give slow deliveries their own workers.

rq's ``is_async=False`` mode swallows exceptions and never runs delayed jobs (see
shared/STACK.md), so the embedded default has its own small runner: one thread that runs
due jobs in order, with delayed jobs kept in a heap.

Periodic sweeps (SLA, outbox, audit witness, prune) are chains: each run schedules the
next, in a job whose id names its period slot (``schedule_periodic``), so chains started
by several workers merge into one. On Redis a run holds a lock named after its sweep, so
two never overlap, and ``trustdesk worker`` seeds every chain's next slot again and
again, so a chain lost with Redis's data (a flush, a failover) starts again (worker.py).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


# rq's time limit for one run of a periodic sweep. Not rq's default of three minutes: a
# sweep cut there starts again at its first account, and on a large node the accounts
# after that point were never reached.
SWEEP_TIMEOUT = 3600


class SweepBusy(Exception):
    """Another process runs this sweep now: this run stood aside, its next slot scheduled.

    Raised by ``then_next_run`` instead of running the sweep's body, and taken by the job
    runners as a job done (a ``with`` statement has no other way to skip its body)."""


# The id of the job this thread runs (rq's or the embedded runner's): a periodic sweep
# reads its own slot from it.
_running_job: ContextVar[str | None] = ContextVar("trustdesk_running_job", default=None)


@contextmanager
def running_job(job_id: str | None) -> Iterator[None]:
    """Mark ``job_id`` as the job this thread runs, for ``then_next_run``."""
    token = _running_job.set(job_id)
    try:
        yield
    finally:
        _running_job.reset(token)


@contextmanager
def then_next_run(
    jobs: JobQueue, clock: Clock, queue: str, func: str, every: int, name: str, *, when: bool
) -> Iterator[None]:
    """Run a sweep's body alone, then schedule its next run (``when``), failed or not.

    A sweep schedules its own next run: scheduled after a body that could fail, one
    transient error (a lost connection, SQLite busy, a job timeout) ended the chain, and
    the sweep never ran again until the process restarted.

    Alone: on Redis the body holds a lock named after the sweep (``RqJobs.alone``); while
    another process holds it, this run raises ``SweepBusy`` without running the body. Runs
    used to pile up once one took longer than the interval, each on its own worker, all
    on the same rows. The embedded runner needs no lock: one thread of the one process
    that claimed the sweeps runs them (``Node.start_periodic_jobs``).

    The next slot is the first after both now and the job's own slot: a run that stood
    aside and the run it stood aside for schedule the same slot, so a chain that a worker
    started during a long run merges with the running one; and a worker whose clock is
    a little behind the scheduler's does not schedule the slot it is running again."""
    own = _own_slot(name)
    with _alone(jobs, name) as alone:
        try:
            if not alone:
                raise SweepBusy(f"{name} is running in another process; this run stood aside")
            yield
        finally:
            if when:
                schedule_periodic(jobs, clock, queue, func, every, name, after=own)


@contextmanager
def _alone(jobs: JobQueue, name: str) -> Iterator[bool]:
    if isinstance(jobs, RqJobs):
        with jobs.alone(name) as alone:
            yield alone
    else:
        yield True


def _own_slot(name: str) -> int | None:
    job_id = _running_job.get() or ""
    slot = job_id.removeprefix(f"{name}-")
    return int(slot) if slot != job_id and slot.isdigit() else None


@contextmanager
def contained(session: Session, what: str, subject: str) -> Iterator[None]:
    """One part of a sweep (an account, a request): a failure is logged and rolled back,
    and the sweep goes on with the next part; the next run tries this one again.

    Not rq's job timeout: it is an ``Exception`` too, and contained it was logged as one
    part's failure while the sweep ran on past its time limit, as often as it had parts."""
    try:
        yield
    except Exception as error:
        if _is_job_timeout(error):
            raise
        session.rollback()
        log.exception("%s failed for %s; the next run tries again", what, subject)


def _is_job_timeout(error: Exception) -> bool:
    # rq imported here, as in RqJobs: the embedded default never loads it.
    from rq.timeouts import BaseTimeoutException

    return isinstance(error, BaseTimeoutException)


def schedule_periodic(
    jobs: JobQueue,
    clock: Clock,
    queue: str,
    func: str,
    every: int,
    name: str,
    *,
    after: int | None = None,
) -> datetime | None:
    """Enqueue the next run of a self-rescheduling sweep at the next whole multiple of
    ``every`` seconds (since the epoch) after now and after ``after`` (a slot, in epoch
    seconds), with a job id naming that slot, unless the slot has its job already.

    Each ``trustdesk worker`` starts the sweeps, and a finished sweep schedules its next
    run; with ids that named the moment of enqueuing, every worker start added a chain of
    its own, forever. A job id per slot lets the queue keep one job per slot (on rq the
    first one enqueued stays, see ``RqJobs.enqueue_unless_present``; the embedded runner
    keeps the pending one), so chains started by several workers, or by restarts, merge
    into one."""
    if every <= 0:
        return None
    start = int(clock.now().timestamp())
    if after is not None:
        start = max(start, after)
    slot = (start // every + 1) * every
    due = datetime.fromtimestamp(slot, tz=UTC)
    if isinstance(jobs, RqJobs):
        jobs.enqueue_unless_present(queue, func, at=due, job_id=f"{name}-{slot}")
    else:
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
        # A sweep's lock outlives its run: rq's time limit for it and a minute more.
        self.sweep_lock_seconds = SWEEP_TIMEOUT + 60

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

    def enqueue_unless_present(self, queue: str, func: str, *, at: datetime, job_id: str) -> bool:
        """Schedule ``func`` under ``job_id`` unless a job of that id exists (scheduled,
        queued, running or just done); True when it was scheduled.

        ``enqueue`` replaces a job of the same id, which a periodic slot must not have
        done: a worker re-seeding the slot as it fell due rewrote the job the scheduler
        had just queued or a worker had started. rq checks and schedules atomically."""
        from rq.exceptions import DuplicateJobError

        _check(queue, func)
        try:
            self.queues[queue].enqueue_at(
                at,
                "account_node.jobs.run_in_worker",
                func,
                (),
                job_id=job_id,
                unique=True,
                job_timeout=SWEEP_TIMEOUT,
            )
        except DuplicateJobError:
            return False
        return True

    @contextmanager
    def alone(self, name: str) -> Iterator[bool]:
        """Hold the lock of the sweep ``name`` (Redis ``SET NX`` with an expiry) while the
        block runs; yields False, holding nothing, when another process holds it.

        The expiry outlasts any run under rq (the job timeout ends one, and the lock is
        released on the way out); it frees the lock of a worker killed outright, and
        until then that sweep waits."""
        from redis.exceptions import LockError, RedisError

        lock = self.connection.lock(
            f"trustdesk:sweep-lock:{name}", timeout=self.sweep_lock_seconds, blocking=False
        )
        if not lock.acquire():
            yield False
            return
        try:
            yield True
        finally:
            try:
                lock.release()
            except LockError:
                log.warning("the lock of %s expired while it ran", name)
            except RedisError:
                log.warning("could not release the lock of %s; it expires", name, exc_info=True)

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
                with running_job(job.job_id):
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
    from rq import get_current_job

    if _worker_executor is None:
        raise RuntimeError("run_in_worker called outside `trustdesk worker`")
    job = get_current_job()
    try:
        with running_job(job.id if job is not None else None):
            _worker_executor(func, args)
    except SweepBusy as busy:
        log.info("%s", busy)


_worker_executor: Executor | None = None


def install_worker_executor(execute: Executor) -> None:
    global _worker_executor
    _worker_executor = execute


def resolve(func: str) -> Callable[..., Any]:
    return import_string(func)  # type: ignore[no-any-return]
