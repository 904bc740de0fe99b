"""The real ACS (open_acs + serve, REST API with the task routes) and a simulated fleet
whose CPEs answer connection requests, all on 127.0.0.1.

Every Inform the ACS receives is recorded (its event codes), so tests can wait for "the
next session brought M Reboot" without sleeping: `Live.session_with` awaits a condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from traceacs.app import serve
from traceacs.assembly import Acs, open_acs
from traceacs.auth.tokens import issue_token
from traceacs.config import Settings
from traceacs.cwmp import messages as m
from traceacs.provisioning.device import ProvisioningState
from traceacs.provisioning.repository import DeviceFilter
from traceacs.provisioning.session_handler import (
    SessionEndReason,
    SessionHandler,
    SessionHandlerFactory,
)
from traceacs.server.api import ApiContext, make_api_application
from traceacs.server.file_server import FileServer
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.faults import NO_FAULTS
from traceacs.simulator.fleet import Fleet, build_fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig
from traceacs.storage import SqlDeviceRepository
from traceacs.storage.api_store import SqlApiStore
from traceacs.storage.fleet_stats import SqlFleetStats
from traceacs.telemetry.setup import Telemetry

CR_PASSWORD = "sim-cr-secret"  # the simulator's default ConnectionRequestPassword


class _Recording:
    """Wraps each session's handler to record the Inform's events (a SessionHandler)."""

    def __init__(self, inner: SessionHandler, seen: Callable[[m.Inform], None]) -> None:
        self.inner = inner
        self._seen = seen

    async def on_inform(self, inform: m.Inform, now: float) -> m.InformResponse | m.CwmpFault:
        self._seen(inform)
        return await self.inner.on_inform(inform, now)

    async def on_cpe_request(self, request: m.Message, now: float) -> m.Message:
        return await self.inner.on_cpe_request(request, now)

    async def next_acs_request(self, now: float) -> m.Message | None:
        return await self.inner.next_acs_request(now)

    async def on_cpe_response(self, response: m.Message, now: float) -> None:
        await self.inner.on_cpe_response(response, now)

    async def on_session_end(self, reason: SessionEndReason, now: float) -> None:
        await self.inner.on_session_end(reason, now)


@dataclass
class Informs:
    events: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    notifying: set[asyncio.Task[None]] = field(default_factory=set)

    def seen(self, inform: m.Inform) -> None:
        self.events.append((inform.device_id.serial_number, inform.event_codes))

        async def notify() -> None:
            async with self.changed:
                self.changed.notify_all()

        task = asyncio.get_running_loop().create_task(notify())
        self.notifying.add(task)
        task.add_done_callback(self.notifying.discard)


@dataclass
class RecordingFactory:
    inner: SessionHandlerFactory
    informs: Informs

    def new_session(self, session_id: str) -> SessionHandler:
        return _Recording(self.inner.new_session(session_id), self.informs.seen)


@dataclass
class Live:
    acs: Acs
    cwmp_url: str
    api_url: str
    token: str
    fleet: Fleet
    runner: FleetRunner
    informs: Informs
    http: aiohttp.ClientSession
    fleet_task: asyncio.Task[Any] | None = None

    def cpe(self, index: int = 0) -> SimulatedCpe:
        return self.fleet.cpes[index]

    async def api(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(
            method, self.api_url + path, headers=headers, **kwargs
        ) as response:
            body = await response.json() if response.content_type == "application/json" else None
            return response.status, body

    async def task(
        self, serial: str, body: dict[str, Any], *, wake: bool = True, timeout: int = 15
    ) -> tuple[int, Any]:
        query = f"?timeout={timeout}" + ("&connection_request=true" if wake else "")
        return await self.api("POST", f"api/devices/{serial}/tasks{query}", json=body)

    async def session_with(
        self, serial: str, event: str, *, after: int, timeout: float = 15
    ) -> list[tuple[str, ...]]:
        """Wait until an Inform of ``serial`` (among those after index ``after``) has ``event``."""

        def found() -> bool:
            return any(s == serial and event in codes for s, codes in self.informs.events[after:])

        async with self.informs.changed:
            await asyncio.wait_for(self.informs.changed.wait_for(found), timeout)
        return [codes for s, codes in self.informs.events[after:] if s == serial]


def fleet_of(count: int = 1, data_model: str = "tr181") -> Fleet:
    return build_fleet(count, data_model=data_model, plans=[NO_FAULTS] * count, seed=11)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def live(
    tmp_path: Path,
    fleet: Fleet,
    *,
    start_cpes: bool = True,
    telemetry: Telemetry | None = None,
    ramp_seconds: float = 0.0,
    boot_timeout: float = 15,
) -> AsyncIterator[Live]:
    """``telemetry``: e.g. in-memory exporters (default: telemetry off); ``ramp_seconds``:
    the fleet's CPEs boot spread over that time (a large fleet, not all at once)."""
    settings = Settings(
        cwmp_port=0,
        api_port=0,
        files_port=0,
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'acs.db'}",
        allow_unauthenticated_cpes=True,
    )
    async with open_acs(
        settings, environ={"OTEL_SDK_DISABLED": "true"}, telemetry=telemetry, sweep_interval=None
    ) as acs:
        repo = acs.repository
        assert isinstance(repo, SqlDeviceRepository)
        assert acs.tasks is not None
        await store_fleet(repo, fleet, time.time(), connection_request_password=CR_PASSWORD)
        store = SqlApiStore(repo.db)
        token = (await issue_token(store, "tests", "write", time.time())).plaintext
        api = make_api_application(
            ApiContext(
                repository=repo,
                tokens=store,
                audit=store,
                stats=SqlFleetStats(repo.db),
                profiles=repo,
            ),
            task_service=acs.tasks.service,
            bulk_service=acs.tasks.bulk,
            presets_changed=acs.tasks.presets.invalidate,
        )
        api_runner = web.AppRunner(api, access_log=None)
        await api_runner.setup()
        site = web.TCPSite(api_runner, "127.0.0.1", 0)
        await site.start()
        host, port = api_runner.addresses[0][:2]
        informs = Informs()
        stop = asyncio.Event()
        ready: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        files_ready: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(
            serve(
                settings,
                RecordingFactory(acs.factory, informs),
                stop=stop,
                on_ready=ready.set_result,
                file_server=FileServer(acs.files, acs.file_tokens),
                on_files_ready=files_ready.set_result,
            )
        )
        try:
            cwmp_url = (await ready)[0]
            acs.tasks.public_url.url = (await files_ready)[0]
            runner = FleetRunner(
                fleet.cpes,
                RunnerConfig(
                    cwmp_url, sessions_per_cpe=None, ramp_seconds=ramp_seconds, max_attempts=3
                ),
            )
            async with aiohttp.ClientSession() as http:
                state = Live(
                    acs, cwmp_url, f"http://{host}:{port}/", token, fleet, runner, informs, http
                )
                try:
                    if start_cpes:
                        await start_fleet(state, boot_timeout)
                    yield state
                finally:
                    if state.fleet_task is not None:
                        state.fleet_task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await state.fleet_task
        finally:
            stop.set()
            await server
            await api_runner.cleanup()


