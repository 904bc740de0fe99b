"""An OTLP/HTTP receiver on its own thread and event loop.

The ACS's exporters flush synchronously at shutdown (from the application's loop); a
receiver on that same loop could not answer them. On its own thread it always can,
like a real Collector.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web

from tests.telemetry.test_otlp_export import Received, receiver_app


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, Received]]:
    """``(endpoint, received)``: an OTLP/HTTP receiver on 127.0.0.1, own thread."""
    received = Received()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(receiver_app(received))
    ready = threading.Event()
    ports: list[int] = []

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ports.append(runner.addresses[0][1])
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, name="otlp-receiver", daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield f"http://127.0.0.1:{ports[0]}", received
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
