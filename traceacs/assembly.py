"""Assembles the running ACS from `Settings`: store, profile source, telemetry, workflow.

Kept apart from `traceacs.app` (which only serves HTTP) so that the server, the
commands and the tests build the same object graph in one place, and tear it down in
the reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from traceacs.config import Settings
from traceacs.files import DiskFileStore, FileAccessTokens
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.profiles.http import HttpProfileSource
from traceacs.profiles.source import ProfileSource
from traceacs.provisioning.repository import DeviceRepository, RepositoryError
from traceacs.provisioning.session_handler import SessionHandlerFactory
from traceacs.provisioning.session_store import SessionStore
from traceacs.provisioning.telemetry_port import ProvisioningTelemetry
from traceacs.provisioning.workflow import ProvisioningHandlerFactory, WorkflowSettings
from traceacs.server.connection_request import ConnectionRequestRateLimiter
from traceacs.server.stun import BindingTable
from traceacs.storage import open_repository
from traceacs.storage.secret_key import load_secret_box
from traceacs.storage.sessions import SqlSessionStore
from traceacs.tasks.transfer_urls import FileStoreUrls, PublicUrl
from traceacs.tasks.wiring import TaskWiring, build_task_wiring
from traceacs.telemetry.setup import (
    DEFAULT_QUIET_PERIODIC_RATIO,
    Telemetry,
    TelemetryConfigError,
    build_telemetry,
)
from traceacs.telemetry.trace_store import trace_processors_from_env

log = logging.getLogger("traceacs")

STALE_ATTEMPT_SECONDS = 600.0
"""An attempt still open after this long belongs to a session that died (a killed
process, a lost database connection); it is expired so the device is retried."""

SWEEP_INTERVAL_SECONDS = 60.0

_WILDCARD_HOSTS = ("://0.0.0.0:", "://[::]:", "://:::")

INFORM_WRITE_BEHIND_SECONDS = 0.05
"""Inform timestamps and facts are written in one transaction per this interval
(`traceacs.storage.inform_writer`); provisioning results are always written at once."""

PROFILE_CACHE_SECONDS = 1.0
"""How long decoded profiles are reused: writes through this process apply at once,
an import by another process (the CLI) within this delay."""

QUIET_PERIODIC_RATIO_VARIABLE = "TRACEACS_QUIET_PERIODIC_RATIO"

FILE_KEY = "file-token.key"
"""The secret signing file-download URLs, kept under the data directory so URLs handed
to CPEs stay valid across restarts (share the directory, or the file, between ACS
processes that serve the same files)."""


def load_or_create_secret(path: Path) -> bytes:
    """The 32-byte secret in ``path``, created (mode 0600) on first use.

    Several processes may create it at once (``serve --workers N`` on a fresh data
    directory) and must end with the same secret: a file URL one worker issues is
    fetched, through the balancer, from another. See `_create_secret`.
    """
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        secret = _create_secret(path)
    if len(secret) < 32:
        raise ValueError(f"{path} holds no usable secret (remove it to create a new one)")
    return secret


def _create_secret(path: Path) -> bytes:
    """Write a new secret to a private temporary file, then link it to ``path``.

    The link is atomic and fails if ``path`` exists, so ``path`` is never seen half
    written, and a process that loses the race reads the winner's secret.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
        with contextlib.suppress(FileExistsError):  # another process linked first
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_bytes()


@dataclass(slots=True)
class Acs:
    """The pieces a running ACS is made of."""

    settings: Settings
    repository: DeviceRepository
    profiles: ProfileSource
    telemetry: Telemetry | None
    factory: SessionHandlerFactory
    files: DiskFileStore
    file_tokens: FileAccessTokens
    stun_bindings: BindingTable
    connection_requests: ConnectionRequestRateLimiter
    tasks: TaskWiring | None = None
    sessions: SessionStore | None = None
    """The shared CWMP session store (``--session-store database``), else None."""

    @property
    def provisioning_telemetry(self) -> ProvisioningTelemetry | None:
        return self.telemetry.provisioning if self.telemetry else None

    def use_listening_url(self, urls: list[str]) -> None:
        """Without ``--public-url``, CPEs fetch files (firmware Downloads, transfer
        tasks) at the file server's listening address (``--files-port``), unless it is
        a wildcard they cannot use."""
        if self.tasks is None or self.tasks.public_url.url is not None:
            return
        usable = [u for u in urls if not any(w in u for w in _WILDCARD_HOSTS)]
        if usable:
            self.tasks.public_url.url = usable[0]
            log.info("file downloads for CPEs at %s (set --public-url to change)", usable[0])
        else:
            log.warning(
                "listening on a wildcard address: set --public-url so CPEs can fetch "
                "firmware and files (Downloads fail until then)"
            )


