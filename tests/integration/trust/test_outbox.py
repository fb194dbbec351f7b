"""The outbox: per-peer order, waiting is not an attempt, and lost jobs are swept up.

The peer is a stand-in that is down or up on demand; jobs are recorded, not run, so each
test says exactly which delivery was asked for and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from account_node.db import db
from tests.factories.accounts import make_account
from tests.integration.trust.outbox_fakes import RecordedJobs, stored_message, work_for
from trust.errors import PeerDeclined, PeerUnavailable
from trust.handshake import TrustStore
from trust.models import KEY_NOTICE, OutboxMessage, Trust
from trust.outbox import MAX_ATTEMPTS, Outbox, backoff, sweep


@dataclass
class Peer:
    """The receiving node: down until told otherwise; keeps what it received, in order."""

    up: bool = False
    received: list[str] = field(default_factory=list)

    def post_signed(self, url: str, body: dict[str, Any], key: Any, **_: Any) -> dict:
        if not self.up:
            raise PeerUnavailable("the peer did not answer")
        self.received.append(body["notice_id"])
        return {"accepted": True}


@dataclass
class Handshake:
    """What the outbox needs of a handshake: the trusts, a key, the peers."""

    trusts: TrustStore
    peers: Peer

    class keys:
        @staticmethod
        def current() -> None:
            return None


@pytest.fixture
def outbox_account(app):
    account = make_account(app, kind="customer", prefix="outbox")
    node = app.extensions["trustdesk"]
    with app.app_context():
        trust = Trust(
            id=f"trust-outbox-{account.id}",
            role="trusting",
            peer_account="msp",
            peer_node="http://msp.example",
            status="active",
            agreement={"document": {}, "signatures": []},
            created_at=node.clock.now(),
        )
        work = work_for(app, account, RecordedJobs())
        TrustStore(work.session, work.scope).add(trust)
        db.session.commit()
    return account


def _queue(app, account, clock, count: int) -> list[str]:
    """``count`` messages to the MSP, a second apart (the order is creation order)."""
    ids = []
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        trust = TrustStore(work.session, work.scope).get(f"trust-outbox-{account.id}")
        for i in range(count):
            ids.append(Outbox(work).add(trust, "events", {"n": i}).id)
            clock.advance(timedelta(seconds=1))
        db.session.commit()
    return ids


def _attempt(app, account, peer: Peer, message_id: str) -> tuple[bool, RecordedJobs]:
    jobs = RecordedJobs()
    with app.app_context():
        work = work_for(app, account, jobs)
        done = Outbox(work).attempt(
            Handshake(TrustStore(work.session, work.scope), peer), message_id
        )
        db.session.commit()
    return done, jobs


def test_a_later_message_waits_uncharged_and_goes_as_soon_as_the_earlier_one_is_delivered(
    app, outbox_account, clock
):
    first, second = _queue(app, outbox_account, clock, 2)
    peer = Peer(up=False)

    assert _attempt(app, outbox_account, peer, first)[0] is False  # the peer is down
    waited, jobs = _attempt(app, outbox_account, peer, second)
    assert waited is False and jobs.deliveries() == []  # no retry of its own: it waits
    held = stored_message(app, outbox_account, second)
    assert held.attempts == 0 and "waiting" in (held.last_error or "")
    assert stored_message(app, outbox_account, first).attempts == 1

    peer.up = True
    clock.advance(timedelta(seconds=2))  # the first one's retry is due
    delivered, jobs = _attempt(app, outbox_account, peer, first)
    assert delivered and jobs.deliveries() == [second]  # the next one is sent at once
    assert _attempt(app, outbox_account, peer, second)[0] is True
    assert peer.received == [first, second]


def test_the_sweep_sends_each_peers_oldest_due_message_whose_job_was_lost(
    app, outbox_account, clock
):
    first, second = _queue(app, outbox_account, clock, 2)
    # Only the head of the line, not the message that must wait for it.
    assert [m for m in _swept(app) if m in (first, second)] == [first]

    _attempt(app, outbox_account, Peer(up=False), first)  # fails: retry in 2 s
    assert first not in _swept(app)  # its retry is not due yet

    clock.advance(timedelta(seconds=3))
    assert first in _swept(app)


def test_a_message_given_up_lets_the_next_one_go(app, outbox_account, clock):
    first, second = _queue(app, outbox_account, clock, 2)
    with app.app_context():
        work = work_for(app, outbox_account, RecordedJobs())
        trust = TrustStore(work.session, work.scope).get(f"trust-outbox-{outbox_account.id}")
        trust.status = "deactivated"
        db.session.commit()

    done, jobs = _attempt(app, outbox_account, Peer(up=True), first)
    assert done is False and stored_message(app, outbox_account, first).abandoned_at is not None
    assert jobs.deliveries() == [second]


def test_a_message_waiting_behind_one_being_sent_looks_again_soon_once(app, outbox_account, clock):
    """The earlier message's delivery looks for a follower to send next, but it may look
    before this one is committed (and this one's own job then finds the earlier one
    still pending): with nothing else to wake it, it would wait for the sweep, or for
    ever with the sweep off. So it asks once to look again a few seconds later."""
    from trust.outbox import RECHECK_DELAY

    first, second = _queue(app, outbox_account, clock, 2)  # first: due, its job under way
    peer = Peer(up=True)

    waited, jobs = _attempt(app, outbox_account, peer, second)

    assert waited is False
    assert [(args[1], at) for _, args, at in jobs.asked] == [(second, clock.now() + RECHECK_DELAY)]
    assert _attempt(app, outbox_account, peer, second)[1].deliveries() == []  # once
    assert _attempt(app, outbox_account, peer, first)[0] is True
    assert _attempt(app, outbox_account, peer, second)[0] is True
    assert peer.received == [first, second]


def test_messages_created_at_the_same_moment_go_in_the_queues_own_order(app, outbox_account, clock):
    """The queue orders by creation, then id: the second in that order waits for the first
    even when their moments are equal (a coarse clock, one transaction)."""
    with app.app_context():
        work = work_for(app, outbox_account, RecordedJobs())
        trust = TrustStore(work.session, work.scope).get(f"trust-outbox-{outbox_account.id}")
        made = [Outbox(work).add(trust, "events", {"n": i}).id for i in range(2)]
        db.session.commit()
    first, second = sorted(made)
    peer = Peer(up=True)

    assert _attempt(app, outbox_account, peer, second)[0] is False
    assert _attempt(app, outbox_account, peer, first)[0] is True
    assert _attempt(app, outbox_account, peer, second)[0] is True
    assert peer.received == [first, second]


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_two_workers_with_a_job_for_one_message_send_it_once(app, outbox_account, clock):
    """Its own job and the sweep's, on two rq workers: the second finds the message's row
    taken (SKIP LOCKED) and leaves it to the first, which wakes the next one once."""
    import threading
    import time

    first, second = _queue(app, outbox_account, clock, 2)

    @dataclass
    class SlowPeer(Peer):
        def post_signed(self, url: str, body: dict[str, Any], key: Any, **kw: Any) -> dict:
            time.sleep(0.5)  # the call is out while the other worker looks
            return super().post_signed(url, body, key, **kw)

    peer = SlowPeer(up=True)
    results: list[tuple[bool, list[str]]] = []

    def worker() -> None:
        done, jobs = _attempt(app, outbox_account, peer, first)
        results.append((done, jobs.deliveries()))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.1)
    for thread in threads:
        thread.join()
    assert peer.received == [first]
    assert sorted(results) == [(False, []), (True, [second])]


@dataclass
class RefusingPeer:
    """A peer that is up and answers every call with one refusal (status, code)."""

    status: int
    code: str

    def post_signed(self, url: str, body: dict[str, Any], key: Any, **_: Any) -> dict:
        raise PeerDeclined(
            f"the peer answered {self.status}", peer_status=self.status, peer_code=self.code
        )


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (403, "trust_inactive"),  # deactivated on its side, the notice of it lost
        (422, "validation_failed"),  # a message it cannot take, however often sent
    ],
)
def test_a_message_the_peer_refuses_for_good_is_given_up_at_once_and_audited(
    app, outbox_account, clock, status, code
):
    """Retried for a day, it would hold every later message to that peer meanwhile."""
    first, second = _queue(app, outbox_account, clock, 2)

    done, jobs = _attempt(app, outbox_account, RefusingPeer(status, code), first)

    given_up = stored_message(app, outbox_account, first)
    assert done is False and given_up.abandoned_at is not None and code in given_up.last_error
    assert given_up.attempts == 1
    assert jobs.deliveries() == [second]  # the next one goes at once
    with app.app_context():
        audited = work_for(app, outbox_account, RecordedJobs()).audit.page(
            action="outbox.abandoned"
        )
        assert [e.target_id for e in audited] == [first]
        db.session.rollback()


def test_a_refusal_a_retry_may_change_is_retried_later(app, outbox_account, clock):
    [first] = _queue(app, outbox_account, clock, 1)
    done, jobs = _attempt(app, outbox_account, RefusingPeer(503, "unavailable"), first)
    retried = stored_message(app, outbox_account, first)
    assert done is False and retried.abandoned_at is None and retried.attempts == 1
    assert jobs.deliveries() == [first]


@dataclass
class TimedPeer(Peer):
    """A peer that notes when it was called, counted from ``start``."""

    clock: Any = None
    start: Any = None
    calls: list[timedelta] = field(default_factory=list)

    def post_signed(self, url: str, body: dict[str, Any], key: Any, **kw: Any) -> dict:
        self.calls.append(self.clock.now() - self.start)
        return super().post_signed(url, body, key, **kw)


def _swept(app) -> list[str]:
    """The deliveries one run of the sweep asks for."""
    node = app.extensions["trustdesk"]
    recorded = RecordedJobs()
    real_jobs, node.jobs = node.jobs, recorded
    try:
        with app.app_context():
            sweep(node, reschedule=False)
            db.session.commit()
    finally:
        node.jobs = real_jobs
    return recorded.deliveries()


def test_a_sweep_that_finds_a_retry_due_starts_no_second_chain_of_retries(
    app, outbox_account, clock
):
    """The sweep reads the queues unlocked: it finds the message of a peer that is down
    due while that message's own retry job is due too, and asks for a delivery of its
    own. Both jobs sent it and both scheduled a retry, so from then on every attempt came
    twice: the peer was called twice as often as the backoff says and the message was
    given up after about 9 hours instead of 19. Jobs run here as the runners run them,
    each at its due time; the peer is tried on the backoff's schedule alone."""
    import heapq

    [message] = _queue(app, outbox_account, clock, 1)
    peer = TimedPeer(up=False, clock=clock, start=clock.now())
    jobs = [(clock.now(), 0)]  # (due, order) of the deliveries asked for
    swept = False
    while jobs:
        due, _ = heapq.heappop(jobs)
        clock.advance(max(due - clock.now(), timedelta()))
        if not swept and peer.calls and peer.calls[-1] >= timedelta(seconds=60):
            swept = message in _swept(app)  # while this retry is due
            if swept:
                heapq.heappush(jobs, (clock.now(), len(peer.calls) * 2 + 1))
        asked = _attempt(app, outbox_account, peer, message)[1].asked
        for n, (_, args, at) in enumerate(asked):
            assert args[1] == message
            heapq.heappush(jobs, (at or clock.now(), len(peer.calls) * 2 + n + 2))

    assert swept, "the sweep never found the message due"
    tried_at = [
        sum((backoff(n) for n in range(1, k + 1)), timedelta()) for k in range(MAX_ATTEMPTS)
    ]
    assert peer.calls == tried_at
    given_up = stored_message(app, outbox_account, message)
    assert given_up.abandoned_at is not None and given_up.attempts == MAX_ATTEMPTS
    assert peer.calls[-1] > timedelta(hours=18)


