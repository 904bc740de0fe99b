"""The connection-request token bucket, with time passed in."""

from __future__ import annotations

import itertools

import pytest

from traceacs.server.connection_request import ConnectionRequestRateLimiter


def test_burst_then_refill() -> None:
    bucket = ConnectionRequestRateLimiter(rate=2.0, burst=3, now=0.0)
    assert [bucket.try_acquire(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.try_acquire(0.4)
    assert bucket.try_acquire(0.5)
    assert not bucket.try_acquire(0.5)


def test_refill_never_exceeds_burst() -> None:
    bucket = ConnectionRequestRateLimiter(rate=10.0, burst=2, now=0.0)
    assert bucket.try_acquire(0.0)
    assert bucket.try_acquire(0.0)
    # An hour idle still only allows a burst of 2.
    assert [bucket.try_acquire(3600.0) for _ in range(3)] == [True, True, False]


def test_reservations_queue_in_order() -> None:
    bucket = ConnectionRequestRateLimiter(rate=4.0, burst=1, now=0.0)
    assert bucket.reserve(0.0) == 0.0
    assert bucket.reserve(0.0) == pytest.approx(0.25)
    assert bucket.reserve(0.0) == pytest.approx(0.5)
    assert bucket.reserve(0.1) == pytest.approx(0.65)


def test_fleet_wide_wake_up_is_spread_over_time() -> None:
    """1,000 devices at 100/s with a burst of 10: the last one waits 9.9 s."""
    bucket = ConnectionRequestRateLimiter(rate=100.0, burst=10, now=0.0)
    waits = [bucket.reserve(0.0) for _ in range(1000)]
    assert waits[:10] == [0.0] * 10
    assert waits[-1] == pytest.approx(9.9)
    assert all(b >= a for a, b in itertools.pairwise(waits))
    # No second holds more than rate + burst starts.
    per_second = [sum(1 for w in waits if s <= w < s + 1) for s in range(10)]
    assert max(per_second) <= 110


async def test_acquire_sleeps_for_the_reserved_delay() -> None:
    bucket = ConnectionRequestRateLimiter(rate=2.0, burst=1, now=0.0)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    assert await bucket.acquire(lambda: 0.0, fake_sleep) == 0.0
    assert await bucket.acquire(lambda: 0.0, fake_sleep) == pytest.approx(0.5)
    assert slept == [pytest.approx(0.5)]


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="rate"):
        ConnectionRequestRateLimiter(rate=0.0)
