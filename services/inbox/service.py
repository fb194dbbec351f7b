"""Fan-out to every trusting node at once, each call bounded, merged by urgency.

The inbox asks each active trust where this account is the trusted side (only for the
offerings routed to the person's teams) concurrently, each call with its own timeout,
and adds this account's own open requests routed to those teams. Each source is reported
``ok``, ``unreachable`` (down, slow past its timeout, or an answer that did not validate)
or ``refused`` (the peer declined: e.g. it ended the trust), with its latency, so one
dead node costs at most its timeout and never hides the rest. Items are merged by the
moment their resolution SLA falls due, soonest first.

A page of ``limit`` rows never needs more than ``limit`` from one source, but asking
each of twenty nodes for all of them makes every node build, and this node check, twenty
times the rows shown. So the first round asks each node for its fair share with room to
spare (``first_ask``), or, if more, for a little more than it had on the last such page
(``Shares``: urgent work tends to stay where it is, and a second call costs more than
many rows); a second round, from each node's urgency cursor, asks only the nodes whose
rows may still belong on the page, for no more than could (``shortfall``). After it the
page is exact: see ``shortfall`` for why two rounds always suffice.

Both rounds share one deadline, the per-node timeout from the page's start (before its
own queries): a node slow past it in the first round must not make the page wait a
second round on top. The second round gets what is left; if a slow node left too little
of it (under ``LEAST_SECOND_ROUND`` of the timeout), it is skipped and the page shows the
first round's rows, each source that may hold more saying so (``more``): a degraded
page, never a late one. The page waits for a round no longer than the round's timeout,
whatever each call's own (a socket timeout counts from the call's start and bounds each
read, not the call): a call still out then is left to end on its own, its answer unused.

The calls run on one thread pool per process (``fanout_pool``), not one per page: a page
that started twenty threads and let them go spent about a tenth of its own CPU on it.
The pool keeps idle threads and starts more only while every one is busy, up to
``FANOUT_THREADS``; a call left out past its page's deadline holds its thread no longer
than the client's deadline for it (``trust.client``), which is the same.
"""

from __future__ import annotations

import math
import os
import threading
import time
from bisect import bisect_left
from collections import Counter, OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from account_node.context import Work
from account_node.identity.models import Account
from services.inbox.store import InboxStore
from services.requests.clocks import read_clocks
from services.requests.service import Requests
from services.requests.store import RequestFilter
from services.visibility.remote import Reach, TrustedRequests
from trust.errors import PeerDeclined, PeerNotAllowed, PeerUnavailable
from trust.handshake import Handshake

OPEN = ("new", "assigned", "in_progress", "waiting_for_customer")
FANOUT_THREADS = 128  # calls to trusting nodes in flight at once, for all pages of a process
SPARE = 2  # the first round asks each node for this many times its fair share
LEAST_FIRST_ASK = 5  # and never for fewer rows than this
LEAST_SECOND_ROUND = 0.125  # of the timeout, left for a second round that is worth asking
monotonic = time.monotonic  # the deadline's clock (tests move it by hand)

Key = tuple[datetime, str]  # (resolution due, id): the order the inbox merges by


def first_ask(limit: int, nodes: int) -> int:
    """Rows to ask each of ``nodes`` remote sources for in the first round."""
    if nodes <= 0:
        return limit
    return min(limit, max(LEAST_FIRST_ASK, math.ceil(SPARE * limit / nodes)))


class Shares:
    """How many rows each node had on the last page of the same kind, per process.

    Only counts, keyed by trust and the page's filters: nothing of a request is kept
    (the inbox keeps no copy, DESIGN section 1). Bounded: the oldest entries go first.
    """

    MOST = 4096

    def __init__(self) -> None:
        self._shown: OrderedDict[tuple[Any, ...], int] = OrderedDict()
        self._lock = threading.Lock()

    def last(self, key: tuple[Any, ...]) -> int:
        with self._lock:
            return self._shown.get(key, 0)

    def remember(self, key: tuple[Any, ...], shown: int) -> None:
        with self._lock:
            self._shown[key] = shown
            self._shown.move_to_end(key)
            while len(self._shown) > self.MOST:
                self._shown.popitem(last=False)


SHARES = Shares()


