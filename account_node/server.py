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


def gunicorn_options(host: str, port: int, workers: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 8,
        "timeout": 60,
        # Idle keep-alive connections stay 10 s (gunicorn's default is 2): longer than
        # peers keep theirs (trust.client.KEEPALIVE), so a peer never sends on a
        # connection this node is closing.
        "keepalive": 10,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }


def serve_forever(settings: Settings, host: str, port: int, workers: int) -> None:
    NodeServer(settings, gunicorn_options(host, port, workers)).run()
