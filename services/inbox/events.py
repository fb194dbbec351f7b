"""Live inbox updates: changes to the account's own requests and event notices from
trusting nodes, fanned out to open streams.

A trusting node sends references only (which request, on which offering, what kind of
change), signed, through its outbox; this node acknowledges with 202, drops a notice it
has seen before, and publishes it to the account's subscribers after the commit. A change
to one of the account's own requests is published the same way (``local_event``), after
its commit. With Redis configured the hub is Redis pub/sub, so every worker's streams hear
every event; in the embedded default it is in-process. A stream sees only notices about
offerings routed to its person's teams, and ends once it has told its client that one of
their trusts was deactivated (the client's next stream no longer reaches it); of the
account's own requests, only those the person may see.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from datetime import datetime
from typing import Any, Protocol

CHANNEL = "trustdesk:inbox:{account}"
KEEPALIVE_SECONDS = 15.0


# What a hub's listener yields: an event, or None at a quiet keep-alive interval. Closing
# it ends the subscription.
Listening = Generator[dict[str, Any] | None, None, None]


class Hub(Protocol):
    def publish(self, account_id: str, event: dict[str, Any]) -> None: ...

    def listen(self, account_id: str, seconds: float) -> Listening: ...


class LocalHub:
    """Subscribers of this process; each has a bounded queue (a stalled one drops)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[queue.Queue[dict[str, Any]]]] = {}

    def publish(self, account_id: str, event: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._subscribers.get(account_id, ()))
        for target in targets:
            with contextlib.suppress(queue.Full):
                target.put_nowait(event)

    def listen(self, account_id: str, seconds: float) -> Listening:
        """Events as they come, ``None`` at each quiet keep-alive interval, for ``seconds``."""
        mine: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=1000)
        with self._lock:
            self._subscribers.setdefault(account_id, set()).add(mine)
        try:
            yield from _drain(mine.get, seconds)
        finally:
            with self._lock:
                self._subscribers[account_id].discard(mine)


class RedisHub:
    def __init__(self, url: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(url)

    def publish(self, account_id: str, event: dict[str, Any]) -> None:
        self.redis.publish(CHANNEL.format(account=account_id), json.dumps(event))

    def listen(self, account_id: str, seconds: float) -> Listening:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(CHANNEL.format(account=account_id))

        def get(timeout: float) -> dict[str, Any]:
            message = pubsub.get_message(timeout=timeout)
            if message is None:
                raise queue.Empty
            return dict(json.loads(message["data"]))

        try:
            yield from _drain(lambda timeout: get(timeout), seconds)
        finally:
            pubsub.close()


def _drain(get: Any, seconds: float) -> Iterator[dict[str, Any] | None]:
    import time

    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            yield get(timeout=min(KEEPALIVE_SECONDS, left))
        except queue.Empty:
            yield None


def hub_for(registry: dict[str, Any], redis_url: str) -> Hub:
    """The node's hub, kept in ``registry`` (the app's extensions)."""
    found = registry.get("trustdesk.hub")
    if found is None:
        found = registry.setdefault(
            "trustdesk.hub", RedisHub(redis_url) if redis_url else LocalHub()
        )
    return found  # type: ignore[no-any-return]


def local_event(
    request: Any, action: str, at: datetime, *, internal: bool = False
) -> dict[str, Any]:
    """A change to one of the account's own requests, as its streams are told of it:
    who may see it (team, assignee, requester; ``internal``: only those who work it),
    never its content."""
    return {
        "id": f"{request.id}:{request.event_count or 0}:{action}",
        "type": "request.changed",
        "local": True,
        "request": request.id,
        "team": request.team_id,
        "assignee": request.assignee_id,
        "requester": request.requester_id,
        "action": action,
        "internal": internal,
        "at": at.isoformat(),
        "path": f"/api/v1/requests/{request.id}",
    }


# Whether the person of a stream may see a local event's request.
SeesLocal = Callable[[dict[str, Any]], bool]


def stream(
    hub: Hub,
    account_id: str,
    offerings: dict[str, str],
    seconds: float,
    sees_local: SeesLocal = lambda event: False,
) -> Iterator[str]:
    """Server-sent events for one person: ``offerings`` maps offering id -> trust id.

    ``offerings`` is fixed when the stream opens. So when a trust it reaches is
    deactivated, the stream tells its client and ends (DESIGN section 5): the client
    reconnects and is given a stream of the trusts that remain. A stream that does not
    reach that trust is not told, and goes on."""
    yield "retry: 3000\n\n"
    reached = set(offerings.values())
    with contextlib.closing(hub.listen(account_id, seconds)) as events:
        for event in events:
            if event is None:
                yield ": keep-alive\n\n"
            elif event.get("local"):
                if sees_local(event):
                    yield _rendered(event)
            elif event.get("type") == "trust.deactivated":
                if str(event.get("trust")) in reached:
                    yield _rendered(event)
                    return
            elif str(event.get("offering")) in offerings:
                yield _rendered(event)


def _rendered(event: dict[str, Any]) -> str:
    """One server-sent event. The data is JSON, which escapes line breaks; the id and
    type are written as they are, so a line break in them (checked where events come
    in) would end the line and let the rest pose as fields or events of its own: they
    lose any here too (and NUL, which makes a client ignore the id)."""
    name, kind = _one_line(str(event.get("id", ""))), _one_line(str(event["type"]))
    return f"id: {name}\nevent: {kind}\ndata: {json.dumps(event)}\n\n"


def _one_line(text: str) -> str:
    return text.translate(_LINE_BREAKS)


_LINE_BREAKS = {ord("\r"): None, ord("\n"): None, 0: None}
