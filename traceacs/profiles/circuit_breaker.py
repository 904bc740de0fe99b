"""A sans-IO circuit breaker: a dead BSS fails fast instead of stalling every inform.

Closed: requests flow; ``failure_threshold`` consecutive failures open it.
Open: requests are refused until ``reset_timeout`` seconds have passed.
Half-open: exactly one probe is let through; its success closes the breaker, its
failure opens it again for another ``reset_timeout``.

No clock, no I/O: the caller passes ``now`` (monotonic seconds) to every call, so the
state machine is tested by moving numbers, not by waiting. A probe that never reports
back (its task was cancelled) does not wedge the breaker: after ``reset_timeout`` a new
probe is allowed.
"""

from __future__ import annotations

import enum

__all__ = ["CircuitBreaker", "CircuitState"]


class CircuitState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 5, reset_timeout: float = 30.0) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout <= 0:
            raise ValueError("reset_timeout must be positive")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_started_at: float | None = None

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(failures={self._failures}/{self.failure_threshold}, "
            f"opened_at={self._opened_at}, probe_started_at={self._probe_started_at})"
        )

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def state(self, now: float) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if now - self._opened_at < self.reset_timeout:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def retry_after(self, now: float) -> float:
        """Seconds until a request may be tried again (0 when one may go now)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.reset_timeout - now)

    def allow_request(self, now: float) -> bool:
        """Whether a request may go out now; in half-open this claims the single probe."""
        state = self.state(now)
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.OPEN:
            return False
        probe = self._probe_started_at
        if probe is not None and now - probe < self.reset_timeout:
            return False  # a probe is in flight
        self._probe_started_at = now
        return True

    def record_success(self, now: float) -> None:
        self._failures = 0
        self._opened_at = None
        self._probe_started_at = None

    def record_failure(self, now: float) -> None:
        if self._opened_at is not None:
            # A failed probe (or a straggler from before opening): open for another period.
            self._opened_at = now
            self._probe_started_at = None
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._opened_at = now
            self._probe_started_at = None
