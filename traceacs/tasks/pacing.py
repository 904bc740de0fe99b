"""Pacing of bulk jobs, sans-IO: when each device's task is released, when it may run.

A fleet-wide reboot must not become a boot storm. Two rules keep a bulk job at its
``rate`` (devices per second), both pure functions of the time passed in:

- `release_times`: the i-th matching device's task is due (and woken by a connection
  request) at ``start + i / rate``, so devices informing on their own pick their task
  up spread out too.
- `DispatchPacer`: when a device's session is about to start a bulk task, the pacer
  hands out dispatch times at least ``1 / rate`` apart per job; a session arriving
  early waits for its turn (at most ``max_wait``), or the task is deferred. So late
  devices that bunch up (a slow link, a busy ACS) are spread out again, and no one-second
  window sees more than ``rate`` dispatches of a job, whatever the arrival pattern.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

MAX_RATE = 10_000.0
"""Devices per second; a guard against a typo that would release a fleet at once."""


def check_rate(rate: float) -> float:
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not math.isfinite(rate):
        raise ValueError("rate must be a number of devices per second")
    if not 0 < rate <= MAX_RATE:
        raise ValueError(f"rate must be above 0 and at most {MAX_RATE:g} devices per second")
    return float(rate)


def release_times(count: int, rate: float, start: float) -> list[float]:
    """When each of ``count`` devices gets its task: ``1 / rate`` apart from ``start``."""
    interval = 1.0 / check_rate(rate)
    return [start + i * interval for i in range(count)]


@dataclass(frozen=True, slots=True)
class Admission:
    """The pacer's answer: run at ``at`` (>= now), or not now (due again at ``at``)."""

    admitted: bool
    at: float


class DispatchPacer:
    """Dispatch times per job at least ``1 / rate`` apart (one per ACS process)."""

    def __init__(self) -> None:
        self._next_free: dict[Hashable, float] = {}

    def reserve(self, key: Hashable, rate: float, now: float, max_wait: float) -> Admission:
        """The next free dispatch time of ``key`` if within ``max_wait`` of ``now``.

        An admitted reservation is taken (the next caller gets a later one); a refused
        one takes nothing and says when the job's next free time is.
        """
        at = max(now, self._next_free.get(key, now))
        if at - now > max_wait:
            return Admission(False, at)
        self._next_free[key] = at + 1.0 / rate
        return Admission(True, at)

    def forget(self, key: Hashable) -> None:
        self._next_free.pop(key, None)
