"""``trustdesk serve``, ``worker`` and ``demo``: the commands that run the node rather than
change its data."""

from __future__ import annotations

import click

from account_node.cli.common import settings_of
from account_node.cli.group import main


@main.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=5000)
@click.option("--workers", type=int, default=1)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve this node with gunicorn."""
    from account_node.server import serve_forever

    serve_forever(settings_of(ctx), host, port, workers)


@main.command("worker")
@click.option("--queue", "queues", multiple=True, help="default: every queue")
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@click.pass_context
def worker(ctx: click.Context, queues: tuple[str, ...], burst: bool) -> None:
    """Run background jobs from Redis (needs TRUSTDESK_REDIS_URL)."""
    from account_node.worker import run_worker

    run_worker(settings_of(ctx), list(queues), burst)


@main.command("demo")
@click.option("--data-dir", default="var/demo", type=click.Path(file_okay=False))
@click.option("--base-port", default=5000, type=int)
@click.option("--exit-after-seed", is_flag=True, help="seed, print, write demo.json, then stop")
@click.pass_context
def demo(ctx: click.Context, data_dir: str, base_port: int, exit_after_seed: bool) -> None:
    """Start a demo node with seeded accounts and print its URL and logins."""
    from account_node.demo import run_demo

    run_demo(settings_of(ctx), data_dir, base_port, exit_after_seed)
