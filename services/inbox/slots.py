"""How many live streams one node process serves at once.

A live inbox stream holds one of the server's threads for its whole life (gunicorn's
gthread worker runs each call in flight on a thread of its own). Unbounded, streams took
them all: with 2 workers of 8 threads, 16 open inbox pages left the node answering
nothing else, every other call queued until a stream ended minutes later. A process
therefore serves at most ``inbox_streams_per_process`` streams, fewer than its threads
(``Settings`` refuses otherwise); one more is answered 503 with ``Retry-After``, and the
portal's inbox then refreshes itself now and then instead of live.

A slot is given back when the stream runs out, or when the server closes its response,
however it ended: the client went away, or it never started. Not in the generator's
``finally``: a generator that never ran does not run its ``finally`` on close. And
should the response never go out (something failed after the view: Flask answers with
a response of its own and drops the stream's without closing it), when its body is
collected: a slot lost so stayed lost until the process restarted, and once all were,
every stream was refused.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from account_node.errors import NodeError


class StreamsFull(NodeError):
    status = 503
    code = "live_streams_full"
    title = "This node serves as many live streams as it can"
    retry_after = 30


class StreamSlots:
    def __init__(self, size: int) -> None:
        self.size = size
        self._free = threading.BoundedSemaphore(size)

    def hold(self, events: Iterable[str]) -> _Held:
        """``events`` as a response body that holds a slot until the server closes it;
        ``StreamsFull`` when none is free."""
        if not self._free.acquire(blocking=False):
            raise StreamsFull(
                f"all {self.size} live streams of this server process are open; "
                f"try again in {StreamsFull.retry_after} seconds or refresh instead"
            )
        return _Held(self._free, iter(events))


class _Held:
    """A stream's body; running out, ``close`` (called by the WSGI server), or being
    collected unclosed gives its slot back, once."""

    def __init__(self, free: threading.BoundedSemaphore, events: Iterator[str]) -> None:
        self._events = events
        self._open = True
        self._lock = threading.Lock()
        self._give_back = weakref.finalize(self, free.release)  # runs once, at most
        self._give_back.atexit = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            return next(self._events)
        except StopIteration:
            self.close()  # ended on its own: its slot is free before the server closes it
            raise

    def close(self) -> None:
        with self._lock:
            if not self._open:
                return
            self._open = False
        try:
            closing: Any = getattr(self._events, "close", None)
            if closing is not None:
                closing()
        finally:
            self._give_back()


def slots_for(registry: dict[str, Any], size: int) -> StreamSlots:
    """The process's slots, kept in ``registry`` (the app's extensions)."""
    found = registry.get("trustdesk.stream_slots")
    if found is None:
        found = registry.setdefault("trustdesk.stream_slots", StreamSlots(size))
    return found  # type: ignore[no-any-return]
