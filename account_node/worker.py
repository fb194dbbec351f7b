"""``trustdesk worker``: an rq worker that runs jobs inside the node's app context.

It also keeps the periodic sweeps going. Each sweep's run schedules the next (jobs.py),
so the chain lives only in Redis: when Redis loses its data (a flush, a failover to a
replica behind, the last second of an append-only file), every sweep stopped until a
worker restarted. So a thread of the worker seeds each sweep's next slot again every
``reseed_seconds``: a slot that has its job is left alone (``schedule_periodic``), a
lost chain starts again within that time plus the sweep's own interval. A thread rather
than a job (lost with the rest) or rq's cron scheduler (a loop of its own to run beside
the worker, and each one enqueues its own runs: one per worker would multiply them,
where the slot ids merge what the workers seed into one job per slot).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from account_node.jobs import QUEUES, RqJobs, install_worker_executor
from account_node.settings import Settings

if TYPE_CHECKING:
    from account_node.node import Node

# The worker seeds the sweeps at least this often (seconds), and as often as the most
# frequent of them runs: a lost chain costs at most this long plus its own interval.
RESEED_SECONDS = 60
log = logging.getLogger(__name__)


def run_worker(settings: Settings, queues: list[str], burst: bool = False) -> bool:
    from rq import SimpleWorker

    from account_node.app import create_app

    if not settings.redis_url:
        raise click.ClickException(
            "set TRUSTDESK_REDIS_URL: the embedded default runs jobs in-process"
        )
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown:
        raise click.ClickException(
            f"unknown queues {', '.join(unknown)}; queues are {', '.join(QUEUES)}"
        )
    check_redis(settings.redis_url)
    app = create_app(settings)
    node = app.extensions["trustdesk"]
    install_worker_executor(node.run_job)
    node.start_periodic_jobs()
    jobs = node.jobs
    assert isinstance(jobs, RqJobs)
    # SimpleWorker runs jobs in this process: a forked work horse would inherit the
    # database pool's sockets, which must never be shared between processes.
    worker = SimpleWorker([jobs.queues[q] for q in (queues or QUEUES)], connection=jobs.connection)
    stop = threading.Event()
    if not burst:
        keep_sweeps_seeded(node, stop)
    try:
        return bool(worker.work(burst=burst, with_scheduler=True))
    finally:
        stop.set()


def reseed_seconds(node: Node) -> int | None:
    """How often the worker seeds the sweeps; None when every sweep is off."""
    intervals = [every for _, _, every, _ in node.periodic_sweeps()]
    return min([*intervals, RESEED_SECONDS]) if intervals else None


def keep_sweeps_seeded(node: Node, stop: threading.Event) -> threading.Thread | None:
    """Start the thread that seeds every sweep's next slot every ``reseed_seconds`` until
    ``stop`` is set. A failure (Redis down for a moment) is logged and tried again."""
    every = reseed_seconds(node)
    if every is None:
        return None

    def seed() -> None:
        while not stop.wait(every):
            try:
                node.start_periodic_jobs()
            except Exception:
                log.exception("could not seed the periodic sweeps; trying again in %ss", every)

    thread = threading.Thread(target=seed, name="trustdesk-sweep-seeder", daemon=True)
    thread.start()
    return thread


def check_redis(url: str) -> None:
    """Ping Redis before anything else, and say in one line where it could not be reached.

    A refused port, an unknown host or a URL of another scheme used to end in a
    traceback of some seventy lines from deep inside rq. The message names the host and
    port, never the URL: it may hold a password."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        connection = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            connection.ping()
        finally:
            connection.close()
    except (ValueError, RedisError) as error:
        reason = str(error) or type(error).__name__
        password = _password(url)
        if password:
            reason = reason.replace(password, "***")
        raise click.ClickException(
            f"cannot reach Redis at {_where(url)} (TRUSTDESK_REDIS_URL): {reason}"
        ) from None


def _where(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            return parts.path or "an unnamed socket"
        return f"{parts.hostname or '(no host)'}:{parts.port or 6379}"
    except ValueError:  # a port that is no number
        return "(a URL that does not parse)"


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None
