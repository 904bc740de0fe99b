"""The asyncio fleet runner: drives every `SimulatedCpe` over real HTTP.

Per CPE one task: it waits until its CPE has something to say (boot, periodic inform
with jitter, ScheduleInform, connection request, transfer done), runs one CWMP session
on its own `AcsConnection`, and retries failed sessions with the TR-069 backoff (scaled
down by ``retry_scale`` so a simulated hour passes in seconds). The run is bounded: it
stops after ``duration`` seconds or once every CPE has completed
``sessions_per_cpe`` sessions and has nothing pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from traceacs.cwmp import events as ev
from traceacs.cwmp.messages import (
    CwmpFault,
    Envelope,
    Inform,
    InformResponse,
    Message,
)
from traceacs.simulator.conn_request import ConnectionRequestListener
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.faults import Failure, Quirk
from traceacs.simulator.firmware import HEAD_BYTES, image_version
from traceacs.simulator.http_client import AcsConnection, AcsHttpError, SessionDropped
from traceacs.simulator.stats import FleetStats

COMPLETED = "completed"
DROPPED = "dropped"


def faulted(code: int) -> str:
    return f"faulted({code})"


def http_error(status: int) -> str:
    return f"http_error({status})"


@dataclass(slots=True)
class RunnerConfig:
    acs_url: str
    cpe_username: str = ""
    cpe_password: str = field(default="", repr=False)
    duration: float | None = None
    sessions_per_cpe: int | None = 1
    periodic_interval: float | None = None
    """Seconds between periodic Informs; None: only when a duration is given, from
    each CPE's PeriodicInformInterval."""
    jitter: float = 0.1
    ramp_seconds: float = 1.0
    boot_storm: tuple[int, float] | None = None
    """(N, T): the first N CPEs boot within T seconds, the rest over ``ramp_seconds``."""
    retry_scale: float = 0.01
    max_attempts: int = 5
    request_timeout: float = 30.0
    connection_requests: bool = True
    connection_request_host: str = "127.0.0.1"
    connection_request_port: int = 0
    progress_every: float = 1.0
    ca_file: str | None = None
    """PEM CA bundle that verifies an ``https`` ACS (default: the system's trust store)."""


class _Live:
    """Runner-side state of one CPE: its wake-up event and completed session count."""

    __slots__ = ("completed", "injected", "wake")

    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.completed = 0
        self.injected = False
        """Whether the one-shot drop/crash failure already happened."""