def ask_of(limit: int, nodes: int, shown_last: int) -> int:
    """The first round's ask of one node: its fair share with room to spare, or a
    quarter more than it had on the last such page, if that is more."""
    return min(limit, max(first_ask(limit, nodes), shown_last + shown_last // 4 + 1))


_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def fanout_pool() -> ThreadPoolExecutor:
    """This process's pool for calls to trusting nodes, made at first need. Made anew in
    a forked child (gunicorn's workers fork from the arbiter): a pool's threads do not
    survive a fork, and one that believes it still has them never runs a call."""
    global _pool
    found = _pool
    if found is not None and found[0] == os.getpid():
        return found[1]
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            pool = ThreadPoolExecutor(max_workers=FANOUT_THREADS, thread_name_prefix="inbox")
            _pool = (os.getpid(), pool)
        return _pool[1]


def urgency_key(item: dict[str, Any]) -> Key:
    return item["urgency_at"], item["id"]


@dataclass
class Fetched:
    """What one source has sent so far, in urgency order, and whether it holds more."""

    items: list[dict[str, Any]] = field(default_factory=list)
    cursor: str | None = None  # where to go on from; None: the source sent all it holds

    @property
    def last(self) -> Key | None:
        return urgency_key(self.items[-1]) if self.items else None


def shortfall(fetched: list[Fetched], others: list[dict[str, Any]], limit: int) -> list[int]:
    """For each source, how many more rows to ask of it so that the page is exact.

    An unsent row of source ``s`` comes after its last sent row, so ahead of it are all
    of ``s``'s sent rows and every row known from the others (``fetched``, and ``others``:
    this node's own) that sorts before that last row. Once those add up to ``limit``, no
    unsent row of ``s`` can be on the page; so asking ``s`` for the difference, from its
    cursor, settles ``s`` in one more call, whatever the others send meanwhile."""
    known = sorted(
        [urgency_key(i) for f in fetched for i in f.items] + [urgency_key(i) for i in others]
    )
    wanted = []
    for source in fetched:
        last = source.last
        if source.cursor is None or last is None:
            wanted.append(0)
            continue
        ahead = bisect_left(known, last) + 1  # every known row up to and with ``last``
        wanted.append(max(0, limit - ahead))
    return wanted


@dataclass(frozen=True)
class Source:
    account: str
    trust_id: str | None
    node: str
    status: str
    latency_ms: float
    count: int
    account_name: str = ""  # for people: the name the trust's agreement gives
    more: bool = False  # it holds more open requests than it sent

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "account_name": self.account_name or self.account,
            "trust_id": self.trust_id,
            "node": self.node,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 1),
            "count": self.count,
            "more": self.more,
        }


@dataclass
class _Remote:
    """One trusting node over the rounds of one inbox page."""

    reach: Reach
    share_key: tuple[Any, ...]
    fetched: Fetched = field(default_factory=Fetched)
    status: str = "ok"
    spent_ms: float = 0.0


