"""Key notices in the outbox: at the head of their peer's queue, signed by the key they
introduce, retried often, and about the peer rather than one trust.

As in test_outbox: the peer is a stand-in, down or up on demand, and jobs are recorded,
not run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from account_node.db import db
from tests.factories.accounts import make_account
from tests.integration.trust.outbox_fakes import RecordedJobs, stored_message, work_for
from trust.crypto.keys import KeyRef
from trust.errors import PeerDeclined, PeerUnavailable
from trust.handshake import TrustStore
from trust.models import KEY_NOTICE, OutboxMessage, Trust
from trust.outbox import (
    AWAITING_CONFIRMATION_DELAY,
    KEY_NOTICE_MAX_DELAY,
    MAX_ATTEMPTS,
    Outbox,
    OutboxStore,
)

ROTATION_PATH = "/federation/v1/msp/keys/rotation"


@dataclass
class Peer:
    """Down until told otherwise; keeps (message id, signing key) of what it received.

    ``unknown``: keys it does not hold. It refuses (``key_unknown``) a call one of them
    signs, and a rotation notice whose ``old`` key is one; a notice it accepts teaches it
    the key that signs it. ``meanwhile``: what happens elsewhere while the next call is
    out (run once, at that call)."""

    up: bool = False
    received: list[tuple[str, str]] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)
    meanwhile: list[Callable[[], None]] = field(default_factory=list)

    def post_signed(self, url: str, body: dict[str, Any], key: str, **_: Any) -> dict:
        while self.meanwhile:
            self.meanwhile.pop(0)()
        if not self.up:
            raise PeerUnavailable("the peer did not answer")
        if url.endswith(ROTATION_PATH):
            if body.get("old") in self.unknown:
                raise _key_unknown()
            self.unknown.discard(key)
        elif key in self.unknown:
            raise _key_unknown()
        self.received.append((body["notice_id"], key))
        return {"accepted": True}


def _key_unknown() -> PeerDeclined:
    return PeerDeclined("the peer answered 401", peer_status=401, peer_code="key_unknown")


class Key(str):
    """An own key as the stand-in peer sees it: its id (with a ``ref``, as an OwnKey)."""

    @property
    def ref(self) -> KeyRef:
        return KeyRef("customer", str(self))


class Keys:
    """The account's keys as the outbox sees them: a current one and named ones."""

    @staticmethod
    def current() -> Key:
        return Key("current")

    @staticmethod
    def own(key_id: str) -> Key:
        return Key(key_id)


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
    assert waited is False  # it waits for the key notice (and looks again soon, once)
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


def test_a_key_notice_is_never_given_up_while_a_trust_with_the_peer_is_active(app, account, clock):
    """Given up, it would strand the peer: everything the new key signs is refused."""
    [key] = _queue(app, account, clock, "key")
    with app.app_context():
        work_for(app, account, RecordedJobs())
        db.session.get(OutboxMessage, key).attempts = 10 * MAX_ATTEMPTS  # days down
        db.session.commit()

    done, jobs = _attempt(app, account, Peer(up=False), key)

    retried = stored_message(app, account, key)
    assert done is False and retried.abandoned_at is None
    assert retried.next_attempt_at == clock.now() + KEY_NOTICE_MAX_DELAY
    assert jobs.deliveries() == [key]
    clock.advance(KEY_NOTICE_MAX_DELAY)
    assert _attempt(app, account, Peer(up=True), key)[0] is True  # the peer is back


def test_a_key_notice_is_given_up_unaudited_once_no_trust_with_the_peer_is_active(
    app, account, clock
):
    [key] = _queue(app, account, clock, "key")
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        trusts = TrustStore(work.session, work.scope)
        for suffix in ("first", "second"):
            trusts.get(f"trust-{suffix}-{account.id}").status = "deactivated"
        db.session.commit()

    assert _attempt(app, account, Peer(up=True), key)[0] is False
    assert stored_message(app, account, key).abandoned_at is not None


def _queue_notice(app, account, old: str, signing_key: str) -> str:
    """A rotation notice from ``old`` to ``signing_key``, queued to the MSP."""
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        trust = TrustStore(work.session, work.scope).get(f"trust-first-{account.id}")
        message = Outbox(work).queue(
            trust, ROTATION_PATH, {"notices": [], "old": old}, precedence=KEY_NOTICE,
            signing_key=signing_key,
        )  # fmt: skip
        db.session.commit()
    return message.id


