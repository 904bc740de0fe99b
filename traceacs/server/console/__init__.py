"""The web console: a small static front end served by the API app at ``/``.

Plain HTML, CSS and JavaScript shipped in ``static/`` (no build step): the browser logs
in with an API token, keeps it in ``sessionStorage`` and calls the documented REST API
with ``Authorization: Bearer`` like any other client, so the console can do nothing
the API does not allow. The pages themselves are public and hold no data.

Device-supplied strings (SSIDs, manufacturers, fault strings) are rendered by the
scripts as text nodes only; as a second line of defence every console response carries
a strict Content-Security-Policy (scripts and styles from this origin only, no inline
script, no plugins, no framing), so an injected tag could not run anything anyway.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from aiohttp import web

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
ASSETS: Final = {
    "console.css": "text/css",
    "console.js": "text/javascript",
    "charts.js": "text/javascript",
    "waterfall.js": "text/javascript",
    "dom.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
"""The files under ``/console/``: an allow-list, so no path ever reaches the disk."""


def _read(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _response(body: bytes, content_type: str) -> web.Response:
    response = web.Response(body=body, content_type=content_type, headers=SECURITY_HEADERS)
    if content_type.startswith("text/"):
        response.charset = "utf-8"
    return response


async def index(request: web.Request) -> web.Response:
    return _response(_read("index.html"), "text/html")


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    content_type = ASSETS.get(name)
    if content_type is None:
        raise web.HTTPNotFound()
    return _response(_read(name), content_type)


def add_console_routes(app: web.Application) -> None:
    """Serve the console at ``/`` (and its files under ``/console/``) on ``app``."""
    app.router.add_get("/", index)
    app.router.add_get("/console/{name}", asset)