class Inbox:
    def __init__(self, work: Work, handshake: Handshake, timeout: float) -> None:
        self.work = work
        self.remote = TrustedRequests(work, handshake)
        self.handshake = handshake
        self.timeout = timeout

    def gather(
        self,
        *,
        account: str | None = None,
        sla_state: str | None = None,
        offering: str | None = None,
        team: str | None = None,
        service: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        deadline = monotonic() + self.timeout
        own = self.work.scope.account_id
        reaches = [
            r
            for r in self.remote.reaches(team_id=team, service_id=service)
            if (account is None or r.trust.peer_account == account) and r.offering_ids
        ]
        args: dict[str, Any] = {"sort": "urgency", "sla_state": sla_state}
        if offering:
            args["offering"] = [offering]
        sources: list[Source] = []
        local: list[dict[str, Any]] = []
        if account in (None, own) and not offering:
            started = time.perf_counter()
            name = self._own_name()
            local = self._local(sla_state, team, service, limit + 1, name)
            more = len(local) > limit
            local = local[:limit]
            sources.append(
                Source(own, None, "this node", "ok", _ms(started), len(local), name, more)
            )
        remotes = [
            _Remote(r, (own, r.trust.id, r.offering_ids, offering, sla_state, limit))
            for r in reaches
        ]
        if remotes:
            self._fan_out(remotes, args, local, limit, deadline)
        items = list(local)
        for remote in remotes:
            trust = remote.reach.trust
            items += remote.fetched.items
            sources.append(
                Source(
                    trust.peer_account,
                    trust.id,
                    trust.peer_node,
                    remote.status,
                    remote.spent_ms,
                    len(remote.fetched.items),
                    trust.peer_name,
                    remote.fetched.cursor is not None,
                )
            )
        items.sort(key=urgency_key)
        items = items[:limit]
        shown = Counter(i["trust_id"] for i in items)
        for remote in remotes:
            if remote.status == "ok":
                SHARES.remember(remote.share_key, shown[remote.reach.trust.id])
        return {"items": items, "sources": [s.as_dict() for s in sources]}

    def _fan_out(
        self,
        remotes: list[_Remote],
        args: dict[str, Any],
        local: list[dict[str, Any]],
        limit: int,
        deadline: float,
    ) -> None:
        """The two rounds: a fair share of every node, then what the page still needs of
        those that may have it, each within what is left of the page's ``deadline``. A
        node that fails in the second round is reported unreachable, with the rows it sent
        in the first: they are its most urgent, and the others' second asks were reckoned
        with them ahead."""
        key = self.handshake.keys.current()
        pool = fanout_pool()
        sent: list[Future[Any]] = []

        def round_of(asks: list[tuple[_Remote, int]], timeout: float) -> None:
            calls = {
                pool.submit(self._ask, remote, {**args, "limit": n}, key, timeout): remote
                for remote, n in asks
                if n > 0
            }
            sent.extend(calls)
            answered, _ = wait(calls, timeout=timeout)
            for call, remote in calls.items():
                if call in answered:
                    _take(remote, *call.result())
                else:  # out past the deadline: left to end on its own, unread
                    remote.status = "unreachable"
                    remote.spent_ms += timeout * 1000

        try:
            n, least = len(remotes), LEAST_SECOND_ROUND * self.timeout
            first = [(r, ask_of(limit, n, SHARES.last(r.share_key))) for r in remotes]
            round_of(first, max(deadline - monotonic(), least))
            left = deadline - monotonic()
            if left < least:
                return  # a node slow past the deadline took the page's time
            alive = [r for r in remotes if r.status == "ok"]
            wanted = shortfall([r.fetched for r in alive], local, limit)
            round_of(list(zip(alive, wanted, strict=True)), left)
        finally:
            for call in sent:  # those still queued when the page is done: never sent
                call.cancel()

    def _ask(
        self, remote: _Remote, args: dict[str, Any], key: Any, timeout: float
    ) -> tuple[str, dict[str, Any] | None, float]:
        """One call to one trusting node: (status, its page if ok, ms spent). Runs in a
        pool thread and changes nothing: only the page's thread takes an answer, and
        only one that came in time (``_take``)."""
        started = time.perf_counter()
        if remote.fetched.cursor is not None:
            args = {**args, "cursor": remote.fetched.cursor}
        try:
            page = self.remote.list_in(remote.reach, args, key, timeout=timeout)
        except PeerDeclined:
            return "refused", None, _ms(started)
        except (PeerUnavailable, PeerNotAllowed):
            return "unreachable", None, _ms(started)
        return "ok", page, _ms(started)

    def _own_name(self) -> str:
        account = self.work.session.get(Account, self.work.scope.account_id)
        return account.name if account is not None else self.work.scope.account_id

    def _local(
        self,
        sla_state: str | None,
        team: str | None,
        service: str | None,
        limit: int,
        own_name: str,
    ) -> list[dict[str, Any]]:
        """This account's own open requests the person may see, due soonest first."""
        requests = Requests(self.work)
        filters = RequestFilter(
            statuses=OPEN, sla_state=sla_state, team_id=team, service_id=service
        )
        rows = InboxStore(self.work.session, self.work.scope).most_urgent(
            requests.visibility(), filters, limit
        )
        pauses = requests.store.pauses_of(r.id for r in rows)
        now = self.work.clock.now()
        own = self.work.scope.account_id
        found: list[dict[str, Any]] = []
        for r in rows:
            spans = [(p.began_at, p.ended_at) for p in pauses[r.id]]
            response, resolution = read_clocks(r, spans, now)
            found.append(
                {
                    "id": r.id,
                    "reference": f"REQ-{r.number}",
                    "subject": r.subject,
                    "status": r.status,
                    "priority": r.priority,
                    "offering": r.offering_id,
                    "urgency_at": r.resolution_due_at,
                    "created_at": r.created_at,
                    "updated_at": r.updated_at,
                    "sla": {
                        "name": r.sla_name,
                        "source": r.sla_source,
                        "reason": r.sla_reason,
                        "response": response.as_dict(),
                        "resolution": resolution.as_dict(),
                    },
                    "account": own,
                    "account_name": own_name,
                    "trust_id": None,
                    "path": f"/api/v1/requests/{r.id}",
                }
            )
        return found


def _take(remote: _Remote, status: str, page: dict[str, Any] | None, spent_ms: float) -> None:
    """Add one call's answer to what ``remote`` has sent on this page."""
    remote.spent_ms += spent_ms
    if page is None:
        remote.status = status
        return
    if not _follows(remote.fetched, page["items"]):  # a peer that does not page as asked
        remote.status = "unreachable"
        return
    trust = remote.reach.trust
    remote.fetched.items += [
        {
            **item,
            "account": trust.peer_account,
            "account_name": trust.peer_name,
            "trust_id": trust.id,
            "path": f"/api/v1/trusts/{trust.id}/requests/{item['id']}",
        }
        for item in page["items"]
    ]
    remote.fetched.cursor = page["next_cursor"]


def _follows(fetched: Fetched, items: list[dict[str, Any]]) -> bool:
    """Whether ``items`` go on from what the source sent before, as an urgency page
    must: each after the last, none sent twice. The merge and the second round's
    reckoning (``shortfall``) count on it; a peer that repeats a row to fill the page
    or sends it out of order is answering some other question."""
    previous, seen = fetched.last, {i["id"] for i in fetched.items}
    for item in items:
        key = urgency_key(item)
        if (previous is not None and key <= previous) or item["id"] in seen:
            return False
        previous = key
        seen.add(item["id"])
    return True


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
