"""How the node is served: a node whose live streams cannot hear every change says so
when it starts, and still starts."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

from account_node.server import NodeServer, gunicorn_options, split_streams_warning
from account_node.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


class Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


def _started(settings: Settings, workers: int) -> list[str]:
    """What the master logs when it is ready, serving ``settings`` with ``workers``."""
    options = gunicorn_options("127.0.0.1", 5000, workers)
    server = SimpleNamespace(app=NodeServer(settings, options), num_workers=workers, log=Log())
    server.app.cfg.when_ready(server)
    return server.log.warnings


def test_two_workers_without_redis_warn_that_a_stream_hears_its_own_process_only():
    """Each worker process has a hub of its own in the embedded default: a change made
    in one never reaches a stream served by the other. The quick start runs it so
    (``trustdesk serve --workers 2``), and it must keep serving: a warning, not a refusal."""
    [warning] = _started(Settings(), workers=2)
    assert "2 worker processes and no redis_url" in warning
    assert "TRUSTDESK_REDIS_URL" in warning and "one worker" in warning


@pytest.mark.parametrize(
    ("settings", "workers"),
    [(Settings(), 1), (Settings(redis_url="redis://127.0.0.1:6379/0"), 4)],
    ids=["one worker", "redis"],
)
def test_a_node_whose_streams_hear_every_change_starts_without_a_warning(settings, workers):
    assert _started(settings, workers) == []
    assert split_streams_warning(settings, workers) is None


def test_the_images_gunicorn_configuration_warns_too(monkeypatch):
    """The Dockerfile runs gunicorn on config/gunicorn.conf.py (two workers by default),
    not ``trustdesk serve``: the settings come from the environment there."""
    monkeypatch.delenv("TRUSTDESK_REDIS_URL", raising=False)
    monkeypatch.setenv("TRUSTDESK_WORKERS", "2")
    configured = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    server = SimpleNamespace(app=SimpleNamespace(), num_workers=configured["workers"], log=Log())
    configured["when_ready"](server)
    assert len(server.log.warnings) == 1
