"""The inbox merges the most urgent rows of many nodes without asking each for a page.

It asks every node for a fair share first (or a little more than it had on the last such
page), then, from their urgency cursors, only the nodes whose rows may still belong on
the page, for no more than could. Whatever the spread of rows across nodes, the page is
the same as if every node had sent everything.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.inbox import service
from services.inbox.service import Inbox, Shares, ask_of, first_ask
from services.visibility.remote import Reach
from trust.errors import PeerUnavailable

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_shares(monkeypatch):
    """Each test starts with no memory of earlier pages."""
    monkeypatch.setattr(service, "SHARES", Shares())


class FakeNodes:
    """Trusting nodes as the visibility API's urgency pages, with every call recorded."""

    def __init__(
        self,
        rows: list[list[int]],
        failing: frozenset[int] = frozenset(),
        slow: dict[int, float] | None = None,
    ) -> None:
        self.rows = [
            sorted(({"id": f"n{n}-r{i}", "urgency_at": T0 + timedelta(minutes=m)}
                    for i, m in enumerate(minutes)), key=lambda r: (r["urgency_at"], r["id"]))
            for n, minutes in enumerate(rows)
        ]  # fmt: skip
        self.failing = failing
        self.slow = slow or {}  # node: seconds its first answer takes (past the timeout: none)
        self.now = 0.0  # the inbox's deadline clock, moved by slow answers only
        self.reaching = 0.0  # seconds the page spends finding the trusts to ask
        self.calls: list[tuple[int, int]] = []  # (node, rows asked)
        self.timeouts: list[tuple[int, float]] = []  # (node, timeout of the call)

    def reaches(self, **_: Any) -> list[Reach]:
        self.now += self.reaching  # the page's own queries, before any call
        return [
            Reach(
                SimpleNamespace(
                    id=f"t{n}", peer_account="customers", peer_name="C", peer_node=f"http://n{n}"
                ),
                ("offering",),
            )
            for n in range(len(self.rows))
        ]

    def list_in(self, reach: Reach, args: dict[str, Any], key: Any, timeout: float) -> Any:
        node = int(reach.trust.id[1:])
        limit = args["limit"]
        self.calls.append((node, limit))
        self.timeouts.append((node, timeout))
        if node in self.failing and args.get("cursor"):
            raise PeerUnavailable("down in the second round")
        if node in self.slow and not args.get("cursor"):
            self.now += min(self.slow[node], timeout)  # one slow node: no overlap to model
            if self.slow[node] > timeout:
                raise PeerUnavailable("no answer within the timeout")
        start = int(args.get("cursor") or 0)
        page = self.rows[node][start : start + limit]
        more = start + limit < len(self.rows[node])
        return {
            "items": [dict(r) for r in page],
            "next_cursor": str(start + limit) if more else None,
        }


def gather(
    nodes: FakeNodes, limit: int, monkeypatch: Any = None, timeout: float | None = None
) -> dict[str, Any]:
    """One inbox page over ``nodes``. With ``monkeypatch`` the page's deadline runs on the
    nodes' clock (``FakeNodes.now``, 1 s timeout unless given); without it, on the real
    clock, with an hour unless given: a loaded machine (CI, 25 nodes' calls on a thread
    pool) once took past a second and cut the second round, which is right for a page
    and wrong for a test of the merge."""
    if monkeypatch is not None:
        monkeypatch.setattr(service, "monotonic", lambda: nodes.now)
    if timeout is None:
        timeout = 1.0 if monkeypatch is not None else 3600.0
    inbox = Inbox.__new__(Inbox)
    inbox.work = SimpleNamespace(scope=SimpleNamespace(account_id="msp"))
    inbox.remote = nodes  # type: ignore[assignment]
    inbox.handshake = SimpleNamespace(keys=SimpleNamespace(current=lambda: "key"))  # type: ignore[assignment]
    inbox.timeout = timeout
    return inbox.gather(account="customers", limit=limit)  # only the trusting nodes


def everything(nodes: FakeNodes, limit: int) -> list[str]:
    rows = sorted(
        (r for node in nodes.rows for r in node), key=lambda r: (r["urgency_at"], r["id"])
    )
    return [r["id"] for r in rows[:limit]]


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(st.integers(0, 500), max_size=80), min_size=1, max_size=25),
    limit=st.integers(1, 60),
)
def test_the_page_is_the_most_urgent_rows_of_all_nodes_in_at_most_two_calls_each(rows, limit):
    service.SHARES = Shares()  # (hypothesis runs every example in one test)
    nodes = FakeNodes(rows)
    page = gather(nodes, limit)
    assert [i["id"] for i in page["items"]] == everything(nodes, limit)
    per_node = [sum(1 for n, _ in nodes.calls if n == node) for node in range(len(rows))]
    assert max(per_node) <= 2
    for node, source in enumerate(page["sources"]):
        assert source["status"] == "ok"
        assert source["more"] == (source["count"] < len(rows[node]))


