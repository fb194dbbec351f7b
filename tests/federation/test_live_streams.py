"""Open live streams under a deactivated trust are closed (DESIGN section 5), whichever
process ended the trust.

In the embedded default each process of a node has a hub of its own: a trust ended on
the command line, or by another gunicorn worker, was published where no open stream
listens, and those streams went on under the ended trust for the rest of their life.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time

from click.testing import CliRunner

from account_node.cli import main as cli
from services.inbox import events


def _environment(settings) -> dict[str, str]:
    """``settings`` as the command line reads them: TRUSTDESK_* variables."""
    return {
        f"TRUSTDESK_{name.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in dataclasses.asdict(settings).items()
    }


def test_a_trust_ended_on_the_command_line_closes_the_streams_under_it(served, monkeypatch):
    """The command publishes the end to its own process's hub; the MSP specialist's
    stream, served by the node's process, finds the trust ended at its next keep-alive."""
    node = served.msp.app.extensions["trustdesk"]
    environment = _environment(node.settings)
    monkeypatch.setattr(node, "settings", node.settings.replace(inbox_stream_seconds=60))
    monkeypatch.setattr(events, "KEEPALIVE_SECONDS", 0.5)
    received: list[dict] = []

    def listen() -> None:
        with (
            served.msp.client(served.msp_account.specialist) as client,
            client.stream("GET", "/api/v1/inbox/events", timeout=90) as stream,
        ):
            assert stream.status_code == 200
            received.extend(
                json.loads(line.removeprefix("data: "))
                for line in stream.iter_lines()
                if line.startswith("data: ")
            )

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(1.0)  # the stream is open, and has checked its trust at least once
    assert listener.is_alive()
    admin = served.msp_account.admin.email
    ended = CliRunner().invoke(
        cli,
        ["trust", "deactivate", "--account", served.msp_account.id, "--as", admin, served.trust],
        env=environment,
    )
    assert ended.exit_code == 0, ended.output

    listener.join(timeout=10)
    assert not listener.is_alive(), "the stream outlived the trust it reached"
    assert received[-1] == {"id": f"{served.trust}:end", "type": "trust.deactivated",
                            "trust": served.trust}  # fmt: skip
