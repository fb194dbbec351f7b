"""A routine rotation tries every peer at once, within one deadline, inside the request.

The peers are stand-ins, some slow and one that never answers in time: the request
waits for none past the deadline, and what did not answer is left to the outbox.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from account_node.db import db
from tests.factories.accounts import make_account
from tests.integration.trust.outbox_fakes import RecordedJobs, stored_message, work_for
from trust.handshake import Handshake, TrustStore
from trust.models import KEY_NOTICE, OutboxMessage, Trust
from trust.rotation import rotate_and_announce

SLOW = 0.4  # seconds each answering peer takes
PEERS = 4


@dataclass
class SlowPeers:
    """Every peer answers after ``SLOW`` seconds, except ``hung``, which answers only when
    released; counts how many calls were out at once."""

    hung: str
    release: threading.Event = field(default_factory=threading.Event)
    received: list[str] = field(default_factory=list)
    out: int = 0
    most_out: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post_signed(self, url: str, body: dict[str, Any], key: Any, **_: Any) -> dict:
        with self.lock:
            self.out += 1
            self.most_out = max(self.most_out, self.out)
        try:
            if url.startswith(self.hung):
                self.release.wait(10)
            else:
                time.sleep(SLOW)
        finally:
            with self.lock:
                self.out -= 1
        self.received.append(url)
        return {"pinned": "whatever"}


@pytest.fixture
def account(app):
    account = make_account(app, kind="customer", prefix="announce")
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        for n in range(PEERS + 1):
            TrustStore(work.session, work.scope).add(
                Trust(
                    id=f"trust-{n}-{account.id}",
                    role="trusting",
                    peer_account=f"peer{n}",
                    peer_node=f"http://peer{n}.example",
                    status="active",
                    agreement={"document": {}, "signatures": []},
                    created_at=work.clock.now(),
                )
            )
        db.session.commit()
    return account


def test_a_rotation_tries_its_peers_at_once_and_leaves_the_late_ones_to_the_outbox(app, account):
    peers = SlowPeers(hung=f"http://peer{PEERS}.example")
    jobs = RecordedJobs()
    try:
        with app.app_context():
            work = work_for(app, account, jobs)
            handshake = Handshake(work, "http://node.example", app.config["SECRET_KEY"], peers)  # type: ignore[arg-type]
            started = time.monotonic()
            report = rotate_and_announce(handshake, db.session.commit, deadline=1.5)
            took = time.monotonic() - started
            db.session.commit()
            query = select(OutboxMessage).where(OutboxMessage.precedence == KEY_NOTICE)
            notices = {m.peer_account: m.id for m in db.session.scalars(query)}
            db.session.rollback()
    finally:
        peers.release.set()

    assert took < 1.5 + SLOW  # not PEERS x SLOW plus the hung one's wait
    assert peers.most_out == PEERS + 1
    assert sorted(report.delivered) == [f"peer{n}" for n in range(PEERS)]
    assert report.pending == [f"peer{PEERS}"]
    late = stored_message(app, account, notices[f"peer{PEERS}"])
    assert late.delivered_at is None and late.abandoned_at is None
    assert notices[f"peer{PEERS}"] in jobs.deliveries()  # the outbox tries it again
    assert all(
        stored_message(app, account, notices[f"peer{n}"]).delivered_at is not None
        for n in range(PEERS)
    )