async def start_fleet(state: Live, timeout: float = 15) -> None:
    """Boot the fleet (BOOTSTRAP, provisioned) and keep its CPEs running.

    ``timeout``: for the whole fleet to have bootstrapped, then to be provisioned.
    """
    after = len(state.informs.events)
    state.fleet_task = asyncio.create_task(state.runner.run())
    serials = {cpe.identity.serial_number for cpe in state.fleet.cpes}

    def all_bootstrapped() -> bool:
        seen = {s for s, codes in state.informs.events[after:] if "0 BOOTSTRAP" in codes}
        return serials <= seen

    async with state.informs.changed:
        await asyncio.wait_for(state.informs.changed.wait_for(all_bootstrapped), timeout)
    provisioned = DeviceFilter(state=ProvisioningState.PROVISIONED)
    deadline = time.monotonic() + timeout
    while await state.acs.repository.count_devices(provisioned) < len(serials):
        if time.monotonic() > deadline:
            for cpe in state.fleet.cpes:
                await wait_provisioned(state, cpe, timeout=0)  # names the first one missing
        await asyncio.sleep(0.05)


async def wait_provisioned(state: Live, cpe: SimulatedCpe, timeout: float = 15) -> None:
    """Until the store shows the device provisioned (the session's last write)."""
    deadline = time.monotonic() + timeout
    while True:
        device = await state.acs.repository.get_device(cpe.identity.oui, cpe.identity.serial_number)
        if device is not None and device.state.value == "provisioned":
            return
        assert time.monotonic() < deadline, f"{cpe.identity.serial_number} not provisioned"
        await asyncio.sleep(0.05)
