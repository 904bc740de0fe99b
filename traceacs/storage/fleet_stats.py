"""Fleet statistics over a time window, aggregated by the database.

The API's fleet summary needs counts by result, model and plan, and duration
percentiles, over every attempt that started in the window. Counting is one GROUP BY;
each percentile is one ``ORDER BY ... LIMIT 1 OFFSET k`` (nearest rank), so memory
stays flat however many attempts the window holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from traceacs.storage.database import Database

PERCENTILES: Final = (50, 90, 95, 99)
UNKNOWN: Final = "unknown"

_GROUPS = """
SELECT a.result AS result, d.model AS model, d.service_plan AS plan, count(*) AS n
FROM attempts a JOIN devices d ON d.id = a.device_id
WHERE a.started_at >= $1 AND a.started_at < $2
GROUP BY a.result, d.model, d.service_plan"""

_DURATION_FROM = """
FROM attempts a
WHERE a.started_at >= $1 AND a.started_at < $2 AND a.ended_at IS NOT NULL"""

_DURATION_TOTALS = f"""
SELECT count(*) AS n, avg(a.ended_at - a.started_at) AS mean,
       max(a.ended_at - a.started_at) AS longest
{_DURATION_FROM}"""

_DURATION_AT_RANK = f"""
SELECT a.ended_at - a.started_at AS d
{_DURATION_FROM}
ORDER BY 1 LIMIT 1 OFFSET $3"""


@dataclass(frozen=True, slots=True)
class AttemptGroup:
    """How many attempts had this result (``None``: still running) on this model/plan."""

    result: str | None
    model: str
    plan: str
    count: int


@dataclass(frozen=True, slots=True)
class DurationStats:
    """Durations (seconds) of the finished attempts of the window."""

    count: int = 0
    mean: float | None = None
    max: float | None = None
    percentiles: Mapping[int, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FleetStats:
    since: float
    until: float
    groups: Sequence[AttemptGroup]
    durations: DurationStats


class SqlFleetStats:
    """Reads `FleetStats` from the inventory's `Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def fleet_stats(self, since: float, until: float) -> FleetStats:
        """Attempts that started in ``[since, until)``."""
        rows = await self.db.fetch(_GROUPS, float(since), float(until))
        groups = [
            AttemptGroup(
                result=r["result"],
                model=r["model"] or UNKNOWN,
                plan=r["plan"] or UNKNOWN,
                count=int(r["n"]),
            )
            for r in rows
        ]
        return FleetStats(since, until, groups, await self._durations(since, until))

    async def _durations(self, since: float, until: float) -> DurationStats:
        totals = await self.db.fetchrow(_DURATION_TOTALS, float(since), float(until))
        count = int(totals["n"]) if totals is not None else 0
        if totals is None or count == 0:
            return DurationStats()
        percentiles: dict[int, float] = {}
        for p in PERCENTILES:
            rank = max(1, math.ceil(p / 100 * count))  # nearest-rank definition
            value = await self.db.fetchval(_DURATION_AT_RANK, float(since), float(until), rank - 1)
            if value is not None:
                percentiles[p] = float(value)
        return DurationStats(
            count=count,
            mean=float(totals["mean"]),
            max=float(totals["longest"]),
            percentiles=percentiles,
        )
