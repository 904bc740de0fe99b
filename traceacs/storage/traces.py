# SQL text is assembled only from constants and numbered placeholders; values are
# always bound parameters, never formatted in.
# ruff: noqa: S608
"""The embedded trace store: finished provisioning traces in the ACS's own database.

Two tables (migration 3): ``trace_spans`` holds every span; ``trace_summaries`` one
row per trace, indexed by ``(serial_number, started_at)`` so that "the latest trace of
a serial number" is one backward probe of that index whatever the inventory size.
Spans of one trace may arrive in several batches and in any order (a root before its
children when a recorded session is replayed, children first with live spans): after
each batch the summary is re-derived from the trace's stored spans (`summarize`),
which makes writes idempotent and order-free. Retention deletes whole traces by age,
a bounded batch per transaction so that pruning never holds long locks.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

from traceacs.storage.database import Database, Executor, Row
from traceacs.storage.migrations import apply_migrations
from traceacs.storage.open import open_database
from traceacs.storage.trace_records import (
    JsonValue,
    StoredSpan,
    StoredTrace,
    TraceSummary,
    summarize,
)

DEFAULT_DELETE_BATCH: Final = 1000
MAX_ROWS_PER_INSERT: Final = 256  # a power of two; x 10 columns stays far below limits

SPAN_COLUMNS: Final = (
    "trace_id, span_id, parent_span_id, name, start_ns, end_ns, status, status_message, attributes"
)
SUMMARY_COLUMNS: Final = (
    "trace_id, serial_number, oui, started_at, duration_ms, result, failing_step, status, "
    "reason, span_count"
)

LATEST_TRACE_SQL: Final = (
    f"SELECT {SUMMARY_COLUMNS} FROM trace_summaries"
    " WHERE serial_number = $1 ORDER BY started_at DESC LIMIT 1"
)
"""The lookup ``traceacs trace SERIAL`` runs (tests EXPLAIN this exact text)."""

LATEST_TRACE_FOR_OUI_SQL: Final = (
    f"SELECT {SUMMARY_COLUMNS} FROM trace_summaries"
    " WHERE serial_number = $1 AND oui = $2 ORDER BY started_at DESC LIMIT 1"
)

_ALL_TRACES = (
    f"SELECT {SUMMARY_COLUMNS} FROM trace_summaries"
    " WHERE serial_number = $1 ORDER BY started_at DESC LIMIT $2"
)
_ALL_TRACES_FOR_OUI = (
    f"SELECT {SUMMARY_COLUMNS} FROM trace_summaries"
    " WHERE serial_number = $1 AND oui = $2 ORDER BY started_at DESC LIMIT $3"
)
_OUIS_OF_SERIAL = (
    "SELECT DISTINCT oui FROM trace_summaries WHERE serial_number = $1 ORDER BY oui LIMIT $2"
)
_SUMMARY_BY_ID = f"SELECT {SUMMARY_COLUMNS} FROM trace_summaries WHERE trace_id = $1"
_SPANS_OF_TRACE = (
    f"SELECT {SPAN_COLUMNS} FROM trace_spans WHERE trace_id = $1 ORDER BY start_ns, span_id"
)
_INSERT_SPANS = f"INSERT INTO trace_spans ({SPAN_COLUMNS}) VALUES {{values}}"
_SPANS_CONFLICT = " ON CONFLICT (trace_id, span_id) DO NOTHING"
_UPSERT_SUMMARY = f"""
INSERT INTO trace_summaries ({SUMMARY_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (trace_id) DO UPDATE SET
    serial_number = excluded.serial_number,
    oui = excluded.oui,
    started_at = excluded.started_at,
    duration_ms = excluded.duration_ms,
    result = excluded.result,
    failing_step = excluded.failing_step,
    status = excluded.status,
    reason = excluded.reason,
    span_count = excluded.span_count"""
_INSERT_SUMMARIES = f"INSERT INTO trace_summaries ({SUMMARY_COLUMNS}) VALUES {{values}}"
_EXPIRED = "SELECT trace_id FROM trace_summaries WHERE started_at < $1 LIMIT $2"


class SqlTraceStore:
    """Reads and writes finished traces; one instance per `Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> list[int]:
        return await apply_migrations(self.db)

    async def close(self) -> None:
        await self.db.close()

    # -- writing -----------------------------------------------------------------------

    async def write_spans(self, spans: Sequence[StoredSpan]) -> int:
        """Store ``spans`` (any traces, any order) and refresh their traces' summaries.

        One transaction per call; returns the number of traces touched. Spans already
        stored (same trace and span id) are left as they are.
        """
        if not spans:
            return 0
        trace_ids = list(dict.fromkeys(s.trace_id for s in spans))
        async with self.db.transaction() as tx:
            await _insert_rows(tx, _INSERT_SPANS, [_span_args(s) for s in spans], _SPANS_CONFLICT)
            for trace_id in trace_ids:
                stored = [_span_from_row(r) for r in await tx.fetch(_SPANS_OF_TRACE, trace_id)]
                await tx.execute(_UPSERT_SUMMARY, *_summary_args(summarize(trace_id, stored)))
        return len(trace_ids)

    async def insert_summaries(self, summaries: Iterable[TraceSummary]) -> int:
        """Bulk-insert summary rows (imports, benchmarks, tests); returns the count."""
        async with self.db.transaction() as tx:
            return await _insert_rows(tx, _INSERT_SUMMARIES, (_summary_args(s) for s in summaries))

    async def delete_older_than(
        self, cutoff: float, *, batch_size: int = DEFAULT_DELETE_BATCH
    ) -> int:
        """Delete every trace that started before ``cutoff`` (epoch seconds).

        Works ``batch_size`` traces per transaction; returns the traces deleted.
        """
        if batch_size < 1:
            raise ValueError("batch size must be at least 1")
        deleted = 0
        while True:
            async with self.db.transaction() as tx:
                rows = await tx.fetch(_EXPIRED, cutoff, batch_size)
                ids = [str(r["trace_id"]) for r in rows]
                if ids:
                    await _delete_traces(tx, ids)
            deleted += len(ids)
            if len(ids) < batch_size:
                return deleted

    # -- reading -----------------------------------------------------------------------

    async def latest_summary(
        self, serial_number: str, oui: str | None = None
    ) -> TraceSummary | None:
        if oui is None:
            row = await self.db.fetchrow(LATEST_TRACE_SQL, serial_number)
        else:
            row = await self.db.fetchrow(LATEST_TRACE_FOR_OUI_SQL, serial_number, oui.upper())
        return None if row is None else _summary_from_row(row)

    async def latest(self, serial_number: str, oui: str | None = None) -> StoredTrace | None:
        """The most recent trace of a device, with its spans; None when it has none."""
        summary = await self.latest_summary(serial_number, oui)
        return None if summary is None else await self._with_spans(summary)

    async def summaries(
        self, serial_number: str, oui: str | None = None, *, limit: int = 1000
    ) -> list[TraceSummary]:
        """The device's traces, newest first (at most ``limit``)."""
        if oui is None:
            rows = await self.db.fetch(_ALL_TRACES, serial_number, limit)
        else:
            rows = await self.db.fetch(_ALL_TRACES_FOR_OUI, serial_number, oui.upper(), limit)
        return [_summary_from_row(r) for r in rows]

    async def all_traces(
        self, serial_number: str, oui: str | None = None, *, limit: int = 1000
    ) -> list[StoredTrace]:
        """`summaries` with their spans, newest first."""
        return [
            await self._with_spans(s) for s in await self.summaries(serial_number, oui, limit=limit)
        ]

    async def get(self, trace_id: str) -> StoredTrace | None:
        row = await self.db.fetchrow(_SUMMARY_BY_ID, trace_id.lower())
        return None if row is None else await self._with_spans(_summary_from_row(row))

    async def ouis_of(self, serial_number: str, *, limit: int = 2) -> list[str]:
        """OUIs that have traces under this serial number (to detect ambiguity)."""
        rows = await self.db.fetch(_OUIS_OF_SERIAL, serial_number, limit)
        return [str(r["oui"]) for r in rows]

    async def _with_spans(self, summary: TraceSummary) -> StoredTrace:
        rows = await self.db.fetch(_SPANS_OF_TRACE, summary.trace_id)
        return StoredTrace(summary, tuple(_span_from_row(r) for r in rows))


async def open_trace_store(
    url: str, *, pool_max_size: int = 2, migrate: bool = True
) -> SqlTraceStore:
    """A migrated `SqlTraceStore` on ``url`` (same URLs as `open_repository`)."""
    db = await open_database(url, pool_max_size=pool_max_size)
    store = SqlTraceStore(db)
    if migrate:
        try:
            await store.migrate()
        except BaseException:
            await db.close()
            raise
    return store


async def _insert_rows(
    tx: Executor, template: str, rows: Iterable[tuple[Any, ...]], suffix: str = ""
) -> int:
    """Multi-row ``INSERT ... VALUES (...), (...)``: one round trip per chunk on either
    engine, and no cursor left behind (unlike ``executemany``). Chunks have power-of-two
    sizes up to `MAX_ROWS_PER_INSERT`, so only a handful of distinct statement texts
    ever reach the drivers' statement caches. Returns the rows sent."""
    sent = 0
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == MAX_ROWS_PER_INSERT:
            await _insert_chunk(tx, template, chunk, suffix)
            sent += len(chunk)
            chunk = []
    size = MAX_ROWS_PER_INSERT
    while chunk:
        while size > len(chunk):
            size //= 2
        await _insert_chunk(tx, template, chunk[:size], suffix)
        sent += size
        chunk = chunk[size:]
    return sent


@functools.lru_cache(maxsize=64)
def _values_clause(rows: int, width: int) -> str:
    return ", ".join(
        "(" + ", ".join(f"${r * width + c + 1}" for c in range(width)) + ")" for r in range(rows)
    )


async def _insert_chunk(
    tx: Executor, template: str, chunk: list[tuple[Any, ...]], suffix: str
) -> None:
    values = [value for row in chunk for value in row]
    clause = _values_clause(len(chunk), len(chunk[0]))
    await tx.execute(template.format(values=clause) + suffix, *values)


async def _delete_traces(tx: Executor, ids: list[str]) -> None:
    marks = ", ".join(f"${i}" for i in range(1, len(ids) + 1))
    await tx.execute(f"DELETE FROM trace_spans WHERE trace_id IN ({marks})", *ids)
    await tx.execute(f"DELETE FROM trace_summaries WHERE trace_id IN ({marks})", *ids)


# -- rows -------------------------------------------------------------------------------


def _span_args(span: StoredSpan) -> tuple[Any, ...]:
    return (
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.name,
        span.start_ns,
        span.end_ns,
        span.status,
        span.status_message,
        json.dumps(dict(span.attributes), sort_keys=True, separators=(",", ":")),
    )


def _span_from_row(row: Row) -> StoredSpan:
    attributes: dict[str, JsonValue] = json.loads(row["attributes"] or "{}")
    return StoredSpan(
        trace_id=str(row["trace_id"]),
        span_id=str(row["span_id"]),
        parent_span_id=row["parent_span_id"],
        name=str(row["name"]),
        start_ns=int(row["start_ns"]),
        end_ns=int(row["end_ns"]),
        status=str(row["status"]),
        status_message=str(row["status_message"]),
        attributes=attributes,
    )


def _summary_args(summary: TraceSummary) -> tuple[Any, ...]:
    return (
        summary.trace_id,
        summary.serial_number,
        summary.oui,
        summary.started_at,
        summary.duration_ms,
        summary.result,
        summary.failing_step,
        summary.status,
        summary.reason,
        summary.span_count,
    )


def _summary_from_row(row: Row) -> TraceSummary:
    return TraceSummary(
        trace_id=str(row["trace_id"]),
        serial_number=str(row["serial_number"]),
        oui=str(row["oui"]),
        started_at=float(row["started_at"]),
        duration_ms=float(row["duration_ms"]),
        result=str(row["result"]),
        failing_step=row["failing_step"],
        status=str(row["status"]),
        reason=str(row["reason"]),
        span_count=int(row["span_count"]),
    )
