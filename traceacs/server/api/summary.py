"""``GET /api/summary``: the fleet at a glance over a time window, and which alerts fire.

The four alerts mirror deploy/prometheus/rules/traceacs-alerts.yml, evaluated on the
attempts in the database rather than on metrics, so an operator without Prometheus
sees the same verdicts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, Final

from aiohttp import web

from traceacs.provisioning.device import RESULT_SUCCESS
from traceacs.server.api import params
from traceacs.server.api.context import context_of
from traceacs.storage.fleet_stats import AttemptGroup, FleetStats

DEFAULT_WINDOW_S: Final = 3600
MAX_WINDOW_S: Final = 90 * 86400
FAILURE_RATE_THRESHOLD: Final = 0.05
FAILURE_RATE_MIN_ATTEMPTS: Final = 20
MEAN_DURATION_THRESHOLD_S: Final = 60.0
VERIFICATION_FAILED: Final = "verification_failed"


def _rate(failed: int, finished: int) -> float | None:
    return failed / finished if finished else None


def _counts(groups: Iterable[AttemptGroup]) -> dict[str, Any]:
    by_result: Counter[str] = Counter()
    running = 0
    for g in groups:
        if g.result is None:
            running += g.count
        else:
            by_result[g.result] += g.count
    finished = sum(by_result.values())
    failed = finished - by_result.get(RESULT_SUCCESS, 0)
    return {
        "attempts": finished + running,
        "finished": finished,
        "in_progress": running,
        "failed": failed,
        "failure_rate": _rate(failed, finished),
        "by_result": dict(sorted(by_result.items())),
    }


def _by(groups: Iterable[AttemptGroup], attribute: str) -> dict[str, Any]:
    split: defaultdict[str, list[AttemptGroup]] = defaultdict(list)
    for g in groups:
        split[getattr(g, attribute)].append(g)
    return {key: _counts(split[key]) for key in sorted(split)}


def _alert(
    name: str, firing: bool, value: float | int | None, threshold: float | int, text: str
) -> dict[str, Any]:
    return {
        "name": name,
        "firing": firing,
        "value": value,
        "threshold": threshold,
        "description": text,
    }


def summarize(
    stats: FleetStats, window: int, active: int | None, capacity: int | None
) -> dict[str, Any]:
    """The JSON summary of ``stats`` (pure: tested without a server)."""
    totals = _counts(stats.groups)
    durations = stats.durations
    rate = totals["failure_rate"]
    mismatches = totals["by_result"].get(VERIFICATION_FAILED, 0)
    alerts = [
        _alert(
            "CPEProvisioningFailureRateHigh",
            rate is not None
            and totals["finished"] >= FAILURE_RATE_MIN_ATTEMPTS
            and rate > FAILURE_RATE_THRESHOLD,
            rate,
            FAILURE_RATE_THRESHOLD,
            f"failure rate above {FAILURE_RATE_THRESHOLD:.0%} over at least "
            f"{FAILURE_RATE_MIN_ATTEMPTS} finished attempts",
        ),
        _alert(
            "CPEProvisioningSlow",
            durations.mean is not None and durations.mean > MEAN_DURATION_THRESHOLD_S,
            durations.mean,
            MEAN_DURATION_THRESHOLD_S,
            f"average provisioning duration above {MEAN_DURATION_THRESHOLD_S:g} s",
        ),
        _alert(
            "CPEConfigVerificationMismatch",
            mismatches > 0,
            mismatches,
            0,
            "a device read back values different from those pushed",
        ),
        _alert(
            "CPEProvisioningSessionsOverCapacity",
            active is not None and capacity is not None and active > capacity,
            active,
            capacity if capacity is not None else 0,
            "more CWMP sessions open than the ACS is sized for",
        ),
    ]
    return {
        "window_s": window,
        "since": stats.since,
        "until": stats.until,
        **totals,
        "by_model": _by(stats.groups, "model"),
        "by_plan": _by(stats.groups, "plan"),
        "duration_s": {
            "count": durations.count,
            "mean": durations.mean,
            "max": durations.max,
            **{f"p{p}": durations.percentiles.get(p) for p in (50, 90, 95, 99)},
        },
        "sessions": {"active": active, "capacity": capacity},
        "alerts": alerts,
        "firing": [a["name"] for a in alerts if a["firing"]],
    }


async def fleet_summary(request: web.Request) -> web.Response:
    window = params.integer(request, "window", DEFAULT_WINDOW_S, 1, MAX_WINDOW_S)
    context = context_of(request)
    now = context.clock()
    # ``until`` a little past now: an attempt started this very instant is in the window.
    stats = await context.stats.fleet_stats(now - window, now + 1.0)
    active = context.active_sessions() if context.active_sessions is not None else None
    capacity = context.capacity() if context.capacity is not None else None
    return web.json_response(summarize(stats, window, active, capacity))
