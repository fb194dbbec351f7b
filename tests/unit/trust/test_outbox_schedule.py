"""How long the outbox keeps trying: about a day for every message, key notices more often."""

from __future__ import annotations

from datetime import timedelta

import pytest

from trust.models import KEY_NOTICE, MESSAGE, OutboxMessage
from trust.outbox import KEY_NOTICE_MAX_DELAY, MAX_DELAY, backoff, retry_limits


def _schedule(precedence: int) -> tuple[timedelta, timedelta]:
    """(longest wait between attempts, time from the first attempt to giving up)."""
    cap, attempts = retry_limits(OutboxMessage(precedence=precedence))
    waits = [backoff(n, cap) for n in range(1, attempts)]
    return max(waits), sum(waits, timedelta())


@pytest.mark.parametrize("precedence", [KEY_NOTICE, MESSAGE])
def test_every_message_is_tried_for_about_a_day(precedence):
    _, given_up_after = _schedule(precedence)
    assert timedelta(hours=18) < given_up_after < timedelta(hours=26)


def test_a_key_notice_waits_minutes_between_attempts_not_an_hour():
    """Everything else to the peer waits for it, and the peer refuses the new key until
    it has it."""
    assert _schedule(KEY_NOTICE)[0] == KEY_NOTICE_MAX_DELAY == timedelta(minutes=5)
    assert _schedule(MESSAGE)[0] == MAX_DELAY == timedelta(hours=1)
