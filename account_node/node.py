"""The Node container: wires clock, settings, passwords and jobs for one account node.

Everything a service needs is reached from here and handed down explicitly, so several
nodes can run in one process (tests start a whole federation that way).
"""

from __future__ import annotations

import fcntl
import logging
import secrets
from pathlib import Path
from typing import IO, Any

from flask import Flask

from account_node.clock import Clock, SystemClock
from account_node.db import db
from account_node.identity.passwords import Passwords
from account_node.jobs import InlineJobs, JobQueue, RqJobs, resolve, schedule_periodic
from account_node.settings import Settings

SLA_SWEEP = "services.requests.jobs.sweep_clocks"
OUTBOX_SWEEP = "trust.outbox.sweep"
PRUNE = "trust.retention.prune"
AUDIT_WITNESS = "trust.witness.send_heads"
log = logging.getLogger(__name__)


class Node:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.passwords = Passwords(settings.password_time_cost, settings.password_memory_kib)
        self.app: Flask | None = None
        self._periodic_lock: IO[str] | None = None
        self.jobs: JobQueue = (
            RqJobs(settings.redis_url)
            if settings.redis_url
            else InlineJobs(self.run_job, self.clock)
        )

    def periodic_sweeps(self) -> list[tuple[str, str, int, str]]:
        """(queue, function, seconds between runs, name) of each sweep that is on."""
        return [
            sweep
            for sweep in (
                ("sla", SLA_SWEEP, self.settings.sla_sweep_seconds, "sla-sweep"),
                ("delivery", OUTBOX_SWEEP, self.settings.outbox_sweep_seconds, "outbox-sweep"),
                ("delivery", AUDIT_WITNESS, self.settings.audit_witness_seconds, "audit-witness"),
                ("delivery", PRUNE, self.settings.federation_prune_seconds, "federation-prune"),
            )
            if sweep[2] > 0
        ]

    def start_periodic_jobs(self) -> None:
        """Start the self-rescheduling sweeps: one job per period slot, however many
        processes start them, and however often (``trustdesk worker`` does again and
        again, see worker.py). On Redis the slot's job id says so (``schedule_periodic``);
        the embedded runner's jobs live in its process, so there only the process that
        holds the data directory's lock runs them (``_claim_periodic_jobs``)."""
        sweeps = self.periodic_sweeps()
        if not sweeps or (isinstance(self.jobs, InlineJobs) and not self._claim_periodic_jobs()):
            return
        for queue, func, every, name in sweeps:
            schedule_periodic(self.jobs, self.clock, queue, func, every, name)

    def _claim_periodic_jobs(self) -> bool:
        """Whether this process runs the embedded sweeps: the first of a node's processes
        (``serve --workers N``) to lock ``periodic-jobs.lock`` in the data directory.
        Without it each worker ran every sweep, N at a time, on the same database. The
        lock goes with the process: a worker started in place of one that died takes it."""
        if self._periodic_lock is not None:
            return True
        path = Path(self.settings.data_dir) / "periodic-jobs.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            log.info("another process of this node runs the periodic sweeps")
            return False
        self._periodic_lock = handle
        return True

    def run_job(self, func: str, args: tuple[Any, ...]) -> None:
        """Run one job in an application context; commit on success, roll back on error."""
        assert self.app is not None, "the node has no app yet"
        with self.app.app_context():
            try:
                resolve(func)(self, *args)
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    def close(self) -> None:
        self.jobs.close()
        if self._periodic_lock is not None:
            self._periodic_lock.close()  # and the lock with it
            self._periodic_lock = None
        if self.app is not None:
            peers = self.app.extensions.pop("trustdesk.peers", None)
            if peers is not None:
                peers.close()
            with self.app.app_context():
                db.engine.dispose()


def secret_key(settings: Settings) -> str:
    """The configured key, or one generated once and kept in the data directory."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
