"""Serving a node with gunicorn, from the CLI or from tests and benchmarks."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from account_node.settings import Settings, SettingsError, load_settings


class NodeServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from account_node.app import create_app

        return create_app(self.settings)


# Requests one kept-alive connection may carry before the node closes it (as nginx's
# keepalive_requests and Apache's MaxKeepAliveRequests do); see ``_rebalance``.
REQUESTS_PER_CONNECTION = 50


def _rebalance(worker: Any, req: Any) -> None:
    """gunicorn's pre_request hook: close every connection after its 50th request.

    A worker keeps each connection it accepted for as long as the client keeps it open,
    and which worker accepts is chance: with a few busy clients (an RMM integration, a
    sync job, a benchmark) one worker often holds most of them and runs out of its one
    core (the GIL) while the other idles: the requests bench, 4 keep-alive clients on 2
    workers, made 246 creates a second with all four on one worker and 320 split 2/2,
    minutes apart. A client that reconnects is accepted by whichever worker gets to it
    first, the less busy one, so closing now and then spreads the load again, at the cost
    of one new connection in fifty calls (clients reconnect on their own). Six 5-second
    create loads each: closing after 100 requests split the workers' CPU from 41/59 to
    47/53 (rates 299 to 377 a second); after 50, 46/54 to 49/51 (344 to 379); after 25,
    46/54 to 50/50 (349 to 374), no better for twice the reconnections."""
    if req.req_number % REQUESTS_PER_CONNECTION == 0:
        req.must_close = True


def split_streams_warning(settings: Settings, workers: int) -> str | None:
    """What to warn of when the node's live inbox streams cannot hear every change: more
    than one worker process and no Redis, so each process has a hub of its own
    (services.inbox.events).

    A warning, not a refusal: the quick start (``trustdesk serve --workers 2``) and the
    image's default (two workers, no Redis) must keep serving, and they serve correctly.
    A stream hears at once what its own process did or received; an inbox page is
    complete whenever it is loaded, and a stream ends and is opened again, catching up,
    every ``inbox_stream_seconds``; a trust's end closes every stream under it within a
    keep-alive interval, whichever process made it. What is lost is the rest of the
    liveness, and an operator should know that, and how to have it."""
    if workers <= 1 or settings.redis_url:
        return None
    return (
        f"{workers} worker processes and no redis_url: each process has its own hub of live "
        "inbox updates, so a live stream hears only the changes its own process made or "
        "received (others show when the inbox is reloaded or the stream reconnects, within "
        f"{settings.inbox_stream_seconds} s). Set TRUSTDESK_REDIS_URL, or serve with one "
        "worker, for live updates across the node."
    )


def _warn_of_split_streams(server: Any) -> None:
    """gunicorn's when_ready hook, in the master, once: ``split_streams_warning``. The
    settings are those of ``trustdesk serve``, or, under ``gunicorn -c
    config/gunicorn.conf.py``, the environment's, as account_node.wsgi reads them."""
    settings = getattr(server.app, "settings", None)
    if not isinstance(settings, Settings):
        try:
            settings = load_settings()
        except SettingsError:
            return  # each worker fails to start, saying why
    warning = split_streams_warning(settings, server.num_workers)
    if warning:
        server.log.warning(warning)


def gunicorn_options(host: str, port: int, workers: int, threads: int = 32) -> dict[str, Any]:
    """gthread workers: one thread per call in flight, a live stream's whole life included
    (``services.inbox.slots`` keeps streams from taking them all)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 60,
        # Idle keep-alive connections stay 10 s (gunicorn's default is 2): longer than
        # peers keep theirs (trust.client.KEEPALIVE), so a peer never sends on a
        # connection this node is closing.
        "keepalive": 10,
        # The longest request line gunicorn reads (its default is 4094): a search of 200
        # characters outside ASCII, percent-encoded, with a cursor and a list of filters
        # (a trust's offerings), passes 4 KB; past the limit gunicorn answers 414 in HTML.
        "limit_request_line": 8190,
        "pre_request": _rebalance,
        "when_ready": _warn_of_split_streams,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }


def serve_forever(settings: Settings, host: str, port: int, workers: int) -> None:
    options = gunicorn_options(host, port, workers, settings.server_threads)
    NodeServer(settings, options).run()