def test_a_job_before_the_messages_retry_is_due_sends_nothing_and_asks_for_nothing(
    app, outbox_account, clock
):
    """The message's retry is scheduled; a second job for it (a re-check, the sweep's of
    an earlier moment) leaves it to that retry."""
    [message] = _queue(app, outbox_account, clock, 1)
    peer = TimedPeer(up=False, clock=clock, start=clock.now())
    _attempt(app, outbox_account, peer, message)  # fails: its retry is due in 2 s

    early, jobs = _attempt(app, outbox_account, peer, message)

    assert early is False and jobs.asked == [] and len(peer.calls) == 1
    assert stored_message(app, outbox_account, message).attempts == 1
    clock.advance(backoff(1))
    _attempt(app, outbox_account, peer, message)
    assert len(peer.calls) == 2


def test_a_message_backing_off_goes_at_once_when_the_key_notice_ahead_of_it_is_delivered(
    app, outbox_account, clock
):
    """Waiting is not an attempt: the notice got through, so the peer is up, and the
    message behind it goes now rather than at its retry, half an hour away."""
    [event] = _queue(app, outbox_account, clock, 1)
    with app.app_context():
        work_for(app, outbox_account, RecordedJobs())
        db.session.get(OutboxMessage, event).attempts = 10  # down for half an hour
        db.session.commit()
    peer = Peer(up=False)
    _attempt(app, outbox_account, peer, event)  # fails: its retry is 34 minutes away
    with app.app_context():
        work = work_for(app, outbox_account, RecordedJobs())
        trust = TrustStore(work.session, work.scope).get(f"trust-outbox-{outbox_account.id}")
        notice = Outbox(work).queue(trust, "/federation/v1/msp/keys/rotation", {},
                                    precedence=KEY_NOTICE).id  # fmt: skip
        db.session.commit()
    peer.up = True

    delivered, jobs = _attempt(app, outbox_account, peer, notice)

    assert delivered and jobs.deliveries() == [event]
    assert _attempt(app, outbox_account, peer, event)[0] is True
    assert peer.received == [notice, event]