def test_a_key_notice_refused_for_an_old_key_the_peer_lacks_is_set_aside_not_blocking(
    app, account, clock
):
    """A routine rotation after a compromise the peer's admin has not confirmed: the
    notice names a key the peer never pinned, and no retry changes that. The messages
    behind it go, and go through once the peer's admin confirms the current key."""
    [event] = _queue(app, account, clock, "event")
    notice = _queue_notice(app, account, old="after-compromise", signing_key="current")
    peer = Peer(up=True, unknown={"after-compromise", "current"})

    refused, jobs = _attempt(app, account, peer, notice)

    assert refused is False and jobs.deliveries() == [event]  # the event goes at once
    set_aside = stored_message(app, account, notice)
    assert set_aside.abandoned_at is not None and "key_unknown" in set_aside.last_error
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        audited = work.audit.page(action="outbox.abandoned")
        assert [e.target_id for e in audited] == [notice]
        db.session.rollback()
    assert _attempt(app, account, peer, event)[0] is False  # the peer lacks the key yet

    peer.unknown.clear()  # its admin confirmed the current key out of band
    clock.advance(AWAITING_CONFIRMATION_DELAY)  # the message looks again
    assert _attempt(app, account, peer, event)[0] is True
    assert peer.received == [(event, "current")]


def test_a_message_the_peer_refuses_for_a_key_it_lacks_waits_for_its_admin_unspent(
    app, account, clock
):
    """No notice can teach the peer the key (a compromise rotation announces none): the
    peer answers, so retrying is not failing, and no attempt brings its admin's
    confirmation nearer. The message waits for it, as long as it takes, its attempts
    unspent; ``key_refused`` says why."""
    [event] = _queue(app, account, clock, "event")
    with app.app_context():
        work_for(app, account, RecordedJobs())
        db.session.get(OutboxMessage, event).attempts = MAX_ATTEMPTS - 1  # one left
        db.session.commit()
    peer = Peer(up=True, unknown={"current"})

    for _ in range(3):
        done, jobs = _attempt(app, account, peer, event)
        waiting = stored_message(app, account, event)
        assert done is False and waiting.abandoned_at is None
        assert waiting.key_refused and waiting.attempts == MAX_ATTEMPTS - 1
        assert waiting.next_attempt_at == clock.now() + AWAITING_CONFIRMATION_DELAY
        assert "confirm the key" in waiting.last_error
        assert jobs.deliveries() == [event]
        clock.advance(AWAITING_CONFIRMATION_DELAY)

    peer.unknown.clear()  # its admin confirmed the key out of band
    assert _attempt(app, account, peer, event)[0] is True
    delivered = stored_message(app, account, event)
    assert not delivered.key_refused and delivered.last_error is None


def test_a_waiting_message_still_ends_with_its_trust(app, account, clock):
    [event] = _queue(app, account, clock, "event")
    _attempt(app, account, Peer(up=True, unknown={"current"}), event)
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        TrustStore(work.session, work.scope).get(f"trust-first-{account.id}").status = "deactivated"
        db.session.commit()

    clock.advance(AWAITING_CONFIRMATION_DELAY)  # the message looks again
    assert _attempt(app, account, Peer(up=True), event)[0] is False
    assert stored_message(app, account, event).abandoned_at is not None


def test_a_message_refused_for_an_unknown_key_sends_that_keys_notice_first_then_itself(
    app, account, clock
):
    """A rotation committed while the message was out: signed by the new key, it reached
    the peer before the notice. The notice goes at once, then the message again."""
    [event] = _queue(app, account, clock, "event")
    peer = Peer(up=True, unknown={"current"})
    jobs = RecordedJobs()
    with app.app_context():
        work = work_for(app, account, jobs)
        trust = TrustStore(work.session, work.scope).get(f"trust-first-{account.id}")
        notices: list[str] = []

        def rotated() -> None:
            queued = Outbox(work).queue(
                trust, ROTATION_PATH, {"notices": [], "old": "before"}, precedence=KEY_NOTICE,
                signing_key="current", enqueue=False,
            )  # fmt: skip
            notices.append(queued.id)

        peer.meanwhile.append(rotated)
        handshake = Handshake(TrustStore(work.session, work.scope), peer)
        done = Outbox(work).attempt(handshake, event)  # type: ignore[arg-type]
        db.session.commit()

    assert done is True
    assert peer.received == [(notices[0], "current"), (event, "current")]
    assert stored_message(app, account, notices[0]).delivered_at is not None
    assert stored_message(app, account, event).delivered_at is not None


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
