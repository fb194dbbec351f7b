"""Key notices in the outbox: at the head of their peer's queue, signed by the key they
introduce, retried often, and about the peer rather than one trust.

As in test_outbox: the peer is a stand-in, down or up on demand, and jobs are recorded,
not run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from account_node.db import db
from tests.factories.accounts import make_account
from tests.integration.trust.outbox_fakes import RecordedJobs, stored_message, work_for
from trust.errors import PeerUnavailable
from trust.handshake import TrustStore
from trust.models import KEY_NOTICE, OutboxMessage, Trust
from trust.outbox import (
    KEY_NOTICE_MAX_ATTEMPTS,
    KEY_NOTICE_MAX_DELAY,
    Outbox,
    OutboxStore,
)

ROTATION_PATH = "/federation/v1/msp/keys/rotation"


@dataclass
class Peer:
    """Down until told otherwise; keeps (message id, signing key) of what it received."""

    up: bool = False
    received: list[tuple[str, str]] = field(default_factory=list)

    def post_signed(self, url: str, body: dict[str, Any], key: str, **_: Any) -> dict:
        if not self.up:
            raise PeerUnavailable("the peer did not answer")
        self.received.append((body["notice_id"], key))
        return {"accepted": True}


class Keys:
    """The account's keys as the outbox sees them: a current one and named ones."""

    @staticmethod
    def current() -> str:
        return "current"

    @staticmethod
    def own(key_id: str) -> str:
        return key_id


@dataclass
class Handshake:
    trusts: TrustStore
    peers: Peer
    keys: Keys = field(default_factory=Keys)


def _trust(account, suffix: str, now: datetime) -> Trust:
    return Trust(
        id=f"trust-{suffix}-{account.id}",
        role="trusting",
        peer_account="msp",
        peer_node="http://msp.example",
        status="active",
        agreement={"document": {}, "signatures": []},
        created_at=now,
    )


@pytest.fixture
def account(app):
    account = make_account(app, kind="customer", prefix="keynotice")
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        for suffix in ("first", "second"):  # two trusts with the same peer
            TrustStore(work.session, work.scope).add(_trust(account, suffix, work.clock.now()))
        db.session.commit()
    return account


def _queue(app, account, clock, *kinds: str) -> list[str]:
    """Messages to the MSP, a second apart: "event" under the first trust, or "key" (a
    rotation notice signed by key ``k<n>``)."""
    ids = []
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        trust = TrustStore(work.session, work.scope).get(f"trust-first-{account.id}")
        for n, kind in enumerate(kinds):
            if kind == "key":
                message = Outbox(work).queue(
                    trust, ROTATION_PATH, {"notices": []}, precedence=KEY_NOTICE,
                    signing_key=f"k{n}",
                )  # fmt: skip
            else:
                message = Outbox(work).add(trust, "events", {"n": n})
            ids.append(message.id)
            clock.advance(timedelta(seconds=1))
        db.session.commit()
    return ids


def _attempt(app, account, peer: Peer, message_id: str) -> tuple[bool, RecordedJobs]:
    jobs = RecordedJobs()
    with app.app_context():
        work = work_for(app, account, jobs)
        handshake = Handshake(TrustStore(work.session, work.scope), peer)
        done = Outbox(work).attempt(handshake, message_id)  # type: ignore[arg-type]
        db.session.commit()
    return done, jobs


def test_a_key_notice_goes_before_messages_queued_to_the_peer_before_it(app, account, clock):
    event, key = _queue(app, account, clock, "event", "key")
    peer = Peer(up=True)

    waited, jobs = _attempt(app, account, peer, event)
    assert waited is False and jobs.deliveries() == []  # it waits for the key notice
    delivered, jobs = _attempt(app, account, peer, key)
    assert delivered and jobs.deliveries() == [event]  # then goes at once
    assert _attempt(app, account, peer, event)[0] is True

    assert [message for message, _ in peer.received] == [key, event]


def test_a_key_notice_is_signed_by_the_key_it_names_other_messages_by_the_current_one(
    app, account, clock
):
    key, event = _queue(app, account, clock, "key", "event")
    peer = Peer(up=True)
    _attempt(app, account, peer, key)
    _attempt(app, account, peer, event)
    assert peer.received == [(key, "k0"), (event, "current")]


def test_the_sweep_sends_a_peers_key_notice_before_its_older_messages(app, account, clock):
    event, key = _queue(app, account, clock, "event", "key")
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        heads = [m.id for m in OutboxStore(work.session, work.scope).heads_due(clock.now())]
        db.session.rollback()
    assert key in heads and event not in heads


def test_a_key_notice_is_retried_at_most_minutes_apart(app, account, clock):
    [key] = _queue(app, account, clock, "key")
    with app.app_context():
        work_for(app, account, RecordedJobs())
        db.session.get(OutboxMessage, key).attempts = 20  # long down: backoff at its cap
        db.session.commit()

    _attempt(app, account, Peer(up=False), key)

    retried = stored_message(app, account, key)
    assert retried.next_attempt_at == clock.now() + KEY_NOTICE_MAX_DELAY
    assert retried.abandoned_at is None


def test_a_key_notice_is_given_up_after_its_last_attempt_and_audited(app, account, clock):
    [key] = _queue(app, account, clock, "key")
    with app.app_context():
        work_for(app, account, RecordedJobs())
        db.session.get(OutboxMessage, key).attempts = KEY_NOTICE_MAX_ATTEMPTS - 1
        db.session.commit()

    _attempt(app, account, Peer(up=False), key)

    assert stored_message(app, account, key).abandoned_at is not None
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        abandoned = work.audit.page(action="outbox.abandoned")
        assert [event.target_id for event in abandoned] == [key]
        db.session.rollback()


def test_a_key_notice_outlives_its_trust_while_another_trust_with_the_peer_is_active(
    app, account, clock
):
    [key] = _queue(app, account, clock, "key")
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        first = TrustStore(work.session, work.scope).get(f"trust-first-{account.id}")
        first.status = "deactivated"
        db.session.commit()

    assert _attempt(app, account, Peer(up=True), key)[0] is True
    assert stored_message(app, account, key).trust_id == f"trust-second-{account.id}"
