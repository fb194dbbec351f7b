"""Jobs: named by dotted path onto a queue named by purpose, enqueued only once the
transaction that asked for them commits, run in-process by default (delayed ones when the
injected clock reaches them) or by an rq worker on Redis."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue, SimpleWorker

import account_node.jobs
from account_node.clock import FakeClock
from account_node.db import db
from account_node.jobs import (
    QUEUES,
    InlineJobs,
    RqJobs,
    enqueue_after_commit,
    install_worker_executor,
    resolve,
    run_in_worker,
    running_job,
    then_next_run,
)
from tests.unit.account_node import jobs_fixture

REMEMBER = "tests.unit.account_node.jobs_fixture.remember"
FAIL = "tests.unit.account_node.jobs_fixture.fail"


class Recorder:
    """An executor that records (func, args) and can be made to take a while."""

    def __init__(self, delay: float = 0.0) -> None:
        self.ran: list[tuple[str, tuple]] = []
        self.delay = delay
        self.threads: set[str] = set()

    def __call__(self, func: str, args: tuple) -> None:
        time.sleep(self.delay)
        self.threads.add(threading.current_thread().name)
        self.ran.append((func, args))


@pytest.fixture
def own_clock() -> FakeClock:
    """A private clock: these tests move time without touching the session's clock."""
    return FakeClock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def inline(recorder, own_clock):
    jobs = InlineJobs(recorder, own_clock)
    yield jobs
    jobs.close()


# Names


@pytest.mark.parametrize(
    ("queue", "func", "message"),
    [
        ("mystery", "a.b", "unknown queue 'mystery'; queues are " + ", ".join(QUEUES)),
        ("sla", "nodots", "jobs are named by dotted path, not 'nodots'"),
        ("sla", "", "jobs are named by dotted path, not ''"),
    ],
)
def test_an_unknown_queue_or_an_undotted_name_is_refused_at_once(inline, app, queue, func, message):
    with pytest.raises(ValueError, match=message):
        inline.enqueue(queue, func)
    with app.app_context(), pytest.raises(ValueError, match=message):
        enqueue_after_commit(db.session(), inline, queue, func)
    assert inline.pending() == 0


def test_queues_are_named_by_purpose():
    assert QUEUES == ("default", "sla", "delivery", "notifications", "audit")


def test_a_dotted_name_resolves_to_its_function():
    assert resolve(REMEMBER) is jobs_fixture.remember


# The in-process runner


def test_an_inline_job_runs_in_the_background_and_drain_waits_for_it(own_clock):
    slow = Recorder(delay=0.2)
    jobs = InlineJobs(slow, own_clock)
    try:
        jobs.enqueue("default", "x.first", 1, "a")
        jobs.drain()
        assert slow.ran == [("x.first", (1, "a"))]
        assert slow.threads == {"trustdesk-jobs"}
        assert jobs.pending() == 0
    finally:
        jobs.close()


def test_a_delayed_job_waits_until_the_clock_reaches_it(inline, recorder, own_clock):
    inline.enqueue("sla", "x.later", at=own_clock.now() + timedelta(minutes=10))
    inline.drain()
    assert recorder.ran == [] and inline.pending() == 1

    own_clock.advance(timedelta(minutes=10) - timedelta(microseconds=1))
    inline.drain()
    assert recorder.ran == []

    own_clock.advance(timedelta(microseconds=1))
    inline.drain()
    assert recorder.ran == [("x.later", ())]
    assert inline.pending() == 0


def test_due_jobs_run_in_the_order_they_fall_due(inline, recorder, own_clock):
    now = own_clock.now()
    inline.enqueue("sla", "x.third", at=now + timedelta(minutes=3))
    inline.enqueue("sla", "x.first", at=now + timedelta(minutes=1))
    inline.enqueue("sla", "x.second_a", at=now + timedelta(minutes=2))
    inline.enqueue("sla", "x.second_b", at=now + timedelta(minutes=2))
    own_clock.advance(timedelta(minutes=5))
    inline.drain()
    assert [func for func, _ in recorder.ran] == ["x.first", "x.second_a", "x.second_b", "x.third"]


def test_a_job_due_in_the_past_runs_now(inline, recorder, own_clock):
    inline.enqueue("default", "x.overdue", at=own_clock.now() - timedelta(hours=1))
    inline.drain()
    assert recorder.ran == [("x.overdue", ())]


def test_a_failing_job_does_not_stop_the_runner(own_clock, caplog):
    ran: list[str] = []

    def execute(func, args):
        if func == "x.boom":
            raise RuntimeError("boom")
        ran.append(func)

    jobs = InlineJobs(execute, own_clock)
    try:
        jobs.enqueue("default", "x.boom")
        jobs.enqueue("default", "x.after")
        jobs.drain()
        assert ran == ["x.after"]
        assert "job x.boom failed" in caplog.text
    finally:
        jobs.close()


