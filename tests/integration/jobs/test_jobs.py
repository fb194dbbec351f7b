"""Jobs run after commit, never after rollback: in-process by default, on rq with Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue, SimpleWorker
from werkzeug.utils import import_string

from account_node.app import create_app
from account_node.clock import FakeClock
from account_node.db import db
from account_node.jobs import (
    InlineJobs,
    RqJobs,
    enqueue_after_commit,
    install_worker_executor,
    schedule_periodic,
)
from account_node.migrations import upgrade
from tests.conftest import node_settings
from tests.factories.accounts import make_account

SWEEP = "services.requests.jobs.sweep_clocks"


def test_unknown_queues_and_undotted_names_are_refused():
    jobs = InlineJobs(lambda func, args: None, FakeClock())
    try:
        with pytest.raises(ValueError, match="unknown queue"):
            jobs.enqueue("mystery", "a.b")
        with pytest.raises(ValueError, match="dotted path"):
            jobs.enqueue("sla", "nodots")
    finally:
        jobs.close()


def test_inline_jobs_run_in_order_and_delayed_ones_wait_for_their_moment():
    ran: list[tuple] = []
    clock = FakeClock()
    jobs = InlineJobs(lambda func, args: ran.append((func, args)), clock)
    try:
        jobs.enqueue("sla", "x.later", 2, at=clock.now() + timedelta(hours=1))
        jobs.enqueue("sla", "x.now", 1)
        jobs.drain()
        assert ran == [("x.now", (1,))]
        clock.advance(timedelta(hours=1))
        jobs.drain()
        assert ran == [("x.now", (1,)), ("x.later", (2,))]
    finally:
        jobs.close()


def test_a_job_is_enqueued_only_when_its_transaction_commits(sqlite_app):
    ran: list[tuple] = []
    jobs = InlineJobs(lambda func, args: ran.append(args), FakeClock())
    try:
        with sqlite_app.app_context():
            enqueue_after_commit(db.session(), jobs, "sla", "x.rolled_back", "no")
            db.session.rollback()
            enqueue_after_commit(db.session(), jobs, "sla", "x.committed", "yes")
            db.session.commit()
        jobs.drain()
        assert ran == [("yes",)]
    finally:
        jobs.close()


def test_a_failing_job_is_logged_and_the_runner_goes_on(caplog):
    ran: list[str] = []

    def execute(func, args):
        if func == "x.boom":
            raise RuntimeError("boom")
        ran.append(func)

    jobs = InlineJobs(execute, FakeClock())
    try:
        jobs.enqueue("sla", "x.boom")
        jobs.enqueue("sla", "x.after")
        jobs.drain()
        assert ran == ["x.after"]
        assert "job x.boom failed" in caplog.text
    finally:
        jobs.close()


def test_with_redis_jobs_go_to_named_rq_queues_and_the_worker_runs_them(
    redis_url, sqlite_dir, clock
):
    settings = node_settings(data_dir=str(sqlite_dir), redis_url=redis_url)
    app = create_app(settings, clock=clock)
    node = app.extensions["trustdesk"]
    try:
        assert isinstance(node.jobs, RqJobs)
        node.jobs.queues["sla"].empty()
        make_account(app)
        node.jobs.enqueue("sla", SWEEP, False)
        queue = Queue("sla", connection=node.jobs.connection)
        assert queue.count == 1
        install_worker_executor(node.run_job)
        worker = SimpleWorker([queue], connection=node.jobs.connection)
        assert worker.work(burst=True)
        assert queue.count == 0
        assert len(queue.finished_job_registry) >= 1
        assert len(queue.failed_job_registry) == 0
    finally:
        node.close()


def test_the_embedded_node_runs_the_sla_sweep_every_interval(sqlite_dir):
    clock = FakeClock()
    app = create_app(node_settings(data_dir=str(sqlite_dir), sla_sweep_seconds=60), clock=clock)
    jobs = app.extensions["trustdesk"].jobs
    try:
        assert [func for func, _ in jobs.pending_calls()] == [SWEEP]
        clock.advance(timedelta(seconds=61))
        jobs.drain()
        # It ran, and put itself back for the next minute (beside the checks of whatever
        # requests other tests left for it to repair in this shared database).
        assert [func for func, _ in jobs.pending_calls()].count(SWEEP) == 1
    finally:
        app.extensions["trustdesk"].close()


@pytest.mark.parametrize(
    ("setting", "failing"),
    [
        ("sla_sweep_seconds", "services.requests.jobs.active_account_ids"),
        ("outbox_sweep_seconds", "trust.outbox.active_account_ids"),
        ("federation_prune_seconds", "trust.retention.active_account_ids"),
        ("audit_witness_seconds", "trust.witness.active_account_ids"),
    ],
)
def test_a_sweep_that_fails_once_still_runs_again(tmp_path, monkeypatch, setting, failing):
    """A transient error in one run (the database busy or gone for a moment) must not
    end the sweep's chain until the process restarts: the next run is scheduled anyway."""
    from sqlalchemy.exc import OperationalError

    sweeps = ("sla_sweep_seconds", "outbox_sweep_seconds", "federation_prune_seconds",
              "audit_witness_seconds")  # fmt: skip
    only = {name: 60 if name == setting else 0 for name in sweeps}
    owner, _, name = failing.rpartition(".")
    real = getattr(import_string(owner), name)
    runs: list[str] = []
    upgrade(f"sqlite:///{tmp_path / 'node.db'}")  # a node of its own: no other test's data
    clock = FakeClock()
    app = create_app(node_settings(data_dir=str(tmp_path), **only), clock=clock)
    jobs = app.extensions["trustdesk"].jobs

    def busy_once(*args):
        runs.append("failed" if not runs else "ran")
        if len(runs) == 1:
            raise OperationalError("SELECT", {}, Exception("database is locked"))
        return real(*args)

    try:
        monkeypatch.setattr(failing, busy_once)
        for _ in range(3):
            clock.advance(timedelta(seconds=61))
            jobs.drain()
        assert runs == ["failed", "ran", "ran"]  # the chain went on after the failure
    finally:
        app.extensions["trustdesk"].close()