class FleetRunner:
    def __init__(
        self,
        cpes: Sequence[SimulatedCpe],
        config: RunnerConfig,
        *,
        seed: int = 0,
        on_progress: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cpes = list(cpes)
        self.config = config
        self.stats = FleetStats()
        self._rng = random.Random(seed)  # noqa: S311 - reproducible timing, not secrets
        self._on_progress = on_progress
        self._clock = clock
        self._by_serial = {c.identity.serial_number: c for c in self.cpes}
        self._live = {c.identity.serial_number: _Live() for c in self.cpes}
        self._listener: ConnectionRequestListener | None = None
        self.connection_request_base: str | None = None

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the connection-request listener (before CPEs inform its URL)."""
        if not self.config.connection_requests or self._listener is not None:
            return
        self._listener = ConnectionRequestListener(self._by_serial, self._connection_request)
        base = await self._listener.start(
            self.config.connection_request_host, self.config.connection_request_port
        )
        self.connection_request_base = base
        for cpe in self.cpes:
            cpe.context.connection_request_base = base
            cpe.context.acs_url = self.config.acs_url

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None

    async def run(self) -> FleetStats:
        """Run the fleet until its bound; the statistics."""
        await self.start()
        started = time.monotonic()
        tasks = [
            asyncio.create_task(self._cpe_loop(cpe, self._boot_delay(i)))
            for i, cpe in enumerate(self.cpes)
        ]
        progress = asyncio.create_task(self._progress(started)) if self._on_progress else None
        try:
            done = asyncio.gather(*tasks)
            if self.config.duration is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(done), self.config.duration)
            else:
                await done
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if progress is not None:
                progress.cancel()
                await asyncio.gather(progress, return_exceptions=True)
            await self.stop()
        return self.stats

    @property
    def completed_sessions(self) -> int:
        """Sessions that ended well (the bound of a run without a duration)."""
        return sum(live.completed for live in self._live.values())

    def _boot_delay(self, index: int) -> float:
        storm = self.config.boot_storm
        if storm is not None and index < storm[0]:
            return self._rng.uniform(0, storm[1])
        return self._rng.uniform(0, self.config.ramp_seconds)

    async def _progress(self, started: float) -> None:
        assert self._on_progress is not None
        while True:
            await asyncio.sleep(self.config.progress_every)
            self._on_progress(self.stats.progress_line(time.monotonic() - started))

    def _connection_request(self, cpe: SimulatedCpe) -> None:
        self.stats.connection_requests += 1
        cpe.queue_event(ev.CONNECTION_REQUEST)
        self._live[cpe.identity.serial_number].wake.set()

    # ---------------------------------------------------------------- per CPE

    def _periodic(self, cpe: SimulatedCpe) -> float | None:
        if self.config.periodic_interval is not None:
            base = self.config.periodic_interval
        elif self.config.duration is not None:
            base = float(str(cpe.value(cpe.root + "ManagementServer.PeriodicInformInterval")))
        else:
            return None
        if base <= 0:
            return None
        return base * (1 + self._rng.uniform(-self.config.jitter, self.config.jitter))

    def _finished(self, cpe: SimulatedCpe, live: _Live) -> bool:
        limit = self.config.sessions_per_cpe
        if limit is None or live.completed < limit:
            return False
        return not cpe.pending_events and cpe.next_wakeup() is None

    async def _cpe_loop(self, cpe: SimulatedCpe, boot_delay: float) -> None:
        live = self._live[cpe.identity.serial_number]
        await asyncio.sleep(boot_delay)
        attempts = 0
        next_periodic = self._periodic(cpe)
        periodic_at = None if next_periodic is None else time.monotonic() + next_periodic
        while True:
            if cpe.has_work(self._clock()):
                ok = await self.run_session(cpe)
                if ok:
                    attempts = 0
                    live.completed += 1
                    await self._do_transfers(cpe)
                    if self._finished(cpe, live):
                        return
                    continue
                attempts += 1
                if attempts >= self.config.max_attempts:
                    return
                await asyncio.sleep(cpe.retry_delay(self._rng, scale=self.config.retry_scale))
                continue
            if self._finished(cpe, live):
                return
            timeout = None if periodic_at is None else max(0.0, periodic_at - time.monotonic())
            wakeup = cpe.next_wakeup()
            if wakeup is not None:
                until = max(0.0, (wakeup - self._clock()).total_seconds())
                timeout = until if timeout is None else min(timeout, until)
            live.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.wake.wait(), timeout)
            if periodic_at is not None and time.monotonic() >= periodic_at:
                cpe.queue_event(ev.PERIODIC)
                interval = self._periodic(cpe)
                periodic_at = None if interval is None else time.monotonic() + interval

    async def _do_transfers(self, cpe: SimulatedCpe) -> None:
        transfers = cpe.take_transfers()
        if not transfers:
            return
        async with AcsConnection(
            cpe.context.acs_url, timeout=self.config.request_timeout, ca_file=self.config.ca_file
        ) as c:
            for transfer in transfers:
                await asyncio.sleep(transfer.delay_seconds * self.config.retry_scale)
                start = self._clock()
                version, short = None, False
                if transfer.is_download:
                    fetched = await c.fetch(
                        transfer.url, transfer.username, transfer.password, keep=HEAD_BYTES
                    )
                    status = fetched.status
                    version = image_version(fetched.head)
                    short = bool(transfer.file_size) and fetched.size != transfer.file_size
                else:
                    content = f"simulated {transfer.file_type} of {cpe.identity.serial_number}\n"
                    status = await c.upload(
                        transfer.url, transfer.username, transfer.password, content.encode()
                    )
                if 200 <= status < 300 and transfer.is_download and short:
                    code = 9010  # not the FileSize the ACS announced: an incomplete image
                elif 200 <= status < 300:
                    code = 0
                elif status in (401, 403):
                    code = 9012
                elif status == 0:
                    code = 9015
                else:
                    code = 9010 if transfer.is_download else 9011
                cpe.transfer_done(transfer, code, start, self._clock(), image_version=version)

    # ---------------------------------------------------------------- one session

    async def run_session(self, cpe: SimulatedCpe) -> bool:
        """One CWMP session; True if the Inform was accepted and the session closed."""
        started = time.monotonic()
        result = COMPLETED
        ok = False
        plan = cpe.faults
        async with AcsConnection(
            self.config.acs_url,
            faults=plan,
            username=self.config.cpe_username,
            password=self.config.cpe_password,
            timeout=self.config.request_timeout,
            ca_file=self.config.ca_file,
        ) as conn:
            try:
                result, ok = await self._session(cpe, conn)
            except SessionDropped:
                result = DROPPED
            except AcsHttpError as exc:
                result = http_error(exc.status)
        if not ok:
            cpe.session_failed()
        if result == DROPPED and plan.failure is Failure.CRASH:
            cpe.crash()
        self.stats.record(result, (time.monotonic() - started) * 1000)
        return ok

    async def _slow(self, cpe: SimulatedCpe) -> None:
        if cpe.faults.failure is Failure.SLOW:
            await asyncio.sleep(cpe.faults.slow_seconds)

    async def _session(self, cpe: SimulatedCpe, conn: AcsConnection) -> tuple[str, bool]:
        envelope = cpe.build_inform(self._clock())
        inform = envelope.body
        assert isinstance(inform, Inform)
        await self._slow(cpe)
        reply = await conn.post(envelope)
        if reply is None or not isinstance(reply.body, InformResponse):
            if reply is not None and isinstance(reply.body, CwmpFault):
                code = reply.body.fault_code
                return faulted(code), False
            return http_error(204 if reply is None else 200), False
        cpe.inform_accepted(inform.events)
        # the CPE's own requests (TransferComplete) before the empty POST
        request = cpe.next_cpe_request()
        while request is not None:
            await self._slow(cpe)
            reply = await conn.post(self._envelope(cpe, request, None))
            if reply is None or isinstance(reply.body, CwmpFault):
                break
            cpe.handle_acs_response(reply.body)
            request = cpe.next_cpe_request()
        result = COMPLETED
        await self._slow(cpe)
        acs = await conn.post(None)
        while acs is not None:
            body = acs.body
            if isinstance(body, CwmpFault):
                self._end(cpe)
                return faulted(body.fault_code), True
            live = self._live[cpe.identity.serial_number]
            if cpe.faults.failure in (Failure.DROP, Failure.CRASH) and not live.injected:
                live.injected = True  # once: the retried session then goes through
                raise SessionDropped(cpe.faults.failure.value)
            answer = cpe.handle(body, self._clock())
            if isinstance(answer, CwmpFault):
                result = faulted(answer.fault_code)
            await self._slow(cpe)
            acs = await conn.post(self._envelope(cpe, answer, acs.cwmp_id))
        self._end(cpe)
        return result, True

    def _end(self, cpe: SimulatedCpe) -> None:
        if cpe.end_session():
            self._live[cpe.identity.serial_number].wake.set()

    def _envelope(self, cpe: SimulatedCpe, body: Message, cwmp_id: str | None) -> Envelope:
        if cpe.faults.has(Quirk.NO_CWMP_ID):
            cwmp_id = None
        elif cwmp_id is None:
            cwmp_id = "cpe-1"
        return Envelope(body=body, cwmp_id=cwmp_id, namespace=cpe.namespace)


__all__ = ["COMPLETED", "DROPPED", "FleetRunner", "RunnerConfig", "faulted", "http_error"]
