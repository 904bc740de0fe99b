"""Wiring: from `Settings` and a `SessionHandlerFactory` to a running ACS.

The lead plugs the provisioning workflow in here by passing its factory; until then
`AcceptAllHandlerFactory` completes sessions without provisioning anything. The
credential store defaults to the shared secret of the settings; the inventory will
pass a database-backed `CpeCredentialStore`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from traceacs.config import Settings
from traceacs.provisioning.repository import DeviceRepository
from traceacs.provisioning.session_handler import SessionHandlerFactory
from traceacs.provisioning.session_store import SessionStore
from traceacs.server.cpe_auth import CpeAuthenticator, CpeCredentialStore, StaticCredentialStore
from traceacs.server.cwmp_endpoint import Clock, CwmpEndpoint, EndpointSettings
from traceacs.server.cwmp_server import CwmpServer
from traceacs.server.default_handler import AcceptAllHandlerFactory
from traceacs.server.file_server import FileServer, make_file_application
from traceacs.server.limits import LimitedTCPSite, ServerLimits, runner_options
from traceacs.server.retry_after import RetryAfterPolicy
from traceacs.server.stun import BindingTable, StunListener

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from traceacs.tasks.wiring import TaskWiring

log = logging.getLogger("traceacs.app")


class ConfigurationError(RuntimeError):
    """Settings that cannot make a working server (told to the operator, no traceback)."""


def build_authenticator(
    settings: Settings, credentials: CpeCredentialStore | None = None
) -> CpeAuthenticator | None:
    """The CPE authenticator of ``settings``; None when CPEs may come unauthenticated."""
    if settings.allow_unauthenticated_cpes:
        return None
    if credentials is None:
        if not settings.cpe_shared_secret:
            raise ConfigurationError(
                "CPEs must authenticate: set TRACEACS_CPE_SHARED_SECRET, or pass "
                "--allow-unauthenticated-cpes (labs and demos only)"
            )
        credentials = StaticCredentialStore(shared_secret=settings.cpe_shared_secret)
    return CpeAuthenticator(credentials, mode=settings.cpe_auth)


def build_cwmp_endpoint(
    settings: Settings,
    factory: SessionHandlerFactory | None = None,
    *,
    credentials: CpeCredentialStore | None = None,
    clock: Clock = time.time,
    sessions: SessionStore | None = None,
) -> CwmpEndpoint:
    """The CWMP endpoint; with ``sessions``, its sessions live in that shared store."""
    return CwmpEndpoint(
        factory if factory is not None else AcceptAllHandlerFactory(),
        authenticator=build_authenticator(settings, credentials),
        settings=EndpointSettings(
            session_timeout=settings.session_timeout,
            max_sessions=settings.max_sessions,
            retry_after=RetryAfterPolicy(
                minimum=settings.retry_after_min, maximum=settings.retry_after_max
            ),
            abandoned_after=settings.abandoned_after,
            secure_cookie=settings.tls,
            worker_name=settings.worker_name,
        ),
        clock=clock,
        store=sessions,
    )


def build_api_app(
    settings: Settings,
    repository: DeviceRepository,
    *,
    active_sessions: Callable[[], int] | None = None,
    capacity: Callable[[], int] | None = None,
    clock: Callable[[], float] = time.time,
    tasks: TaskWiring | None = None,
) -> web.Application:
    """The REST API application over ``repository`` (a migrated SQL repository).

    Tokens, the audit log and the fleet statistics live in the repository's database.
    ``capacity`` defaults to the settings' session limit; ``active_sessions`` (the
    CWMP endpoint's open sessions) is reported as ``null`` when not given. ``tasks``:
    the ACS's task services (shared rate limiter, traced connection requests, bulk jobs).
    """
    from traceacs.server.api import ApiContext, make_api_application
    from traceacs.storage.api_store import SqlApiStore
    from traceacs.storage.fleet_history import SqlFleetHistory
    from traceacs.storage.fleet_stats import SqlFleetStats
    from traceacs.storage.repository import SqlDeviceRepository
    from traceacs.storage.traces import SqlTraceStore

    if not isinstance(repository, SqlDeviceRepository):
        raise ConfigurationError("the API needs the SQL repository (traceacs.storage)")
    store = SqlApiStore(repository.db)
    context = ApiContext(
        repository=repository,
        tokens=store,
        audit=store,
        stats=SqlFleetStats(repository.db),
        profiles=repository,
        clock=clock,
        active_sessions=active_sessions,
        capacity=capacity if capacity is not None else (lambda: settings.max_sessions),
        traces=SqlTraceStore(repository.db),  # reads only: the writer has its own connection
        history=SqlFleetHistory(repository.db),
    )
    if tasks is None:
        return make_api_application(context)
    return make_api_application(
        context,
        task_service=tasks.service,
        bulk_service=tasks.bulk,
        presets_changed=tasks.presets.invalidate,
    )


def add_metrics_route(app: web.Application, registry: CollectorRegistry) -> None:
    """``GET /metrics``: the Prometheus exposition of ``registry``, without a token.

    Prometheus scrapes it unauthenticated, so it carries no secrets and no device
    identities (the instruments' Views keep only low-cardinality labels); it lives on
    the API port, never the CPE-facing CWMP port, and can be kept internal by binding
    the API to an internal address.
    """
    from traceacs.telemetry.prometheus import render_metrics

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = render_metrics(registry, request.headers.get("Accept"))
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/metrics", metrics)


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    return context


async def serve(
    settings: Settings,
    factory: SessionHandlerFactory | None = None,
    *,
    credentials: CpeCredentialStore | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[list[str]], None] | None = None,
    repository: DeviceRepository | None = None,
    on_api_ready: Callable[[list[str]], None] | None = None,
    metrics: CollectorRegistry | None = None,
    file_server: FileServer | None = None,
    on_files_ready: Callable[[list[str]], None] | None = None,
    stun_bindings: BindingTable | None = None,
    sessions: SessionStore | None = None,
    tasks: TaskWiring | None = None,
) -> None:
    """Serve the CWMP endpoint until ``stop`` is set; then end open sessions and return.

    The CWMP port is served by `traceacs.server.http11` (no aiohttp on the CPE's hot
    path). With a ``file_server``, files are served on ``settings.files_port`` (aiohttp,
    CPE-facing limits). With a ``repository``, the REST API is served too, on
    ``settings.api_port``; with a ``metrics`` registry, ``GET /metrics`` is served on
    that port (alone when there is no repository).
    ``on_ready`` / ``on_files_ready`` / ``on_api_ready`` receive the listening URLs
    (useful with port 0).
    """
    endpoint = build_cwmp_endpoint(settings, factory, credentials=credentials, sessions=sessions)
    stun: StunListener | None = None
    context = ssl_context(settings)
    scheme = "https" if context is not None else "http"
    limits = ServerLimits(max_connections=2 * settings.max_sessions)
    cwmp = CwmpServer(endpoint, limits)
    runners: list[web.AppRunner] = []
    started = False
    try:
        await cwmp.start(settings.bind, settings.cwmp_port, ssl_context=context)
        started = True
        urls = [_url(scheme, host, port) for host, port in cwmp.addresses]
        log.info("CWMP endpoint listening on %s", ", ".join(urls))
        if file_server is not None:
            files_runner = web.AppRunner(
                make_file_application(file_server),
                access_log=None,
                shutdown_timeout=5.0,
                **runner_options(limits),
            )
            runners.append(files_runner)
            await files_runner.setup()
            files_site = LimitedTCPSite(
                files_runner, settings.bind, settings.files_port, limits, ssl_context=context
            )
            await files_site.start()
            files_urls = [_url(scheme, host, port) for host, port, *_ in files_runner.addresses]
            log.info("file server (CPE downloads and uploads) on %s", ", ".join(files_urls))
            if on_files_ready is not None:
                on_files_ready(files_urls)
        if repository is not None or metrics is not None:
            api = (
                build_api_app(
                    settings,
                    repository,
                    active_sessions=lambda: len(endpoint.registry),
                    tasks=tasks,
                )
                if repository is not None
                else web.Application()
            )
            if metrics is not None:
                add_metrics_route(api, metrics)
            api_runner = web.AppRunner(api, access_log=None, shutdown_timeout=5.0)
            runners.append(api_runner)
            await api_runner.setup()
            api_site = web.TCPSite(
                api_runner, settings.bind, settings.api_port, ssl_context=context
            )
            await api_site.start()
            api_urls = [_url(scheme, host, port) for host, port, *_ in api_runner.addresses]
            log.info("API listening on %s", ", ".join(api_urls))
            if on_api_ready is not None:
                on_api_ready(api_urls)
        if stun_bindings is not None and settings.stun_port:
            stun = StunListener(stun_bindings)
            stun_host, stun_port = await stun.start(settings.bind, settings.stun_port)
            log.info("STUN listener (TR-111) on udp://%s:%d", stun_host, stun_port)
        if on_ready is not None:
            on_ready(urls)
        await (stop if stop is not None else asyncio.Event()).wait()
        log.info("stopping: ending open CWMP sessions")
    finally:
        if stun is not None:
            stun.close()
        if started:
            await cwmp.stop()
        for runner in reversed(runners):
            await runner.cleanup()


def _url(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://[{host}]:{port}/" if ":" in host else f"{scheme}://{host}:{port}/"


def settle_heap() -> None:
    """Move everything built at start-up out of the cyclic garbage collector's sight.

    The data-model tables, profiles and caches live as long as the process; a full
    collection would walk them all again and again while sessions allocate. Frozen,
    they are never traversed (``gc.freeze``), so a collection costs what the sessions
    in flight hold, not what the server holds.
    """
    gc.collect()
    gc.freeze()


def run(
    settings: Settings,
    factory: SessionHandlerFactory | None = None,
    *,
    credentials: CpeCredentialStore | None = None,
) -> int:
    """Run the server on uvloop (when available) until SIGINT or SIGTERM; exit code."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if factory is not None:
            await serve(settings, factory, credentials=credentials, stop=stop)
            return
        from traceacs.assembly import open_acs

        async with open_acs(settings) as acs:
            settle_heap()
            await serve(
                settings,
                acs.factory,
                credentials=credentials,
                stop=stop,
                repository=acs.repository,
                metrics=acs.telemetry.prometheus_registry if acs.telemetry else None,
                file_server=FileServer(
                    acs.files,
                    acs.file_tokens,
                    authenticator=build_authenticator(settings, credentials),
                ),
                on_files_ready=acs.use_listening_url,
                stun_bindings=acs.stun_bindings,
                sessions=acs.sessions,
                tasks=acs.tasks,
            )

    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        asyncio.run(main())
    else:
        uvloop.run(main())
    log.info("stopped")
    return 0