def test_a_node_is_asked_first_for_its_fair_share_with_room_to_spare():
    assert first_ask(50, 1) == 50  # one node: the whole page in one call
    assert first_ask(50, 5) == 20
    assert first_ask(50, 20) == 5
    assert first_ask(50, 200) == 5  # never fewer than a handful
    assert first_ask(3, 20) == 3  # nor more than the page


def test_a_node_that_filled_the_last_page_is_asked_for_a_little_more_than_it_had():
    assert ask_of(50, 20, 0) == 5
    assert ask_of(50, 20, 8) == 11
    assert ask_of(50, 20, 50) == 50


def test_when_the_rows_spread_evenly_no_node_is_asked_twice():
    nodes = FakeNodes([[n + 20 * i for i in range(200)] for n in range(20)])
    page = gather(nodes, 50)
    assert len(page["items"]) == 50
    assert sorted(nodes.calls) == [(n, 5) for n in range(20)]


def test_when_one_node_holds_the_most_urgent_rows_only_it_is_asked_again_for_the_rest():
    nodes = FakeNodes([list(range(200))] + [list(range(1000, 1200))] * 19)
    page = gather(nodes, 50)
    assert [i["id"] for i in page["items"]] == everything(nodes, 50)
    assert sorted(nodes.calls) == sorted([(n, 5) for n in range(20)] + [(0, 45)])
    assert sum(limit for _, limit in nodes.calls) == 145  # not 20 x 50 = 1,000 rows


def test_the_next_page_asks_that_node_for_all_it_showed_at_once():
    nodes = FakeNodes([list(range(200))] + [list(range(1000, 1200))] * 19)
    gather(nodes, 50)
    nodes.calls.clear()
    page = gather(nodes, 50)
    assert [i["id"] for i in page["items"]] == everything(nodes, 50)
    assert sorted(nodes.calls) == sorted([(0, 50)] + [(n, 5) for n in range(1, 20)])  # one round


def test_a_node_failing_in_the_second_round_is_reported_with_the_rows_it_sent_first():
    nodes = FakeNodes([list(range(200))] + [list(range(1000, 1200))] * 19, failing=frozenset({0}))
    page = gather(nodes, 50)
    first, *others = page["sources"]
    assert (first["status"], first["count"], first["more"]) == ("unreachable", 5, True)
    assert {s["status"] for s in others} == {"ok"}
    shown = [i["id"] for i in page["items"]]
    assert shown[:5] == [f"n0-r{i}" for i in range(5)]  # its most urgent, surely
    assert shown == everything(FakeNodes([list(range(5))] + [list(range(1000, 1200))] * 19), 50)


class RepeatingNode(FakeNodes):
    """Node 0 answers its second round with its first page again: rows it already sent,
    to fill the page with its own."""

    def list_in(self, reach: Reach, args: dict[str, Any], key: Any, timeout: float) -> Any:
        if reach.trust.id == "t0" and args.get("cursor"):
            args = {**args, "cursor": None}
        return super().list_in(reach, args, key, timeout)


class ShuffledNode(FakeNodes):
    """Node 0 sends its rows least urgent first: not the page it was asked for."""

    def list_in(self, reach: Reach, args: dict[str, Any], key: Any, timeout: float) -> Any:
        page = super().list_in(reach, args, key, timeout)
        if reach.trust.id == "t0":
            page["items"].reverse()
        return page


def test_a_node_repeating_rows_it_sent_is_unreachable_and_each_row_is_shown_once():
    nodes = RepeatingNode([list(range(200))] + [list(range(1000, 1200))] * 19)
    page = gather(nodes, 50)
    first, *others = page["sources"]
    assert (first["status"], first["count"]) == ("unreachable", 5)
    assert {s["status"] for s in others} == {"ok"}
    shown = [i["id"] for i in page["items"]]
    assert len(shown) == len(set(shown)) == 50
    assert shown[:5] == [f"n0-r{i}" for i in range(5)]


def test_a_node_sending_its_rows_out_of_order_is_unreachable_and_shows_none():
    """The merge and the second round's reckoning both stand on each node's order."""
    nodes = ShuffledNode([list(range(200))] + [list(range(1000, 1200))] * 19)
    page = gather(nodes, 50)
    first = page["sources"][0]
    assert (first["status"], first["count"]) == ("unreachable", 0)
    assert not any(i["id"].startswith("n0-") for i in page["items"])


ONE_NODE_HOLDS_THE_MOST_URGENT = [list(range(200))] + [list(range(1000, 1200))] * 18


def test_a_node_slow_past_the_timeout_costs_the_page_that_timeout_and_no_more(monkeypatch):
    """Its first round ends at the deadline: no second round is started after it. The
    page shows the first round's rows, and the node that may hold more says so."""
    nodes = FakeNodes([*ONE_NODE_HOLDS_THE_MOST_URGENT, list(range(200))], slow={19: 5.0})
    page = gather(nodes, 50, monkeypatch)
    assert nodes.now == 1.0  # the timeout (gather's), not a moment more
    assert sorted(nodes.calls) == [(n, 5) for n in range(20)]  # no second round
    first, *_others, hung = page["sources"]
    assert (hung["status"], hung["count"]) == ("unreachable", 0)
    assert (first["status"], first["count"], first["more"]) == ("ok", 5, True)
    assert [i["id"] for i in page["items"]][:5] == [f"n0-r{i}" for i in range(5)]


