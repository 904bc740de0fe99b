# SQL text is assembled only from constants; values are always bound parameters.
# ruff: noqa: S608
"""What the console's charts and failures view need, aggregated by the database.

Three questions, each one GROUP BY so that memory stays flat whatever the fleet size:
attempts per time bucket (provisioning and failure rate over time), finished attempts
per duration bucket (the histogram), and failed devices grouped by the result, step,
model and fault code of their last finished attempt (the failures view), plus the
devices of one such group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from traceacs.provisioning.device import RESULT_SUCCESS, Device
from traceacs.storage.database import Database, Dialect
from traceacs.storage.rows import DEVICE_COLUMNS, device_from_row

DURATION_EDGES_S: Final = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""Upper bounds of the histogram buckets (the last bucket is everything above)."""

_BUCKET_EXPR: Final[dict[Dialect, str]] = {
    # started_at >= since, so truncation is the floor on both engines
    "sqlite": "CAST((a.started_at - $1) / $3 AS INTEGER)",
    "postgresql": "CAST(floor((a.started_at - $1) / $3) AS BIGINT)",
}

_TIMESERIES = """
SELECT {bucket} AS bucket,
       count(*) AS attempts,
       sum(CASE WHEN a.result IS NULL THEN 0 ELSE 1 END) AS finished,
       sum(CASE WHEN a.result = $4 THEN 1 ELSE 0 END) AS succeeded,
       avg(a.ended_at - a.started_at) AS mean_duration
FROM attempts a
WHERE a.started_at >= $1 AND a.started_at < $2
GROUP BY 1 ORDER BY 1"""

_HISTOGRAM = """
SELECT {case} AS bucket, count(*) AS n
FROM attempts a
WHERE a.started_at >= $1 AND a.started_at < $2 AND a.ended_at IS NOT NULL
GROUP BY 1"""

# The last finished attempt of a failed device (the index on (device_id, started_at)
# answers the inner query with one backward probe per device).
_LAST_FINISHED = """
a.id = (SELECT a2.id FROM attempts a2
        WHERE a2.device_id = d.id AND a2.result IS NOT NULL
        ORDER BY a2.started_at DESC, a2.id DESC LIMIT 1)"""

_FAILURE_GROUPS = f"""
SELECT a.result AS result, a.failing_step AS step, d.model AS model,
       a.fault_code AS fault_code, count(*) AS n
FROM devices d JOIN attempts a ON a.device_id = d.id
WHERE d.state = 'failed' AND {_LAST_FINISHED}
GROUP BY a.result, a.failing_step, d.model, a.fault_code
ORDER BY n DESC, result, step, model, fault_code
LIMIT $1"""

_GROUP_DEVICES = f"""
SELECT {", ".join("d." + c.strip() for c in DEVICE_COLUMNS.split(","))}
FROM devices d JOIN attempts a ON a.device_id = d.id
WHERE d.state = 'failed' AND {_LAST_FINISHED}{{conditions}}
ORDER BY d.serial_number, d.oui
LIMIT $1 OFFSET $2"""


@dataclass(frozen=True, slots=True)
class TimeBucket:
    """Attempts that started in ``[start, start + bucket_s)``."""

    start: float
    attempts: int
    finished: int
    succeeded: int
    mean_duration_s: float | None

    @property
    def failed(self) -> int:
        return self.finished - self.succeeded


@dataclass(frozen=True, slots=True)
class DurationBucket:
    """Finished attempts that took at most ``le`` seconds (None: above the last edge)
    and more than the previous edge."""

    le: float | None
    count: int


@dataclass(frozen=True, slots=True)
class FailureGroup:
    result: str | None
    step: str | None
    model: str | None
    fault_code: int | None
    count: int


@dataclass(frozen=True, slots=True)
class GroupKey:
    """One failure group, as the caller names it; ``None`` fields must be NULL."""

    result: str | None
    step: str | None
    model: str | None
    fault_code: int | None


def _histogram_case() -> str:
    arms = " ".join(
        f"WHEN a.ended_at - a.started_at <= {edge!r} THEN {i}"
        for i, edge in enumerate(DURATION_EDGES_S)
    )
    return f"CASE {arms} ELSE {len(DURATION_EDGES_S)} END"


_HISTOGRAM_SQL: Final = _HISTOGRAM.format(case=_histogram_case())


class SqlFleetHistory:
    """Reads the console's aggregates from the inventory's `Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def timeseries(self, since: float, until: float, bucket_s: int) -> list[TimeBucket]:
        """Every bucket of ``[since, until)``, empty ones included, oldest first."""
        if bucket_s < 1:
            raise ValueError("bucket must be at least one second")
        sql = _TIMESERIES.format(bucket=_BUCKET_EXPR[self.db.dialect])
        rows = await self.db.fetch(sql, float(since), float(until), bucket_s, RESULT_SUCCESS)
        found = {int(r["bucket"]): r for r in rows}
        count = max(1, -int(-(until - since) // bucket_s))
        buckets: list[TimeBucket] = []
        for i in range(count):
            row = found.get(i)
            mean = None if row is None or row["mean_duration"] is None else row["mean_duration"]
            buckets.append(
                TimeBucket(
                    start=since + i * bucket_s,
                    attempts=int(row["attempts"]) if row else 0,
                    finished=int(row["finished"] or 0) if row else 0,
                    succeeded=int(row["succeeded"] or 0) if row else 0,
                    mean_duration_s=None if mean is None else float(mean),
                )
            )
        return buckets

    async def duration_histogram(self, since: float, until: float) -> list[DurationBucket]:
        rows = await self.db.fetch(_HISTOGRAM_SQL, float(since), float(until))
        counts = {int(r["bucket"]): int(r["n"]) for r in rows}
        edges: Sequence[float | None] = (*DURATION_EDGES_S, None)
        return [DurationBucket(edge, counts.get(i, 0)) for i, edge in enumerate(edges)]

    async def failure_groups(self, limit: int = 200) -> list[FailureGroup]:
        """Failed devices grouped by their last finished attempt, largest group first."""
        rows = await self.db.fetch(_FAILURE_GROUPS, limit)
        return [
            FailureGroup(
                result=r["result"],
                step=r["step"],
                model=r["model"],
                fault_code=None if r["fault_code"] is None else int(r["fault_code"]),
                count=int(r["n"]),
            )
            for r in rows
        ]

    async def group_devices(self, key: GroupKey, *, limit: int, offset: int) -> list[Device]:
        """The failed devices of one group, by serial number."""
        conditions: list[str] = []
        args: list[object] = [limit, offset]
        for column, value in (
            ("a.result", key.result),
            ("a.failing_step", key.step),
            ("d.model", key.model),
            ("a.fault_code", key.fault_code),
        ):
            if value is None:
                conditions.append(f" AND {column} IS NULL")
            else:
                args.append(value)
                conditions.append(f" AND {column} = ${len(args)}")
        sql = _GROUP_DEVICES.format(conditions="".join(conditions))
        return [device_from_row(r) for r in await self.db.fetch(sql, *args)]
