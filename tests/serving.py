"""`traceacs.app.serve` running in the background of a test, on ephemeral ports.

Tests that drive the assembled ACS over real sockets (console, API, live telemetry)
all need the same start/stop dance: ready callbacks turned into futures, a serve that
fails to start raising its own error rather than a 30 s timeout, and a clean stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from traceacs.app import serve
from traceacs.config import Settings
from traceacs.provisioning.session_handler import SessionHandlerFactory

START_TIMEOUT = 30.0


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, factory: SessionHandlerFactory | None = None, **options: Any
) -> AsyncIterator[tuple[str, str]]:
    """Serve until the block ends; yields ``(cwmp_url, api_url)``.

    ``options`` go to `serve` (``repository`` or ``metrics`` is needed for an API URL).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    cwmp_ready: asyncio.Future[list[str]] = loop.create_future()
    api_ready: asyncio.Future[list[str]] = loop.create_future()
    task = asyncio.create_task(
        serve(
            settings,
            factory,
            stop=stop,
            on_ready=cwmp_ready.set_result,
            on_api_ready=api_ready.set_result,
            **options,
        )
    )
    try:
        started: list[asyncio.Future[object]] = [task, cwmp_ready]  # type: ignore[list-item]
        await asyncio.wait(started, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # serve failed to start: raise its error
        [cwmp_url, *_] = await asyncio.wait_for(cwmp_ready, timeout=START_TIMEOUT)
        [api_url, *_] = await asyncio.wait_for(api_ready, timeout=START_TIMEOUT)
        yield cwmp_url, api_url
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=START_TIMEOUT)
