"""The sans-IO circuit breaker: its states moved by numbers, never by waiting."""

from __future__ import annotations

import pytest

from traceacs.profiles.circuit_breaker import CircuitBreaker, CircuitState


def test_opens_after_threshold_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=10.0)
    breaker.record_failure(0.0)
    breaker.record_failure(1.0)
    assert breaker.state(1.0) is CircuitState.CLOSED
    assert breaker.allow_request(1.0)
    breaker.record_failure(2.0)
    assert breaker.state(2.0) is CircuitState.OPEN
    assert not breaker.allow_request(2.0)
    assert breaker.retry_after(5.0) == pytest.approx(7.0)


def test_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=10.0)
    breaker.record_failure(0.0)
    breaker.record_success(1.0)
    breaker.record_failure(2.0)
    assert breaker.state(2.0) is CircuitState.CLOSED
    assert breaker.consecutive_failures == 1


def test_half_open_lets_exactly_one_probe_through() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10.0)
    breaker.record_failure(0.0)
    assert not breaker.allow_request(9.99)
    assert breaker.state(10.0) is CircuitState.HALF_OPEN
    assert breaker.allow_request(10.0)
    assert not breaker.allow_request(10.5)  # probe in flight
    breaker.record_success(11.0)
    assert breaker.state(11.0) is CircuitState.CLOSED
    assert breaker.allow_request(11.0)
    assert breaker.allow_request(11.0)


def test_failed_probe_opens_for_another_period() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10.0)
    breaker.record_failure(0.0)
    assert breaker.allow_request(10.0)
    breaker.record_failure(12.0)
    assert breaker.state(12.0) is CircuitState.OPEN
    assert not breaker.allow_request(21.9)
    assert breaker.allow_request(22.0)


def test_a_probe_that_never_reports_does_not_wedge_the_breaker() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10.0)
    breaker.record_failure(0.0)
    assert breaker.allow_request(10.0)  # this probe's task is cancelled, never reports
    assert not breaker.allow_request(19.0)
    assert breaker.allow_request(20.0)


@pytest.mark.parametrize(("threshold", "timeout"), [(0, 1.0), (1, 0.0)])
def test_rejects_nonsense_settings(threshold: int, timeout: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        CircuitBreaker(failure_threshold=threshold, reset_timeout=timeout)
