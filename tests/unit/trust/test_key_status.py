"""Whether a peer holds the account's current key, judged from the outbox's record.

Each case gives ``judge`` the key, the peer's active trusts and the messages to it, as
the database would, and reads the verdict: what the admin's keys page then says.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trust.key_status import judge
from trust.models import KEY_NOTICE, MESSAGE, AccountKey, OutboxMessage, Trust
from trust.outbox import AWAITING_CONFIRMATION_DELAY

MADE = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)  # the current key's creation


def at(minutes: int) -> datetime:
    return MADE + timedelta(minutes=minutes)


KEY = AccountKey(key_id="k2", status="current", created_at=MADE)


def trust(activated: datetime, trust_id: str = "t1") -> Trust:
    return Trust(
        id=trust_id, role="trusting", peer_account="msp", peer_node="https://msp.example",
        status="active", agreement={"document": {"trusted": {"name": "Acme MSP"}}},
        created_at=activated, activated_at=activated,
    )  # fmt: skip


def message(**fields) -> OutboxMessage:
    defaults = dict(
        peer_account="msp", peer_node="https://msp.example", precedence=MESSAGE,
        signing_key=None, created_at=at(1), delivered_at=None, abandoned_at=None,
        next_attempt_at=None, key_refused=False, last_error=None,
    )  # fmt: skip
    return OutboxMessage(**{**defaults, **fields})


def notice(**fields) -> OutboxMessage:
    return message(precedence=KEY_NOTICE, signing_key="k2", **fields)


OLD_TRUST = [trust(at(-600))]


def test_a_trust_countersigned_after_the_key_was_made_pinned_it():
    verdict = judge(KEY, False, [trust(at(5))], [])
    assert (verdict.state, verdict.since, verdict.must_confirm) == ("holds", at(5), False)
    assert verdict.peer_name == "Acme MSP" and verdict.trust_ids == ("t1",)


def test_a_call_the_key_signed_that_got_through_means_the_peer_holds_it():
    verdict = judge(KEY, True, OLD_TRUST, [message(delivered_at=at(30))])
    assert (verdict.state, verdict.since) == ("holds", at(30))


def test_a_queued_notice_is_announcing_with_why_it_has_not_gone():
    queued = notice(last_error="peer_unavailable: no answer", next_attempt_at=at(10))
    verdict = judge(KEY, False, OLD_TRUST, [queued])
    assert verdict.state == "announcing" and not verdict.must_confirm
    assert verdict.last_error == "peer_unavailable: no answer"
    assert verdict.next_attempt_at == at(10)


def test_a_notice_the_peer_refused_for_the_old_key_needs_its_admin():
    set_aside = notice(abandoned_at=at(2), key_refused=True, last_error="(key_unknown)")
    verdict = judge(KEY, False, OLD_TRUST, [set_aside])
    assert (verdict.state, verdict.since, verdict.must_confirm) == ("refused", at(2), True)


def test_a_message_waiting_for_the_peers_admin_is_a_refusal_since_its_last_answer():
    waiting = message(key_refused=True, next_attempt_at=at(20) + AWAITING_CONFIRMATION_DELAY)
    verdict = judge(KEY, True, OLD_TRUST, [waiting])
    assert (verdict.state, verdict.since) == ("refused", at(20))


def test_a_refusal_after_a_delivery_wins_and_a_delivery_after_a_refusal_wins():
    refused = notice(abandoned_at=at(10), key_refused=True)
    assert judge(KEY, False, OLD_TRUST, [message(delivered_at=at(5)), refused]).state == "refused"
    assert judge(KEY, False, OLD_TRUST, [refused, message(delivered_at=at(15))]).state == "holds"


def test_a_refusal_of_the_key_before_this_one_says_nothing_of_this_one():
    stale = message(key_refused=True, next_attempt_at=at(-5) + AWAITING_CONFIRMATION_DELAY)
    assert judge(KEY, True, OLD_TRUST, [stale]).state == "unconfirmed"


def test_after_a_compromise_rotation_the_key_is_unconfirmed_until_a_call_gets_through():
    verdict = judge(KEY, True, OLD_TRUST, [])
    assert (verdict.state, verdict.since, verdict.must_confirm) == ("unconfirmed", MADE, True)
    assert judge(KEY, True, OLD_TRUST, [message(delivered_at=at(60))]).state == "holds"


def test_a_delivery_before_the_key_was_made_proves_nothing():
    earlier = message(delivered_at=at(-1))
    assert judge(KEY, False, OLD_TRUST, [earlier]).state == "unknown"


@pytest.mark.parametrize("given_up", [True, False])
def test_a_message_given_up_with_its_trust_is_no_refusal(given_up):
    ended = message(key_refused=True, abandoned_at=at(3) if given_up else None)
    verdict = judge(KEY, False, OLD_TRUST, [ended])
    assert verdict.state == "unknown"  # given up: no evidence; no next attempt: no moment


def test_one_verdict_names_every_active_trust_with_the_peer():
    verdict = judge(KEY, False, [trust(at(-9), "t1"), trust(at(3), "t2")], [])
    assert verdict.trust_ids == ("t1", "t2") and verdict.state == "holds"


def test_the_latest_delivery_counts_as_a_delivered_call_only_if_after_the_key():
    assert judge(KEY, True, OLD_TRUST, [], latest_delivery=at(5)).state == "holds"
    assert judge(KEY, True, OLD_TRUST, [], latest_delivery=at(-5)).state == "unconfirmed"
    waiting = message(key_refused=True, next_attempt_at=at(20) + AWAITING_CONFIRMATION_DELAY)
    assert judge(KEY, True, OLD_TRUST, [waiting], latest_delivery=at(10)).state == "refused"
