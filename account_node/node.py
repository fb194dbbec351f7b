"""The Node container: wires clock, settings, passwords and jobs for one account node.

Everything a service needs is reached from here and handed down explicitly, so several
nodes can run in one process (tests start a whole federation that way).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

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


class Node:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.passwords = Passwords(settings.password_time_cost, settings.password_memory_kib)
        self.app: Flask | None = None
        self.jobs: JobQueue = (
            RqJobs(settings.redis_url)
            if settings.redis_url
            else InlineJobs(self.run_job, self.clock)
        )

    def start_periodic_jobs(self) -> None:
        """Start the self-rescheduling sweeps (one job per period slot, however many
        processes start them: see ``schedule_periodic``)."""
        sweeps = (
            ("sla", SLA_SWEEP, self.settings.sla_sweep_seconds, "sla-sweep"),
            ("delivery", OUTBOX_SWEEP, self.settings.outbox_sweep_seconds, "outbox-sweep"),
            ("delivery", AUDIT_WITNESS, self.settings.audit_witness_seconds, "audit-witness"),
            ("delivery", PRUNE, self.settings.federation_prune_seconds, "federation-prune"),
        )
        for queue, func, every, name in sweeps:
            schedule_periodic(self.jobs, self.clock, queue, func, every, name)

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
