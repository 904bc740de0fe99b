""" "Latest trace of a serial" stays one index probe on a large store.

200,000 trace summaries (two per device) are bulk-inserted; the planner must answer
the exact lookup `traceacs trace` runs from the ``(serial_number, started_at)`` index,
in index order (no sort of the device's traces, no table scan). A plan, unlike a
wall-clock threshold, does not depend on how busy the test machine is.
"""

from __future__ import annotations

from collections.abc import Iterator

from tests.storage.conftest import pg_database, pg_user, store_url  # noqa: F401
from traceacs.storage.trace_records import TraceSummary
from traceacs.storage.traces import (
    LATEST_TRACE_FOR_OUI_SQL,
    LATEST_TRACE_SQL,
    SqlTraceStore,
    open_trace_store,
)

DEVICES = 100_000
TRACES_PER_DEVICE = 2
INDEX = "trace_summaries_serial_started"
T0 = 1_700_000_000.0


def _summaries() -> Iterator[TraceSummary]:
    for n in range(DEVICES * TRACES_PER_DEVICE):
        device, attempt = divmod(n, TRACES_PER_DEVICE)
        yield TraceSummary(
            trace_id=f"{n:032x}",
            serial_number=f"SN{device:08d}",
            oui="00259E",
            started_at=T0 + attempt * 3600 + device % 977,
            duration_ms=120.0,
            result="success" if attempt else "verification_failed",
            failing_step=None if attempt else "verify",
            status="unset" if attempt else "error",
            reason="" if attempt else "Config verification failed",
            span_count=7,
        )


async def _plan(store: SqlTraceStore, sql: str, *args: object) -> str:
    if store.db.dialect == "sqlite":
        rows = await store.db.fetch("EXPLAIN QUERY PLAN " + sql, *args)
        return "\n".join(str(r["detail"]) for r in rows)
    rows = await store.db.fetch("EXPLAIN " + sql, *args)
    return "\n".join(str(r["QUERY PLAN"]) for r in rows)


async def test_latest_trace_lookup_uses_the_serial_index(store_url: str) -> None:  # noqa: F811
    store = await open_trace_store(store_url)
    try:
        assert await store.insert_summaries(_summaries()) == DEVICES * TRACES_PER_DEVICE
        await store.db.execute("ANALYZE trace_summaries")

        serial = f"SN{DEVICES // 2:08d}"
        for sql, args in (
            (LATEST_TRACE_SQL, (serial,)),
            (LATEST_TRACE_FOR_OUI_SQL, (serial, "00259E")),
        ):
            plan = await _plan(store, sql, *args)
            assert INDEX in plan, plan
            # Read in index order: no sort step, no full scan of the table.
            assert "TEMP B-TREE" not in plan.upper(), plan
            assert "Sort" not in plan, plan
            assert "Seq Scan" not in plan, plan
            assert "SCAN trace_summaries" not in plan, plan

        latest = await store.latest_summary(serial)
        assert latest is not None
        assert latest.result == "success"  # the later of the device's two traces
        assert latest.trace_id == f"{DEVICES // 2 * TRACES_PER_DEVICE + 1:032x}"
    finally:
        await store.close()
