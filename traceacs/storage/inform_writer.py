"""Write-behind of Inform facts: many devices' ``last_inform_at`` in one transaction.

Every Inform updates its device row (time, boot time, firmware, connection-request
URL). Done synchronously that is one write per session, and with SQLite one trip to
the database thread: under periodic load that trip, not the statement, was the
largest cost left in a quiet session. `InformWriter` queues the update and writes
all that were queued within ``interval`` seconds in one transaction.

What it may lose, and what it may not: a crash loses at most ``interval`` seconds of
Inform *timestamps and facts* (the next Inform rewrites them). Provisioning results
(attempts, device state, ParameterKey) are never queued here; they stay synchronous.
Readers in this process see the queued facts: the repository flushes before any read
of device rows (`flush`), and on close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Final

from traceacs.provisioning.repository import RepositoryError
from traceacs.storage.database import Database, TransactionScript, executemany

log = logging.getLogger("traceacs.storage")

DEFAULT_INTERVAL: Final = 0.05
MAX_PENDING: Final = 100_000
"""Beyond this many queued updates (the store down for a long time) the oldest are
dropped, with a warning: they are timestamps, rewritten by the devices' next Inform."""


class InformWriter:
    """Queues the Inform ``UPDATE`` of `SqlDeviceRepository` and writes it in batches."""

    def __init__(self, db: Database, statement: str, interval: float = DEFAULT_INTERVAL) -> None:
        self._db = db
        self._statement = statement
        self._interval = interval
        self._pending: list[Sequence[Any]] = []
        self._keys: set[tuple[str, str]] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.batches = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def has(self, key: tuple[str, str]) -> bool:
        """Whether an update of device ``key`` (OUI, serial number) is queued."""
        return key in self._keys

    def add(self, key: tuple[str, str], args: Sequence[Any]) -> None:
        """Queue one Inform update of device ``key`` (the statement's arguments)."""
        self._pending.append(args)
        self._keys.add(key)
        if len(self._pending) > MAX_PENDING:
            dropped = len(self._pending) - MAX_PENDING
            del self._pending[:dropped]
            log.warning("inform write-behind: store unavailable, %d updates dropped", dropped)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(self._interval)
        try:
            await self.flush()
        except RepositoryError as exc:
            log.warning("inform write-behind failed (%s); retrying", type(exc).__name__)
            if self._pending:
                self._flusher = asyncio.get_running_loop().create_task(self._later())

    async def flush(self) -> None:
        """Write everything queued so far (one transaction); raises on a store error,
        keeping the updates queued."""
        async with self._lock:
            batch, self._pending = self._pending, []
            keys, self._keys = self._keys, set()
            if not batch:
                return
            try:
                await self._db.run_transaction(self._write(batch))
            except BaseException:
                self._pending[:0] = batch
                self._keys |= keys
                raise
            self.batches += 1

    def _write(self, batch: list[Sequence[Any]]) -> TransactionScript[None]:
        yield executemany(self._statement, batch)

    async def close(self) -> None:
        """Flush what is queued (best effort) and stop the timer."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None and not flusher.done():
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        try:
            await self.flush()
        except RepositoryError as exc:
            log.warning(
                "inform write-behind: %d updates not written at close (%s)",
                len(self._pending),
                type(exc).__name__,
            )
