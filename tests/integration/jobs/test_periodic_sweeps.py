"""Periodic sweeps on Redis: one run at a time, one chain, and a chain that outlives the
loss of Redis's data; rq's job timeout ends a sweep instead of being logged by it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from redis import Redis
from rq import Queue, SimpleWorker

import account_node.jobs
from account_node.clock import FakeClock
from account_node.jobs import (
    SWEEP_TIMEOUT,
    RqJobs,
    install_worker_executor,
    resolve,
    running_job,
    schedule_periodic,
)
from account_node.migrations import upgrade
from tests.integration.jobs import sweep_fixture
from tests.integration.jobs.sweep_fixture import EVERY, NAME, OVERRUN, SWEEP

NINE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SLOT = int(NINE.timestamp())  # a whole minute: the slot of a sweep run every minute


@pytest.fixture
def node(own_redis_url, monkeypatch):
    """What a sweep needs of a node, with a worker's executor that hands it to the job."""
    jobs = RqJobs(own_redis_url)
    fake = SimpleNamespace(jobs=jobs, clock=FakeClock(NINE))
    monkeypatch.setattr(account_node.jobs, "_worker_executor", None)
    install_worker_executor(lambda func, args: resolve(func)(fake, *args))
    sweep_fixture.reset()
    yield fake
    sweep_fixture.release.set()
    jobs.close()


def _scheduled(jobs: RqJobs, queue: str = "default") -> list[str]:
    return sorted(jobs.queues[queue].scheduled_job_registry.get_job_ids())


def test_a_sweep_falling_due_while_the_last_still_runs_stands_aside_and_one_chain_goes_on(node):
    """The 9:00 run is still going at 9:01:05 when the 9:01 job starts on another worker:
    that one runs nothing (the two used to run side by side, piling up), counts as done,
    and schedules 9:02, the very slot the 9:00 run schedules when it ends."""
    jobs = node.jobs
    first = threading.Thread(target=lambda: _run_as(node, f"{NAME}-{SLOT}"), name="9:00 run")
    first.start()
    try:
        assert sweep_fixture.started.wait(5)
        node.clock.advance(timedelta(seconds=65))
        jobs.queues["default"].enqueue(
            "account_node.jobs.run_in_worker", SWEEP, (), job_id=f"{NAME}-{SLOT + EVERY}"
        )
        SimpleWorker([jobs.queues["default"]], connection=jobs.connection).work(burst=True)
        assert sweep_fixture.runs == ["9:00 run"]
        assert jobs.queues["default"].fetch_job(f"{NAME}-{SLOT + EVERY}").get_status() == "finished"
        assert _scheduled(jobs) == [f"{NAME}-{SLOT + 2 * EVERY}"]
    finally:
        sweep_fixture.release.set()
        first.join(10)
    assert _scheduled(jobs) == [f"{NAME}-{SLOT + 2 * EVERY}"]  # one chain, not two


def _run_as(node, job_id: str) -> None:
    with running_job(job_id):
        sweep_fixture.sweep(node)


def test_once_the_running_sweep_ends_the_next_one_runs(node):
    """Standing aside lasts only while the other run holds the sweep."""
    sweep_fixture.started.set()  # no run here waits
    for slot in (SLOT, SLOT + EVERY):
        _run_as(node, f"{NAME}-{slot}")
    assert sweep_fixture.runs == ["MainThread", "MainThread"]


def test_seeding_a_slot_whose_job_is_already_queued_leaves_that_job_alone(node):
    """The worker seeds every sweep's next slot again and again (worker.py). Had it
    rewritten a slot's job the scheduler had just queued, that job would run twice."""
    jobs = node.jobs
    jobs.enqueue("default", SWEEP, job_id=f"{NAME}-{SLOT + EVERY}")  # due: queued by rq
    schedule_periodic(jobs, node.clock, "default", SWEEP, EVERY, NAME)
    assert jobs.queues["default"].job_ids == [f"{NAME}-{SLOT + EVERY}"]
    assert _scheduled(jobs) == []


def test_a_sweep_has_an_hour_before_rq_stops_it_not_rqs_three_minutes(node):
    """Cut at rq's default, a sweep starts again at its first account on the next run:
    on a large node, the accounts past the third minute were never reached."""
    schedule_periodic(node.jobs, node.clock, "default", SWEEP, EVERY, NAME)
    [job_id] = _scheduled(node.jobs)
    assert node.jobs.queues["default"].fetch_job(job_id).timeout == SWEEP_TIMEOUT == 3600
    assert node.jobs.sweep_lock_seconds > SWEEP_TIMEOUT


def test_a_sweep_that_overruns_its_job_timeout_fails_as_timed_out(node, caplog):
    """rq's timeout is an Exception raised wherever the job is: caught as one account's
    failure, the sweep logged it and went on, past its limit, as if nothing happened."""
    queue = node.jobs.queues["default"]
    job = queue.enqueue("account_node.jobs.run_in_worker", OVERRUN, (), job_timeout=1)
    SimpleWorker([queue], connection=node.jobs.connection).work(burst=True)
    assert job.get_status() == "failed"
    assert "JobTimeoutException" in job.latest_result().exc_string
    assert sweep_fixture.parts_done == []
    assert "the fixture sweep failed" not in caplog.text


def test_the_sweeps_run_again_after_redis_loses_its_data_under_a_running_worker(
    own_redis_url, tmp_path
):
    """A sweep's run schedules the next: with Redis flushed (or failed over to a replica
    behind) no run was left to do so, and every sweep stopped until a worker restarted.
    The worker seeds the next slots again itself, so the sweeps resume on their own."""
    upgrade(f"sqlite:///{tmp_path / 'node.db'}")
    redis = Redis.from_url(own_redis_url)
    sla = Queue("sla", connection=redis)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRUSTDESK_")},
        "TRUSTDESK_DATA_DIR": str(tmp_path),
        "TRUSTDESK_REDIS_URL": own_redis_url,
        "TRUSTDESK_SECRET_KEY": "k",
        "TRUSTDESK_SLA_SWEEP_SECONDS": "1",
        "TRUSTDESK_OUTBOX_SWEEP_SECONDS": "0",
        "TRUSTDESK_AUDIT_WITNESS_SECONDS": "0",
        "TRUSTDESK_FEDERATION_PRUNE_SECONDS": "0",
    }
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "account_node", "worker"], env=env, stdout=log, stderr=log
    )
    try:
        assert _sweep_finishes(sla, after=0, within=30), (tmp_path / "worker.log").read_text()
        redis.flushdb()
        flushed_at = time.time()
        assert _sweep_finishes(sla, after=flushed_at, within=15), (
            tmp_path / "worker.log"
        ).read_text()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
        redis.close()


def _sweep_finishes(sla: Queue, after: float, within: float) -> bool:
    """Whether the SLA sweep of a slot later than ``after`` finishes ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        slots = [
            int(job_id.removeprefix("sla-sweep-"))
            for job_id in sla.finished_job_registry.get_job_ids()
            if job_id.startswith("sla-sweep-")
        ]
        if any(slot > after for slot in slots):
            return True
        time.sleep(0.2)
    return False
