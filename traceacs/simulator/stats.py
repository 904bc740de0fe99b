"""Fleet statistics: sessions, results by class, latency percentiles.

The ACS's provisioning result is not visible to a CPE, so results are classed by what
the CPE saw: ``completed``, ``faulted(<code>)`` (a CWMP fault sent or received),
``http_error(<status>)`` and ``dropped``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of ``values`` (0.0 when there are none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass(slots=True)
class FleetStats:
    sessions: int = 0
    results: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    connection_requests: int = 0

    def record(self, result: str, latency_ms: float) -> None:
        self.sessions += 1
        self.results[result] += 1
        self.latencies_ms.append(latency_ms)

    def progress_line(self, elapsed: float) -> str:
        classes = " ".join(f"{k}={v}" for k, v in sorted(self.results.items()))
        return f"[{elapsed:6.1f}s] sessions={self.sessions} {classes}"

    def as_dict(self) -> dict[str, object]:
        """The summary for scripts (``traceacs simulate --json``)."""
        return {
            "sessions": self.sessions,
            "results": dict(sorted(self.results.items())),
            "latency_ms": {
                "p50": round(percentile(self.latencies_ms, 0.5), 3),
                "p99": round(percentile(self.latencies_ms, 0.99), 3),
            },
            "connection_requests": self.connection_requests,
        }

    def summary(self) -> str:
        lines = [f"sessions: {self.sessions}"]
        lines += [f"  {k}: {v}" for k, v in sorted(self.results.items())]
        lines.append(
            f"latency: p50={percentile(self.latencies_ms, 0.5):.1f} ms "
            f"p99={percentile(self.latencies_ms, 0.99):.1f} ms"
        )
        if self.connection_requests:
            lines.append(f"connection requests: {self.connection_requests}")
        return "\n".join(lines)
