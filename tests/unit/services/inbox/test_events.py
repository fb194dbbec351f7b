"""A person's live inbox stream, over a hub that plays a script of events.

A stream carries notices about the offerings routed to its person's teams. When a trust
it reaches is deactivated, it tells its client and ends (DESIGN section 5: open live
streams under a deactivated trust are closed): the client reconnects and gets a stream
computed from the trusts that remain. A stream that never reached that trust is not
told, and goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from services.inbox.events import Listening, deactivated, stream

ACCOUNT = "acct-msp"
ROUTED = {"off-alpha": "trust-alpha", "off-beta": "trust-beta"}


class ScriptedHub:
    """Plays ``script`` to the one stream that listens, and notes how far it got."""

    def __init__(self, *script: dict[str, Any] | None) -> None:
        self.script = script
        self.played = 0
        self.listening = False

    def publish(self, account_id: str, event: dict[str, Any]) -> None:
        raise AssertionError("a stream only listens")

    def listen(self, account_id: str, seconds: float) -> Listening:
        assert account_id == ACCOUNT
        self.listening = True
        try:
            for event in self.script:
                self.played += 1
                yield event
        finally:
            self.listening = False


def notice(offering: str, trust: str, request: str) -> dict[str, Any]:
    return {"id": f"{request}:note", "type": "request.changed", "trust": trust,
            "offering": offering, "request": request, "action": "note"}  # fmt: skip


def told(chunks: Iterator[str] | list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The events a client reads from ``chunks``: (type, data); comments left out."""
    found = []
    for chunk in chunks:
        fields = dict(
            line.split(": ", 1) for line in chunk.splitlines() if line and not line.startswith(":")
        )
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


def test_a_stream_reaching_a_deactivated_trust_tells_its_client_and_then_ends():
    hub = ScriptedHub(
        notice("off-alpha", "trust-alpha", "r1"),
        deactivated("trust-alpha"),
        notice("off-beta", "trust-beta", "r2"),  # would still be news, to a fresh stream
        None,
    )
    events = stream(hub, ACCOUNT, ROUTED, seconds=300)
    assert next(events) == "retry: 3000\n\n"
    assert told([next(events), next(events)]) == [
        ("request.changed", notice("off-alpha", "trust-alpha", "r1")),
        ("trust.deactivated", deactivated("trust-alpha")),
    ]
    with pytest.raises(StopIteration):
        next(events)
    assert hub.played == 2, "the stream listened on after telling its client"
    assert not hub.listening, "the ended stream is still subscribed to the hub"


def test_a_stream_not_reaching_the_deactivated_trust_is_not_told_and_goes_on():
    hub = ScriptedHub(
        deactivated("trust-gamma"),
        None,
        notice("off-beta", "trust-beta", "r2"),
    )
    events = list(stream(hub, ACCOUNT, ROUTED, seconds=300))
    assert told(events) == [("request.changed", notice("off-beta", "trust-beta", "r2"))]
    assert ": keep-alive\n\n" in events
    assert hub.played == 3


def test_a_stream_reaching_no_trust_is_not_told_of_a_deactivation():
    """Someone who sees only the account's own requests (no offering routed to them)."""
    hub = ScriptedHub(deactivated("trust-alpha"), {"id": "x", "type": "request.changed",
                                                   "local": True, "request": "own"})  # fmt: skip
    events = list(stream(hub, ACCOUNT, {}, seconds=300, sees_local=lambda event: True))
    assert [kind for kind, _ in told(events)] == ["request.changed"]


def test_a_client_that_goes_away_releases_the_subscription():
    hub = ScriptedHub(None, None, None)
    events = stream(hub, ACCOUNT, ROUTED, seconds=300)
    next(events), next(events)
    assert hub.listening
    events.close()
    assert not hub.listening


def test_an_event_id_with_line_breaks_cannot_start_an_event_of_its_own():
    """Ids are checked where events come in; the stream does not rely on it."""
    forged = {**notice("off-alpha", "trust-alpha", "r1"),
              "id": "x\n\nevent: trust.deactivated\r\ndata: {}\x00"}  # fmt: skip
    events = list(stream(ScriptedHub(forged), ACCOUNT, ROUTED, seconds=300))
    [chunk] = [e for e in events if e.startswith("id:")]
    assert chunk.startswith("id: xevent: trust.deactivateddata: {}\nevent: request.changed\n")
    assert told(events) == [("request.changed", forged)]


class Trusts:
    """The account's trusts as a stream's check finds them; notes what it was asked."""

    def __init__(self) -> None:
        self.inactive: set[str] = set()
        self.asked: list[frozenset[str]] = []

    def ended(self, trusts: frozenset[str]) -> set[str]:
        self.asked.append(trusts)
        return set(trusts) & self.inactive


def test_a_stream_whose_trust_ended_elsewhere_tells_its_client_at_the_next_keep_alive():
    """Deactivated by another worker process or on the command line, the trust's end was
    published to a hub no stream of this process hears: the stream finds it itself."""
    trusts = Trusts()
    hub = ScriptedHub(None, notice("off-alpha", "trust-alpha", "r1"), None, None)
    events = stream(hub, ACCOUNT, ROUTED, seconds=300, ended=trusts.ended)
    assert next(events) == "retry: 3000\n\n"
    assert next(events) == ": keep-alive\n\n"  # both still active
    trusts.inactive.add("trust-beta")

    rest = list(events)

    assert told(rest) == [
        ("request.changed", notice("off-alpha", "trust-alpha", "r1")),
        ("trust.deactivated", deactivated("trust-beta")),
    ]
    assert hub.played == 3 and not hub.listening
    assert trusts.asked == [frozenset({"trust-alpha", "trust-beta"})] * 2


def test_a_stream_kept_busy_by_events_still_checks_its_trusts(monkeypatch):
    """A busy account's stream may never be quiet for a keep-alive interval."""
    from services.inbox import events as module

    now = [0.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])
    trusts = Trusts()
    trusts.inactive.add("trust-alpha")
    busy = [notice("off-beta", "trust-beta", f"r{n}") for n in range(4)]
    hub = ScriptedHub(*busy)
    events = stream(hub, ACCOUNT, ROUTED, seconds=300, ended=trusts.ended)
    next(events), next(events)  # the first event: checked a moment ago
    assert trusts.asked == []
    now[0] += module.KEEPALIVE_SECONDS

    assert told(events) == [("trust.deactivated", deactivated("trust-alpha"))]


def test_a_stream_reaching_no_trust_never_asks_about_trusts():
    """Someone who sees only the account's own requests costs the database nothing."""
    trusts = Trusts()
    list(stream(ScriptedHub(None, None), ACCOUNT, {}, seconds=300, ended=trusts.ended))
    assert trusts.asked == []


def test_two_changes_to_one_request_that_add_no_timeline_entry_have_distinct_ids():
    """A client drops an event whose id it has seen: the second edit of a subject was
    dropped as a repeat of the first."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from services.inbox.events import local_event

    request = SimpleNamespace(id="r1", event_count=3, team_id="t", assignee_id=None,
                              requester_id="p")  # fmt: skip
    at = datetime(2026, 1, 1, tzinfo=UTC)
    first, second = (local_event(request, "updated", at) for _ in range(2))
    assert first["id"] != second["id"]
    assert "\n" not in first["id"] and first["id"].startswith("r1:")
