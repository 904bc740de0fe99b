"""``/api/summary/timeseries`` and ``/api/summary/durations``: the fleet over time.

The console's charts (provisioning and failure rate per bucket, the duration
histogram) and any OSS dashboard read these; buckets are counted by the database, and
empty buckets are returned as zeros so a chart's x axis is the window itself.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from traceacs.server.api import params
from traceacs.server.api.context import FleetHistorySource, context_of
from traceacs.server.api.errors import ApiError, bad_request
from traceacs.server.api.summary import DEFAULT_WINDOW_S, MAX_WINDOW_S

MAX_BUCKETS: Final = 1000
DEFAULT_BUCKETS: Final = 60


def history_of(request: web.Request) -> FleetHistorySource:
    history = context_of(request).history
    if history is None:
        raise ApiError(503, "fleet history is not available on this server")
    return history


def _window(request: web.Request) -> tuple[int, float, float]:
    window = params.integer(request, "window", DEFAULT_WINDOW_S, 1, MAX_WINDOW_S)
    now = context_of(request).clock()
    # ``until`` a little past now, as /api/summary: an attempt started now is counted
    return window, now - window, now + 1.0


async def timeseries(request: web.Request) -> web.Response:
    window, since, until = _window(request)
    default_bucket = max(1, -(-window // DEFAULT_BUCKETS))
    bucket = params.integer(request, "bucket", default_bucket, 1, MAX_WINDOW_S)
    if -(-(until - since) // bucket) > MAX_BUCKETS:
        raise bad_request(f"window / bucket must not exceed {MAX_BUCKETS} buckets")
    buckets = await history_of(request).timeseries(since, until, bucket)
    return web.json_response(
        {
            "window_s": window,
            "bucket_s": bucket,
            "since": since,
            "until": until,
            "buckets": [
                {
                    "start": b.start,
                    "attempts": b.attempts,
                    "finished": b.finished,
                    "succeeded": b.succeeded,
                    "failed": b.failed,
                    "failure_rate": b.failed / b.finished if b.finished else None,
                    "mean_duration_s": b.mean_duration_s,
                }
                for b in buckets
            ],
        }
    )


async def durations(request: web.Request) -> web.Response:
    window, since, until = _window(request)
    histogram = await history_of(request).duration_histogram(since, until)
    return web.json_response(
        {
            "window_s": window,
            "since": since,
            "until": until,
            "buckets": [{"le": b.le, "count": b.count} for b in histogram],
        }
    )
