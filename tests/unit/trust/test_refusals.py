"""Refusals before authentication are audited once per account, reason and minute."""

from __future__ import annotations

from trust.refusals import WINDOW_SECONDS, RefusalThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_refusal_is_recorded_and_the_rest_of_the_minute_counted():
    clock = Clock()
    throttle = RefusalThrottle(clock)
    assert throttle.admit("acme", "signature_missing") == 0
    assert [throttle.admit("acme", "signature_missing") for _ in range(4)] == [None] * 4
    clock.now += WINDOW_SECONDS
    assert throttle.admit("acme", "signature_missing") == 4  # the record says how many


def test_each_account_and_reason_has_its_own_window():
    throttle = RefusalThrottle(Clock())
    assert throttle.admit("acme", "signature_missing") == 0
    assert throttle.admit("acme", "key_unknown") == 0
    assert throttle.admit("globex", "signature_missing") == 0
    assert throttle.admit("acme", "signature_missing") is None


def test_the_window_counts_from_the_last_record_not_the_last_refusal():
    clock = Clock()
    throttle = RefusalThrottle(clock)
    throttle.admit("acme", "signature_invalid")
    for _ in range(10):
        clock.now += WINDOW_SECONDS / 10 - 0.001
        throttle.admit("acme", "signature_invalid")
    clock.now += 0.02
    assert throttle.admit("acme", "signature_invalid") == 10