def test_inline_jobs_keep_one_pending_job_per_job_id():
    ran: list[tuple] = []
    clock = FakeClock()
    jobs = InlineJobs(lambda func, args: ran.append((func, args)), clock)
    try:
        later = clock.now() + timedelta(minutes=1)
        jobs.enqueue("sla", "x.sweep", at=later, job_id="sweep-slot")
        jobs.enqueue("sla", "x.sweep", at=later, job_id="sweep-slot")
        assert jobs.pending() == 1
        clock.advance(timedelta(minutes=1))
        jobs.drain()
        jobs.enqueue("sla", "x.sweep", job_id="sweep-slot")  # it ran: the id is free again
        jobs.drain()
        assert ran == [("x.sweep", ()), ("x.sweep", ())]
    finally:
        jobs.close()


def test_periodic_sweeps_fall_on_whole_periods_of_the_clock():
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, 42, tzinfo=UTC))
    jobs = InlineJobs(lambda func, args: None, clock)
    try:
        due = schedule_periodic(jobs, clock, "sla", SWEEP, 60, "sla-sweep")
        assert due == datetime(2026, 3, 2, 9, 1, tzinfo=UTC)
        assert schedule_periodic(jobs, clock, "sla", SWEEP, 0, "sla-sweep") is None  # off
    finally:
        jobs.close()


def test_workers_started_again_and_again_keep_one_chain_of_each_sweep(own_redis_url, sqlite_dir):
    """Every `trustdesk worker` starts the sweeps (and seeds them again and again), and
    each run schedules the next: on rq, with a job id per period slot, restarts and extra
    workers add no chains. (A Redis database of its own: no other test's sweeps in it.)"""
    starts = [datetime(2026, 3, 2, 9, 0, s, tzinfo=UTC) for s in (5, 17, 58)]
    settings = node_settings(
        data_dir=str(sqlite_dir), redis_url=own_redis_url, sla_sweep_seconds=60,
        outbox_sweep_seconds=60, audit_witness_seconds=3600, federation_prune_seconds=3600,
    )  # fmt: skip
    nodes = [create_app(settings, clock=FakeClock(at)).extensions["trustdesk"] for at in starts]
    try:
        queues = nodes[0].jobs.queues
        for node in nodes:  # each as a worker starting: `run_worker` does this
            node.start_periodic_jobs()
        assert sorted(queues["sla"].scheduled_job_registry.get_job_ids()) == [
            f"sla-sweep-{int(datetime(2026, 3, 2, 9, 1, tzinfo=UTC).timestamp())}"
        ]
        assert sorted(queues["delivery"].scheduled_job_registry.get_job_ids()) == sorted(
            [
                f"outbox-sweep-{int(datetime(2026, 3, 2, 9, 1, tzinfo=UTC).timestamp())}",
                f"audit-witness-{int(datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp())}",
                f"federation-prune-{int(datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp())}",
            ]
        )
    finally:
        for node in nodes:
            node.close()


def test_a_job_asked_for_in_a_rolled_back_savepoint_never_runs(sqlite_app):
    ran: list[tuple] = []
    jobs = InlineJobs(lambda func, args: ran.append((func, args)), FakeClock())
    try:
        with sqlite_app.app_context():
            session = db.session()
            session.begin()
            savepoint = session.begin_nested()
            enqueue_after_commit(session, jobs, "sla", "x.inside_savepoint")
            savepoint.rollback()
            enqueue_after_commit(session, jobs, "sla", "x.outside_savepoint")
            session.commit()
        jobs.drain()
        assert ran == [("x.outside_savepoint", ())]
    finally:
        jobs.close()


def test_of_a_nodes_processes_on_the_embedded_runner_one_runs_the_sweeps(tmp_path):
    """``serve --workers 2`` without Redis: each worker is an app of its own, and each ran
    every sweep, twice the work on one database. The first to lock the data directory
    runs them; when it goes, the next process started takes over."""
    upgrade(f"sqlite:///{tmp_path / 'node.db'}")
    clock = FakeClock()
    settings = node_settings(data_dir=str(tmp_path), sla_sweep_seconds=60)
    first = create_app(settings, clock=clock)
    second = create_app(settings, clock=clock)
    try:
        assert (first.extensions["trustdesk"].jobs.pending(),
                second.extensions["trustdesk"].jobs.pending()) == (1, 0)  # fmt: skip
        first.extensions["trustdesk"].close()
        third = create_app(settings, clock=clock)
        assert third.extensions["trustdesk"].jobs.pending() == 1
        third.extensions["trustdesk"].close()
    finally:
        first.extensions["trustdesk"].close()
        second.extensions["trustdesk"].close()
