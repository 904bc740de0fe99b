"""The adaptive Retry-After books refused CPEs at the rate the ACS admits sessions."""

from __future__ import annotations

import pytest

from traceacs.server.retry_after import AdaptiveRetryAfter, RetryAfterPolicy

NO_JITTER = RetryAfterPolicy(minimum=5, maximum=300, overbook=1.0, jitter=0.0)


def saturated(helper: AdaptiveRetryAfter, rate: int, seconds: int, start: float = 1000.0) -> float:
    """``seconds`` full seconds in which ``rate`` sessions were admitted and one refused
    (the ACS was full); returns the next second's start."""
    for second in range(seconds):
        now = start + second
        for _ in range(rate):
            helper.admitted(now)
        helper.refused(now)
    return start + seconds


def test_capacity_is_the_admission_rate_of_the_seconds_the_acs_was_full() -> None:
    helper = AdaptiveRetryAfter(NO_JITTER)
    now = saturated(helper, rate=100, seconds=5)
    for _ in range(10):  # a quiet second (not full) does not drag the estimate down
        helper.admitted(now)
    assert helper.capacity(now + 1) == pytest.approx(100.0)


def test_capacity_falls_back_to_the_window_rate_and_then_the_floor() -> None:
    helper = AdaptiveRetryAfter(NO_JITTER)
    for second in range(10):
        for _ in range(20):
            helper.admitted(1000.0 + second)
    assert helper.capacity(1009.5) == pytest.approx(200 / 9.5)  # 200 admitted in 9.5 s
    assert helper.capacity(2000.0) == NO_JITTER.floor_rate  # the window has passed


def test_each_refusal_gets_the_next_slot_so_the_backlog_returns_at_capacity() -> None:
    helper = AdaptiveRetryAfter(NO_JITTER)
    now = saturated(helper, rate=100, seconds=3)
    delays = [helper.refused(now) for _ in range(1_000)]
    assert delays == sorted(delays)
    # 1,000 CPEs at 100 admitted/s: appointments spread over ~10 s after the minimum...
    assert delays[0] >= NO_JITTER.minimum
    assert delays[-1] - delays[0] in (9, 10, 11)
    # ...about 100 per second of the schedule, not all at once.
    per_second = {d: delays.count(d) for d in set(delays)}
    assert max(per_second.values()) <= 110


def test_a_faster_acs_gets_its_cpes_back_sooner() -> None:
    slow, fast = AdaptiveRetryAfter(NO_JITTER), AdaptiveRetryAfter(NO_JITTER)
    now = saturated(slow, rate=50, seconds=3)
    saturated(fast, rate=200, seconds=3)
    slow_last = [slow.refused(now) for _ in range(2_000)][-1]
    fast_last = [fast.refused(now) for _ in range(2_000)][-1]
    assert fast_last < slow_last


def test_answers_stay_within_the_bounds_and_overflow_is_not_booked() -> None:
    policy = RetryAfterPolicy(minimum=10, maximum=60, overbook=1.0, jitter=0.0)
    helper = AdaptiveRetryAfter(policy)
    now = saturated(helper, rate=10, seconds=3)
    delays = [helper.refused(now) for _ in range(2_000)]
    assert min(delays) == 10
    assert max(delays) == 60
    # Beyond the maximum nothing was booked: once the early CPEs were served, a new
    # refusal gets a slot right after the last booked one, not after 2,000 of them.
    later = now + 60
    saturated(helper, rate=10, seconds=3, start=later - 3)
    assert helper.refused(later) <= 10


def test_jitter_spreads_within_its_fraction_and_the_bounds() -> None:
    policy = RetryAfterPolicy(minimum=5, maximum=300, overbook=1.0, jitter=0.2)
    helpers = {
        "low": AdaptiveRetryAfter(policy, uniform=lambda a, b: a),
        "none": AdaptiveRetryAfter(policy, uniform=lambda a, b: 0.0),
        "high": AdaptiveRetryAfter(policy, uniform=lambda a, b: b),
    }
    last: dict[str, int] = {}
    for name, helper in helpers.items():
        now = saturated(helper, rate=10, seconds=3)
        delays = [helper.refused(now) for _ in range(500)]
        assert min(delays) >= policy.minimum
        last[name] = delays[-1]
        if name == "low":
            assert min(delays) == policy.minimum  # 4 s jittered: held at the minimum
    assert last["none"] == 55  # 5 s minimum + 500 slots at 10/s
    assert last["low"] == 44  # -20 %
    assert last["high"] == 66  # +20 %


@pytest.mark.parametrize(
    "kwargs",
    [
        {"minimum": 0},
        {"minimum": 10, "maximum": 5},
        {"jitter": 1.0},
        {"overbook": 0.0},
        {"window": 0},
    ],
)
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"minimum|jitter|window"):
        RetryAfterPolicy(**kwargs)  # type: ignore[arg-type]
