"""One log line per interval for an event that can repeat thousands of times a second.

Under overload the endpoint refuses Informs with 503 at the rate CPEs send them; a
WARNING per refusal made the log the next thing to fall over (a 5-minute overload run
wrote ~80 MB). `LogThrottle` counts occurrences and says when a line is due, carrying
the count since the last line. Time is passed in, so it is tested without sleeping.
"""

from __future__ import annotations

import math


class LogThrottle:
    """Counts an event; `tick` returns the count to report when a line is due, else None."""

    __slots__ = ("_count", "_interval", "_last")

    def __init__(self, interval: float = 10.0) -> None:
        self._interval = interval
        self._count = 0
        self._last = -math.inf

    def tick(self, now: float) -> int | None:
        """Count one occurrence at ``now``; the count since the last line if one is due."""
        self._count += 1
        if now - self._last < self._interval:
            return None
        count, self._count, self._last = self._count, 0, now
        return count