def test_pending_jobs_can_be_discarded_as_a_crash_would(inline, recorder, own_clock):
    inline.enqueue("sla", "x.a", at=own_clock.now() + timedelta(hours=1))
    inline.enqueue("sla", "x.b", at=own_clock.now() + timedelta(hours=2))
    assert inline.discard_pending() == 2
    own_clock.advance(timedelta(hours=3))
    inline.drain()
    assert recorder.ran == []


def test_closing_the_runner_stops_its_thread(recorder, own_clock):
    jobs = InlineJobs(recorder, own_clock)
    jobs.close()
    assert not jobs._thread.is_alive()


# After commit, never after rollback


def test_a_job_asked_for_in_a_transaction_runs_only_after_the_commit(app, inline, recorder):
    with app.app_context():
        session = db.session()
        enqueue_after_commit(session, inline, "notifications", "x.notify", "r-1")
        inline.drain()
        assert recorder.ran == [] and inline.pending() == 0  # not even queued yet
        session.commit()
    inline.drain()
    assert recorder.ran == [("x.notify", ("r-1",))]


def test_a_job_asked_for_in_a_rolled_back_transaction_never_runs(app, inline, recorder):
    with app.app_context():
        session = db.session()
        enqueue_after_commit(session, inline, "notifications", "x.rolled_back")
        session.rollback()
        session.commit()  # a later, empty commit does not resurrect it
        enqueue_after_commit(session, inline, "notifications", "x.committed")
        session.commit()
    inline.drain()
    assert recorder.ran == [("x.committed", ())]


def test_a_job_that_cannot_be_enqueued_after_the_commit_leaves_the_commit_standing(
    app, inline, recorder, caplog
):
    """The data is durable once committed: Redis being down as a job is enqueued must not
    make the commit an error (a client would retry it, and so do it twice), nor keep the
    later jobs of the transaction from being enqueued. The lost job is logged."""

    class Unreachable:
        def enqueue(self, *args, **kwargs):
            raise ConnectionError("Redis is down")

    with app.app_context():
        session = db.session()
        enqueue_after_commit(session, Unreachable(), "notifications", "x.lost")
        enqueue_after_commit(session, inline, "notifications", "x.after_it")
        session.commit()
        session.execute(db.select(1))  # the session still works
    inline.drain()
    assert recorder.ran == [("x.after_it", ())]
    assert "the committed work stands" in caplog.text


def test_a_job_asked_for_in_a_rolled_back_savepoint_never_runs(app, inline, recorder):
    with app.app_context():
        session = db.session()
        session.begin()
        savepoint = session.begin_nested()
        enqueue_after_commit(session, inline, "notifications", "x.inside_savepoint")
        savepoint.rollback()  # the rows this job would read are gone
        enqueue_after_commit(session, inline, "notifications", "x.outside_savepoint")
        session.commit()
    inline.drain()
    assert recorder.ran == [("x.outside_savepoint", ())]


def test_the_jobs_of_one_transaction_run_in_the_order_asked(app, inline, recorder):
    with app.app_context():
        session = db.session()
        for n in range(3):
            enqueue_after_commit(session, inline, "default", "x.step", n)
        session.commit()
    inline.drain()
    assert recorder.ran == [("x.step", (0,)), ("x.step", (1,)), ("x.step", (2,))]


def test_a_delayed_job_asked_for_after_commit_keeps_its_moment(app, inline, recorder, own_clock):
    with app.app_context():
        session = db.session()
        due = own_clock.now() + timedelta(minutes=5)
        enqueue_after_commit(session, inline, "sla", "x.check", "r-2", at=due)
        session.commit()
    inline.drain()
    assert recorder.ran == [] and inline.pending() == 1
    own_clock.advance(timedelta(minutes=5))
    inline.drain()
    assert recorder.ran == [("x.check", ("r-2",))]


# Periodic sweeps


class AskedIds:
    """A job queue that remembers the ids it was asked to enqueue under."""

    def __init__(self) -> None:
        self.ids: list[str | None] = []

    def enqueue(self, queue, func, *args, at=None, job_id=None) -> None:
        self.ids.append(job_id)

    def close(self) -> None:
        pass


