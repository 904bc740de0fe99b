"""The Prometheus ``/metrics`` exposition, framework-free so any server can mount it.

Each `Telemetry` owns its own `CollectorRegistry` (not prometheus_client's global one),
so two ACS instances in one process, or two tests, never collide. The server layer
mounts it with a three-line handler, e.g. for aiohttp::

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = render_metrics(registry, request.headers.get("Accept"))
        return web.Response(body=body, headers={"Content-Type": content_type})
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder


def render_metrics(registry: CollectorRegistry, accept: str | None = None) -> tuple[bytes, str]:
    """The scrape body and its Content-Type, negotiated from the ``Accept`` header."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
