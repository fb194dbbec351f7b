"""``trustdesk worker``: an rq worker that runs jobs inside the node's app context."""

from __future__ import annotations

import click

from account_node.jobs import QUEUES, RqJobs, install_worker_executor
from account_node.settings import Settings


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
    app = create_app(settings)
    node = app.extensions["trustdesk"]
    install_worker_executor(node.run_job)
    node.start_periodic_jobs()
    jobs = node.jobs
    assert isinstance(jobs, RqJobs)
    # SimpleWorker runs jobs in this process: a forked work horse would inherit the
    # database pool's sockets, which must never be shared between processes.
    worker = SimpleWorker([jobs.queues[q] for q in (queues or QUEUES)], connection=jobs.connection)
    return bool(worker.work(burst=burst, with_scheduler=True))
