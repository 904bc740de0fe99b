"""The real API served on an ephemeral port from a thread, for synchronous HTTP clients.

schemathesis calls the API with ``requests`` (blocking), so the server cannot share
the test's event loop: it runs `traceacs.app.build_api_app` (what ``traceacs serve``
serves) in a thread with a loop of its own, over a store seeded by the caller, and
stops when the context manager exits. The thread's failures surface in the test.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from traceacs.app import build_api_app
from traceacs.auth.tokens import issue_token
from traceacs.config import Settings
from traceacs.storage import SqlDeviceRepository, open_repository
from traceacs.storage.api_store import SqlApiStore

Seed = Callable[[SqlDeviceRepository], Awaitable[None]]
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LiveApi:
    base_url: str  # http://127.0.0.1:PORT (no trailing slash)
    read_token: str
    write_token: str


class _Server:
    def __init__(self, store_url: str, data_dir: Path, seed: Seed, clock: Callable[[], float]):
        self.store_url = store_url
        self.data_dir = data_dir
        self.seed = seed
        self.clock = clock
        self.ready = threading.Event()
        self.live: LiveApi | None = None
        self.failure: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread
            self.failure = exc
        finally:
            self.ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        repo = await open_repository(self.store_url)
        try:
            await self.seed(repo)
            store = SqlApiStore(repo.db)
            read = await issue_token(store, "fuzz-read", "read", self.clock())
            write = await issue_token(store, "fuzz-write", "write", self.clock())
            settings = Settings(api_port=0, data_dir=self.data_dir, database_url=self.store_url)
            app = build_api_app(settings, repo, clock=self.clock)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            try:
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                port = runner.addresses[0][1]
                self.live = LiveApi(f"http://127.0.0.1:{port}", read.plaintext, write.plaintext)
                self.ready.set()
                await self.stop.wait()
            finally:
                await runner.cleanup()
        finally:
            await repo.close()


@contextmanager
def serve_live_api(
    store_url: str,
    data_dir: Path,
    seed: Seed,
    clock: Callable[[], float],
) -> Iterator[LiveApi]:
    """Serve the API over ``store_url`` (seeded by ``seed``) until the block ends."""
    server = _Server(store_url, data_dir, seed, clock)
    thread = threading.Thread(target=server.run, name="live-api", daemon=True)
    thread.start()
    if not server.ready.wait(START_TIMEOUT_S):
        raise TimeoutError("the live API did not start")
    if server.failure is not None:
        raise RuntimeError("the live API failed to start") from server.failure
    assert server.live is not None
    try:
        yield server.live
    finally:
        if server.loop is not None and server.stop is not None:
            server.loop.call_soon_threadsafe(server.stop.set)
        thread.join(START_TIMEOUT_S)
        if server.failure is not None:
            raise RuntimeError("the live API failed") from server.failure
