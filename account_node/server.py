"""Serving a node with gunicorn, from the CLI or from tests and benchmarks."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from account_node.settings import Settings


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
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }


def serve_forever(settings: Settings, host: str, port: int, workers: int) -> None:
    options = gunicorn_options(host, port, workers, settings.server_threads)
    NodeServer(settings, options).run()
