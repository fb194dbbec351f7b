"""How long the outbox keeps trying: about a day for every message but key notices, which
are tried more often and never given up for their attempts (trust.outbox)."""

from __future__ import annotations

from datetime import timedelta

from trust.models import KEY_NOTICE, MESSAGE, OutboxMessage
from trust.outbox import KEY_NOTICE_MAX_DELAY, MAX_DELAY, backoff, retry_limits


def _schedule(precedence: int, attempts: int | None = None) -> tuple[timedelta, timedelta]:
    """(longest wait between attempts, time from the first attempt to giving up, or to
    the last of ``attempts``)."""
    cap, limit = retry_limits(OutboxMessage(precedence=precedence))
    waits = [backoff(n, cap) for n in range(1, attempts or limit or 0)]
    return max(waits), sum(waits, timedelta())


def test_a_message_is_tried_for_about_a_day():
    _, given_up_after = _schedule(MESSAGE)
    assert timedelta(hours=18) < given_up_after < timedelta(hours=26)


def test_a_key_notice_is_never_given_up_for_its_attempts():
    assert retry_limits(OutboxMessage(precedence=KEY_NOTICE))[1] is None


def test_a_key_notice_waits_minutes_between_attempts_not_an_hour():
    """Everything else to the peer waits for it, and the peer refuses the new key until
    it has it."""
    assert _schedule(KEY_NOTICE, 300)[0] == KEY_NOTICE_MAX_DELAY == timedelta(minutes=5)
    assert _schedule(MESSAGE)[0] == MAX_DELAY == timedelta(hours=1)