def test_a_second_round_gets_only_what_is_left_of_the_pages_time(monkeypatch):
    nodes = FakeNodes([*ONE_NODE_HOLDS_THE_MOST_URGENT, list(range(1000, 1200))], slow={19: 0.6})
    page = gather(nodes, 50, monkeypatch)
    assert [i["id"] for i in page["items"]] == everything(nodes, 50)  # exact, as ever
    assert nodes.timeouts[-1] == (0, pytest.approx(0.4))  # node 0's second ask: 1.0 - 0.6
    assert {s["status"] for s in page["sources"]} == {"ok"}


def test_too_little_time_left_for_a_second_round_skips_it(monkeypatch):
    nodes = FakeNodes(
        [*ONE_NODE_HOLDS_THE_MOST_URGENT, list(range(1000, 1200))],
        slow={19: 1.0 - service.LEAST_SECOND_ROUND / 2},
    )
    page = gather(nodes, 50, monkeypatch)
    assert sorted(nodes.calls) == [(n, 5) for n in range(20)]
    assert {s["status"] for s in page["sources"]} == {"ok"}
    assert page["sources"][0]["more"] is True


def test_the_deadline_counts_from_the_pages_start_not_from_the_first_call(monkeypatch):
    nodes = FakeNodes([list(range(200))] * 3)
    nodes.reaching = 0.25
    gather(nodes, 50, monkeypatch)
    assert [timeout for _, timeout in nodes.timeouts] == [pytest.approx(0.75)] * len(nodes.calls)


class BlockingNodes(FakeNodes):
    """Node 1 takes ``hold`` seconds of real time to answer, whatever the timeout it is
    given: as a node does whose socket keeps trickling, or whose read started late."""

    def __init__(self, rows: list[list[int]], hold: float) -> None:
        super().__init__(rows)
        self.hold = threading.Event()
        self.seconds = hold

    def list_in(self, reach: Reach, args: dict[str, Any], key: Any, timeout: float) -> Any:
        if reach.trust.id == "t1":
            self.hold.wait(self.seconds)
        return super().list_in(reach, args, key, timeout)


def test_the_page_waits_for_no_call_past_its_deadline_and_ignores_a_late_answer():
    nodes = BlockingNodes([[1, 2, 3], [0]], hold=5.0)
    inbox = Inbox.__new__(Inbox)
    inbox.work = SimpleNamespace(scope=SimpleNamespace(account_id="msp"))
    inbox.remote = nodes  # type: ignore[assignment]
    inbox.handshake = SimpleNamespace(keys=SimpleNamespace(current=lambda: "key"))  # type: ignore[assignment]
    inbox.timeout = 0.3
    started = time.monotonic()
    page = inbox.gather(account="customers", limit=10)
    took = time.monotonic() - started
    nodes.hold.set()  # the late node answers now: the page is already made
    assert took < 0.3 + 0.25
    assert [i["id"] for i in page["items"]] == ["n0-r0", "n0-r1", "n0-r2"]
    assert [s["status"] for s in page["sources"]] == ["ok", "unreachable"]
    assert page["sources"][1]["count"] == 0


def test_pages_share_the_processes_call_threads_instead_of_starting_their_own():
    nodes = FakeNodes([[1, 2], [3], [4, 5]])
    gather(nodes, 10)
    threads = {t.ident for t in threading.enumerate() if t.name.startswith("inbox")}
    for _ in range(5):
        gather(nodes, 10)
    assert {t.ident for t in threading.enumerate() if t.name.startswith("inbox")} == threads
    assert service.fanout_pool() is service.fanout_pool()


def test_a_forked_process_makes_a_pool_of_its_own(monkeypatch):
    """A pool's threads do not survive a fork: the child's calls need threads of its own."""
    parents = service.fanout_pool()
    monkeypatch.setattr(service.os, "getpid", lambda: -1)  # as in a forked worker
    childs = service.fanout_pool()
    assert childs is not parents
    assert childs.submit(lambda: "ran").result(timeout=5) == "ran"
    assert service.fanout_pool() is childs


def test_calls_still_queued_when_the_page_is_done_are_never_sent():
    """With every call thread busy, a page's calls wait in the pool's queue; once the page
    has given up on them (its deadline passed) they are cancelled, not sent late."""
    nodes = BlockingNodes([[1], [2]], hold=5.0)
    busy = threading.Event()
    pool = ThreadPoolExecutor(max_workers=1)
    pool.submit(busy.wait, 5)  # the only thread is taken
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(service, "fanout_pool", lambda: pool)
            page = gather(nodes, 10, timeout=0.2)
        assert [s["status"] for s in page["sources"]] == ["unreachable", "unreachable"]
        busy.set()
        pool.shutdown(wait=True)
        assert nodes.calls == []  # neither was sent once the thread came free
    finally:
        busy.set()
        nodes.hold.set()
