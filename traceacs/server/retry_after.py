"""How long a CPE refused with 503 should wait: appointments at the admission rate.

A fixed ``Retry-After`` is wrong both ways in a boot storm: too short and the refused
CPEs come back together and are refused again; too long and the ACS idles while they
wait (the 20k-CPE storm with a fixed 30 s drained in 3.4x its arrival window with the
ACS at 59 % CPU). Instead each refusal gets an *appointment*: the next free slot of a
schedule spaced at the rate the ACS has been admitting sessions while it was full
(its measured capacity), so returning CPEs arrive about as fast as they can be served
and the backlog drains at capacity, whatever its size.

- Capacity: sessions admitted per second, counted in 1 s buckets over a sliding
  window; the mean of the finished buckets in which a refusal happened (the ACS was
  full, so admissions were limited by the ACS, not by arrivals) when there are any;
  without any, the rate over the whole window (a lower bound). Never below
  ``floor_rate``.
- Slots are booked ``overbook`` times faster than that rate: a CPE arriving a little
  early costs one cheap refusal, one arriving late costs idle capacity.
- Every answer lies within ``[minimum, maximum]`` seconds; an appointment beyond
  ``maximum`` is not booked (the CPE returns at ``maximum`` and gets a new one).
- Jitter: each delay is spread by ``U(-jitter, +jitter)`` of itself (within the
  bounds), so CPEs given the same second do not return in lockstep.

Sans-IO: time is passed in, randomness injected; the endpoint calls `admitted` when it
opens a session and `refused` when it answers 503.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryAfterPolicy:
    """Bounds and tuning of the adaptive ``Retry-After`` (seconds, sessions/s)."""

    minimum: int = 5
    maximum: int = 300
    window: int = 10
    """Seconds of admissions the capacity is measured over."""
    overbook: float = 1.2
    jitter: float = 0.1
    floor_rate: float = 1.0
    """Admissions/s assumed when nothing was admitted recently (sessions stuck)."""

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.maximum:
            raise ValueError(f"need 1 <= minimum <= maximum, got {self.minimum}, {self.maximum}")
        if self.window < 1 or self.overbook <= 0 or self.floor_rate <= 0:
            raise ValueError("window >= 1, overbook > 0 and floor_rate > 0 are required")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be within [0, 1), got {self.jitter}")


DEFAULT_POLICY = RetryAfterPolicy()


class AdaptiveRetryAfter:
    """Books refused CPEs into slots spaced at the measured admission capacity."""

    def __init__(
        self,
        policy: RetryAfterPolicy | None = None,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.policy = policy or RetryAfterPolicy()
        self._uniform = uniform
        self._buckets: deque[list[int]] = deque()  # [second, admitted, refused]
        self._horizon = 0.0
        """When the last booked appointment is (seconds, the caller's clock)."""

    def admitted(self, now: float) -> None:
        """A new session was admitted at ``now``."""
        self._bucket(now)[1] += 1

    def refused(self, now: float) -> int:
        """A new session was refused at ``now``: the ``Retry-After`` to answer."""
        self._bucket(now)[2] += 1
        policy = self.policy
        slot = 1.0 / (self.capacity(now) * policy.overbook)
        start = max(self._horizon, now + policy.minimum)
        if start - now <= policy.maximum:
            self._horizon = start + slot
        delay = min(start - now, float(policy.maximum))
        if policy.jitter:
            delay += delay * self._uniform(-policy.jitter, policy.jitter)
        return max(policy.minimum, min(policy.maximum, math.ceil(delay)))

    def capacity(self, now: float) -> float:
        """Sessions/s the ACS admits when full (see the module docstring)."""
        self._expire(now)
        current = int(now)  # the current second is not over: its count is partial
        full = [b[1] for b in self._buckets if b[2] > 0 and b[0] < current]
        if full:
            return max(sum(full) / len(full), self.policy.floor_rate)
        span = min(float(self.policy.window), max(1.0, now - self._first_second()))
        admitted = sum(b[1] for b in self._buckets)
        return max(admitted / span, self.policy.floor_rate)

    def _first_second(self) -> float:
        return float(self._buckets[0][0]) if self._buckets else 0.0

    def _bucket(self, now: float) -> list[int]:
        second = int(now)
        buckets = self._buckets
        if buckets and buckets[-1][0] == second and buckets[0][0] > second - self.policy.window:
            return buckets[-1]  # the current second's, and nothing to expire (most calls)
        self._expire(now)
        if not buckets or buckets[-1][0] != second:
            buckets.append([second, 0, 0])
        return buckets[-1]

    def _expire(self, now: float) -> None:
        oldest = int(now) - self.policy.window
        while self._buckets and self._buckets[0][0] <= oldest:
            self._buckets.popleft()
