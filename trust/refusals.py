"""Which refused federation calls go into the audit log, and how many went unrecorded.

Every refusal is audited (DESIGN section 5), but a refusal before authentication (no
signature, a forged one, an unknown key, a stale ``created``, a replay) names nobody:
anyone can send one, as fast as they like. Were each one an event, a stranger could
grow any account's audit chain without bound and hold its head's lock (every writer of
the account waits on it). So those are recorded once per account and reason per
``WINDOW_SECONDS``, each record saying how many like it went unrecorded since the last
(each is still in the node's log). A refusal of an authenticated peer (the trust or the
offering does not allow the call) is always recorded: it names the peer.

Per process: with several workers, at most one record per worker and window.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

WINDOW_SECONDS = 60.0
MOST_KEYS = 10_000  # accounts x reasons remembered; the oldest are forgotten first


class RefusalThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # (account, reason) -> (when last recorded, refusals unrecorded since)
        self._seen: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()

    def admit(self, account_id: str, reason: str) -> int | None:
        """None: do not record this refusal. Else record it, with the returned number
        of refusals of the same account and reason that were not recorded before it."""
        key, now = (account_id, reason), self._clock()
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last[0] < WINDOW_SECONDS:
                self._seen[key] = (last[0], last[1] + 1)
                return None
            self._seen[key] = (now, 0)
            self._seen.move_to_end(key)
            while len(self._seen) > MOST_KEYS:
                self._seen.popitem(last=False)
            return last[1] if last is not None else 0


UNAUTHENTICATED = RefusalThrottle()