@contextlib.asynccontextmanager
async def open_acs(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    telemetry: Telemetry | None = None,
    clock: Callable[[], float] = time.time,
    sweep_interval: float | None = SWEEP_INTERVAL_SECONDS,
) -> AsyncIterator[Acs]:
    """Open the store, build the profile source and telemetry; close them on exit.

    ``telemetry`` may be given (tests pass in-memory exporters); otherwise it is built
    from the ``OTEL_*`` environment.
    """
    repository = await open_repository(
        settings.database_url,
        inform_write_behind=INFORM_WRITE_BEHIND_SECONDS,
        secrets=load_secret_box(settings.data_dir, settings.secret_key),
    )
    http_source: HttpProfileSource | None = None
    owned_telemetry = telemetry is None
    try:
        resealed = await repository.reseal()  # rows from before sealing, or an older key
        if resealed:
            log.info("sealed %d stored secret(s) with %r", resealed, repository.secrets)
        profiles: ProfileSource
        if settings.bss_url:
            http_source = HttpProfileSource(settings.bss_url, token=settings.bss_token)
            profiles = http_source
        else:
            profiles = EmbeddedProfileSource(repository, max_age=PROFILE_CACHE_SECONDS)
        if telemetry is None:
            telemetry = build_telemetry(
                environ,
                capacity=lambda: settings.max_sessions,
                quiet_periodic_ratio=quiet_periodic_ratio(environ),
                span_processors=trace_processors_from_env(settings.database_url, environ),
            )
        files = DiskFileStore(settings.data_dir / "files")
        file_tokens = FileAccessTokens(load_or_create_secret(settings.data_dir / FILE_KEY))
        public_url = PublicUrl(settings.public_url)  # firmware Downloads and transfer tasks
        provisioning = ProvisioningHandlerFactory(
            repository,
            profiles,
            telemetry.provisioning,
            settings=WorkflowSettings(),
            clock=time.perf_counter,  # measures steps that finish within one HTTP request
            firmware_files=FileStoreUrls(files, file_tokens, public_url),
        )
        limiter = ConnectionRequestRateLimiter(
            settings.connection_request_rate,
            burst=max(1, int(settings.connection_request_rate)),
            now=time.monotonic(),
        )
        tasks = build_task_wiring(  # provisioning first, then the device's queued tasks
            repository.db,
            provisioning,
            telemetry=telemetry.provisioning,
            files=files,
            file_tokens=file_tokens,
            limiter=limiter,
            public_url=public_url,
            repository=repository,
            secrets=repository.secrets,
            quiet_sessions=True,
        )
        acs = Acs(
            settings,
            repository,
            profiles,
            telemetry,
            tasks.factory,
            files=files,
            file_tokens=file_tokens,
            stun_bindings=BindingTable(),
            connection_requests=limiter,
            tasks=tasks,
            sessions=(
                SqlSessionStore(repository.db) if settings.session_store == "database" else None
            ),
        )
        sweeper = (
            asyncio.create_task(_expire_stale_attempts(repository, clock, sweep_interval))
            if sweep_interval
            else None
        )
        try:
            yield acs
        finally:
            await acs.files.close()
            if tasks.bulk is not None:
                await tasks.bulk.close()
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
    finally:
        if http_source is not None:
            await http_source.close()
        if owned_telemetry and telemetry is not None:
            telemetry.shutdown()
        await repository.close()


def quiet_periodic_ratio(environ: Mapping[str, str] | None = None) -> float:
    """``TRACEACS_QUIET_PERIODIC_RATIO``: the share of quiet periodic sessions traced
    (default 0.1; 1.0 traces every session, as the full-tracing benchmark does)."""
    env = os.environ if environ is None else environ
    text = env.get(QUIET_PERIODIC_RATIO_VARIABLE, "").strip()
    if not text:
        return DEFAULT_QUIET_PERIODIC_RATIO
    try:
        ratio = float(text)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise TelemetryConfigError(
            f"{QUIET_PERIODIC_RATIO_VARIABLE} must be a number within [0, 1], not {text!r}"
        )
    return ratio


async def _expire_stale_attempts(
    repository: DeviceRepository, clock: Callable[[], float], interval: float
) -> None:
    """Expire attempts left open by sessions that died, so their devices are retried."""
    while True:
        try:
            expired = await repository.expire_stale_attempts(STALE_ATTEMPT_SECONDS, clock())
            if expired:
                log.warning("expired %d stale provisioning attempt(s)", expired)
        except RepositoryError as exc:
            log.warning("could not expire stale attempts: %s", type(exc).__name__)
        await asyncio.sleep(interval)
