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

A deactivation is published by the process that made it, to its own hub: in the
embedded default another worker process, or ``trustdesk trust deactivate`` on the
command line, publishes where no stream listens. So a stream also asks now and then
(``ended``, at each keep-alive) whether the trusts it reaches are still active, and
ends the same way when one is not: every stream under a deactivated trust is closed
within a keep-alive interval, whichever process or hub the deactivation came through.

Redis pub/sub channels belong to the whole Redis server, not to one of its numbered
databases: nodes sharing a server (docker-compose gives each node a database of one
Redis) heard each other's events wherever their account ids matched. A channel is
therefore named for its node too: its Redis database and its public URL, which all the
node's processes share and no other node has.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import secrets
import threading
import time
from collections.abc import Callable, Generator, Iterator
from datetime import datetime
from typing import Any, Protocol

CHANNEL = "trustdesk:{node}:inbox:{account}"
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
    """Every process of the node hears every event; ``node_url`` (the node's public URL)
    and the database of ``url`` name the node's channels (module docstring)."""

    def __init__(self, url: str, node_url: str = "") -> None:
        import redis

        # As the job queue's client (account_node.jobs): a Redis that stops answering
        # must not hold the request thread that publishes after its commit.
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        database = self.redis.connection_pool.connection_kwargs.get("db", 0)
        self.node = f"{database}-{hashlib.sha256(node_url.encode()).hexdigest()[:12]}"

    def channel(self, account_id: str) -> str:
        return CHANNEL.format(node=self.node, account=account_id)

    def publish(self, account_id: str, event: dict[str, Any]) -> None:
        self.redis.publish(self.channel(account_id), json.dumps(event))

    def listen(self, account_id: str, seconds: float) -> Listening:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel(account_id))

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
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            yield get(timeout=min(KEEPALIVE_SECONDS, left))
        except queue.Empty:
            yield None


def hub_for(registry: dict[str, Any], redis_url: str) -> Hub:
    """The node's hub, kept in ``registry`` (the app's extensions, where the node's
    public URL names its Redis channels)."""
    found = registry.get("trustdesk.hub")
    if found is None:
        found = registry.setdefault("trustdesk.hub", _new_hub(registry, redis_url))
    return found  # type: ignore[no-any-return]


def _new_hub(registry: dict[str, Any], redis_url: str) -> Hub:
    if not redis_url:
        return LocalHub()
    settings = getattr(registry.get("trustdesk"), "settings", None)
    return RedisHub(redis_url, str(getattr(settings, "public_url", "")).rstrip("/"))


def local_event(
    request: Any, action: str, at: datetime, *, internal: bool = False
) -> dict[str, Any]:
    """A change to one of the account's own requests, as its streams are told of it:
    who may see it (team, assignee, requester; ``internal``: only those who work it),
    never its content. Its id is this change's alone: a client drops an event whose id
    it has seen, and some changes (an edit of the subject) add no timeline entry, so the
    request's entry count and the action did not tell two of them apart."""
    return {
        "id": f"{request.id}:{request.event_count or 0}:{action}:{secrets.token_hex(6)}",
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
# Which of the given trusts are no longer active (asked at each keep-alive).
Ended = Callable[[frozenset[str]], set[str]]


def deactivated(trust_id: str) -> dict[str, Any]:
    """What a stream's client is told when a trust it reaches ends: the event the hub
    carries (services.inbox.notices), whichever way the stream learned of the end."""
    return {"id": f"{trust_id}:end", "type": "trust.deactivated", "trust": trust_id}


def stream(
    hub: Hub,
    account_id: str,
    offerings: dict[str, str],
    seconds: float,
    sees_local: SeesLocal = lambda event: False,
    ended: Ended = lambda trusts: set(),
) -> Iterator[str]:
    """Server-sent events for one person: ``offerings`` maps offering id -> trust id.

    ``offerings`` is fixed when the stream opens. So when a trust it reaches is
    deactivated, the stream tells its client and ends (DESIGN section 5): the client
    reconnects and is given a stream of the trusts that remain. A stream that does not
    reach that trust is not told, and goes on. It learns of the deactivation from the
    hub, or by asking ``ended`` at each keep-alive, and at least as often while events
    keep coming (module docstring)."""
    yield "retry: 3000\n\n"
    reached = frozenset(offerings.values())
    checked = time.monotonic()
    with contextlib.closing(hub.listen(account_id, seconds)) as events:
        for event in events:
            if reached and (event is None or time.monotonic() - checked >= KEEPALIVE_SECONDS):
                checked = time.monotonic()
                gone = ended(reached)
                if gone:
                    yield _rendered(deactivated(min(gone)))
                    return
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
