"""Wiring: from `Settings` and a `SessionHandlerFactory` to a running ACS.

The lead plugs the provisioning workflow in here by passing its factory; until then
`AcceptAllHandlerFactory` completes sessions without provisioning anything. The
credential store defaults to the shared secret of the settings; the inventory will
pass a database-backed `CpeCredentialStore`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import time
from collections.abc import Callable

from aiohttp import web

from traceacs.config import Settings
from traceacs.provisioning.session_handler import SessionHandlerFactory
from traceacs.server.cpe_auth import CpeAuthenticator, CpeCredentialStore, StaticCredentialStore
from traceacs.server.cwmp_app import make_cwmp_application
from traceacs.server.cwmp_endpoint import Clock, CwmpEndpoint, EndpointSettings
from traceacs.server.default_handler import AcceptAllHandlerFactory

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
) -> CwmpEndpoint:
    return CwmpEndpoint(
        factory if factory is not None else AcceptAllHandlerFactory(),
        authenticator=build_authenticator(settings, credentials),
        settings=EndpointSettings(
            session_timeout=settings.session_timeout,
            max_sessions=settings.max_sessions,
            secure_cookie=settings.tls,
        ),
        clock=clock,
    )


def build_cwmp_app(
    settings: Settings,
    factory: SessionHandlerFactory | None = None,
    *,
    credentials: CpeCredentialStore | None = None,
    clock: Clock = time.time,
) -> web.Application:
    """The aiohttp application of the CWMP endpoint, ready to be served."""
    endpoint = build_cwmp_endpoint(settings, factory, credentials=credentials, clock=clock)
    return make_cwmp_application(endpoint)


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
) -> None:
    """Serve the CWMP endpoint until ``stop`` is set; then end open sessions and return.

    ``on_ready`` receives the listening URLs (useful with port 0).
    """
    app = build_cwmp_app(settings, factory, credentials=credentials)
    context = ssl_context(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.bind, settings.cwmp_port, ssl_context=context)
        await site.start()
        scheme = "https" if context is not None else "http"
        urls = [f"{scheme}://{host}:{port}/" for host, port, *_ in runner.addresses]
        log.info("CWMP endpoint listening on %s", ", ".join(urls))
        if on_ready is not None:
            on_ready(urls)
        await (stop if stop is not None else asyncio.Event()).wait()
        log.info("stopping: ending open CWMP sessions")
    finally:
        await runner.cleanup()


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
            await serve(settings, acs.factory, credentials=credentials, stop=stop)

    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        asyncio.run(main())
    else:
        uvloop.run(main())
    log.info("stopped")
    return 0