def test_a_sweep_run_a_moment_before_its_slot_schedules_the_slot_after_its_own():
    """rq starts a job once its scheduler's clock passes the slot; the worker's clock may
    be a little behind. Reckoned from that clock alone, the 9:01 run scheduled 9:01
    again, under the id of the very job running."""
    nine_one = datetime(2026, 3, 2, 9, 1, tzinfo=UTC)
    clock = FakeClock(nine_one - timedelta(milliseconds=400))
    jobs = AskedIds()
    with (
        running_job(f"sweep-{int(nine_one.timestamp())}"),
        then_next_run(jobs, clock, "sla", "x.sweep", 60, "sweep", when=True),
    ):
        pass
    assert jobs.ids == [f"sweep-{int(nine_one.timestamp()) + 60}"]


def test_a_sweep_run_outside_any_job_schedules_the_slot_after_now():
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, 42, tzinfo=UTC))
    jobs = AskedIds()
    with then_next_run(jobs, clock, "sla", "x.sweep", 60, "sweep", when=True):
        pass
    assert jobs.ids == [f"sweep-{int(datetime(2026, 3, 2, 9, 1, tzinfo=UTC).timestamp())}"]


# rq on Redis


@pytest.fixture
def rq_jobs(redis_url):
    jobs = RqJobs(redis_url)
    yield jobs
    jobs.close()


@pytest.fixture
def worker_executor(monkeypatch):
    """Install an executor that runs the named function, as `trustdesk worker` does."""
    monkeypatch.setattr(account_node.jobs, "_worker_executor", None)
    install_worker_executor(lambda func, args: resolve(func)(*args))
    jobs_fixture.ran.clear()
    yield
    jobs_fixture.ran.clear()


def unique_job_id() -> str:
    return f"unit-{secrets.token_hex(8)}"


def test_an_rq_job_goes_onto_its_named_queue_as_a_call_to_the_worker_entry(rq_jobs):
    job_id = unique_job_id()
    rq_jobs.enqueue("delivery", REMEMBER, "peer-1", 3, job_id=job_id)
    queue = Queue("delivery", connection=rq_jobs.connection)
    try:
        assert job_id in queue.job_ids
        job = queue.fetch_job(job_id)
        assert job.func_name == "account_node.jobs.run_in_worker"
        assert job.args == (REMEMBER, ("peer-1", 3))
        assert job_id not in Queue("default", connection=rq_jobs.connection).job_ids
    finally:
        queue.remove(job_id)
        queue.fetch_job(job_id).delete()


def test_a_delayed_rq_job_is_scheduled_not_queued(rq_jobs):
    job_id = unique_job_id()
    at = FakeClock().now() + timedelta(days=1)
    rq_jobs.enqueue("sla", REMEMBER, "later", at=at, job_id=job_id)
    queue = Queue("sla", connection=rq_jobs.connection)
    try:
        assert job_id not in queue.job_ids
        assert job_id in queue.scheduled_job_registry
    finally:
        queue.scheduled_job_registry.remove(job_id)
        queue.fetch_job(job_id).delete()


def test_rq_refuses_unknown_queues_and_undotted_names(rq_jobs):
    with pytest.raises(ValueError, match="unknown queue"):
        rq_jobs.enqueue("mystery", REMEMBER)
    with pytest.raises(ValueError, match="dotted path"):
        rq_jobs.enqueue("audit", "remember")


def test_a_worker_runs_the_named_function_with_its_arguments(rq_jobs, worker_executor):
    job_id = unique_job_id()
    rq_jobs.enqueue("audit", REMEMBER, "acct-1", 42, job_id=job_id)
    queue = Queue("audit", connection=rq_jobs.connection)
    worker = SimpleWorker([queue], connection=rq_jobs.connection)
    assert worker.work(burst=True)
    assert ("acct-1", 42) in jobs_fixture.ran
    assert job_id in queue.finished_job_registry
    assert job_id not in queue.job_ids
    queue.fetch_job(job_id).delete()


def test_a_failing_rq_job_lands_in_the_failed_registry(rq_jobs, worker_executor):
    job_id = unique_job_id()
    rq_jobs.enqueue("audit", FAIL, "x", job_id=job_id)
    queue = Queue("audit", connection=rq_jobs.connection)
    SimpleWorker([queue], connection=rq_jobs.connection).work(burst=True)
    assert job_id in queue.failed_job_registry
    assert "job failed on purpose" in queue.fetch_job(job_id).latest_result().exc_string
    queue.failed_job_registry.remove(job_id, delete_job=True)


def test_the_worker_entry_refuses_to_run_outside_a_worker(monkeypatch):
    monkeypatch.setattr(account_node.jobs, "_worker_executor", None)
    with pytest.raises(RuntimeError, match="outside `trustdesk worker`"):
        run_in_worker(REMEMBER, ())


def test_rq_jobs_can_ping_redis(rq_jobs):
    assert rq_jobs.ping()
