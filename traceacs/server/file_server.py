"""Serving the file store over HTTP: firmware/config downloads and CPE uploads.

``GET|HEAD /files/{name}`` serves a file; ``PUT|POST /files/{name}`` stores what a CPE
sends for an Upload RPC. Access is granted by a per-file token in the URL
(``?token=...``, see `traceacs.files.tokens`), or by Digest/Basic auth with the CPE's
credentials when an authenticator is configured. A token that is present but wrong or
expired gets 403 (no challenge: the URL itself is bad).

Downloads carry ``ETag`` (the sha256) and honour ``If-None-Match`` (304), a single
``Range`` (206 with ``Content-Range``; 416 when unsatisfiable; several ranges get the
whole file, as RFC 9110 allows) and ``If-Range``. Uploads are capped in size (413)
and stored as a new file of type ``upload``; they may not overwrite a firmware or
configuration file of the same name (409). Names are checked by the store, so
``../`` and friends never reach the disk (404).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Final, Literal
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from traceacs.files.store import (
    UPLOAD,
    FileStore,
    FileTooLarge,
    InvalidFileName,
    StoredFile,
    StoredFileNotFound,
    validate_name,
)
from traceacs.files.tokens import FileAccessTokens, Scope
from traceacs.server.cpe_auth import CpeAuthenticator

DEFAULT_MAX_UPLOAD: Final = 32 * 1024 * 1024
FILES_PREFIX: Final = "/files"

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def file_url(
    base_url: str,
    name: str,
    tokens: FileAccessTokens,
    *,
    now: float,
    ttl: float = 3600.0,
    scope: Scope = "get",
) -> str:
    """The URL to hand a CPE (Download/Upload RPC) for ``name``, token included."""
    validate_name(name)
    token = tokens.issue(name, now=now, ttl=ttl, scope=scope)
    return f"{base_url.rstrip('/')}{FILES_PREFIX}/{quote(name)}?token={token}"


def parse_range(header: str, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """A single byte range as (start, end-exclusive).

    None: ignore the header (malformed or several ranges: serve the whole file).
    ``"unsatisfiable"``: answer 416.
    """
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if size == 0:
        return "unsatisfiable"
    if not first:
        suffix = int(last)
        if suffix == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size
    start = int(first)
    end = size if not last else min(int(last) + 1, size)
    if last and int(last) < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, end


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return etag in candidates


class FileServer:
    def __init__(
        self,
        store: FileStore,
        tokens: FileAccessTokens,
        *,
        authenticator: CpeAuthenticator | None = None,
        max_upload: int = DEFAULT_MAX_UPLOAD,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.authenticator = authenticator
        self.max_upload = max_upload
        self.clock = clock

    def add_routes(self, app: web.Application) -> None:
        path = FILES_PREFIX + "/{name}"
        app.router.add_get(path, self.download)  # aiohttp adds HEAD for GET
        app.router.add_put(path, self.upload)
        app.router.add_post(path, self.upload)

    # ------------------------------------------------------------------ access

    async def _authorize(self, request: web.Request, name: str, scope: Scope) -> None:
        """Return when allowed; raise 401/403 otherwise."""
        token = request.query.get("token")
        now = self.clock()
        if token is not None:
            if self.tokens.verify(name, token, now=now, scope=scope):
                return
            raise web.HTTPForbidden(text="invalid or expired token")
        if self.authenticator is None:
            raise web.HTTPForbidden(text="a token is required")
        outcome = await self.authenticator.authenticate(
            request.headers.get("Authorization"),
            method=request.method,
            request_uri=request.path_qs,
            now=now,
        )
        if outcome.accepted:
            return
        challenge = web.HTTPUnauthorized()
        for value in outcome.challenges:
            challenge.headers.add("WWW-Authenticate", value)
        raise challenge

    @staticmethod
    def _name(request: web.Request) -> str:
        name = request.match_info["name"]
        try:
            return validate_name(name)
        except InvalidFileName:
            raise web.HTTPNotFound() from None

    # ------------------------------------------------------------------ download

    async def download(self, request: web.Request) -> web.StreamResponse:
        name = self._name(request)
        await self._authorize(request, name, "get")
        stored = await self.store.get(name)
        if stored is None:
            raise web.HTTPNotFound()
        headers = {
            "ETag": stored.etag,
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, no-transform",
        }
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None and _etag_matches(if_none_match, stored.etag):
            return web.Response(status=304, headers=headers)
        start, end, status = 0, stored.size, 200
        range_header = request.headers.get("Range")
        if_range = request.headers.get("If-Range")
        if range_header and (if_range is None or if_range.strip() == stored.etag):
            chosen = parse_range(range_header, stored.size)
            if chosen == "unsatisfiable":
                headers["Content-Range"] = f"bytes */{stored.size}"
                return web.Response(status=416, headers=headers)
            if isinstance(chosen, tuple):
                start, end = chosen
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{stored.size}"
        response = web.StreamResponse(status=status, headers=headers)
        response.content_type = stored.content_type
        response.content_length = end - start
        await response.prepare(request)
        if request.method != "HEAD":
            await self._copy(stored, start, end, response)
        await response.write_eof()
        return response

    async def _copy(
        self, stored: StoredFile, start: int, end: int, response: web.StreamResponse
    ) -> None:
        try:
            async for chunk in self.store.read(stored, start, end):
                await response.write(chunk)
        except StoredFileNotFound:
            # Deleted mid-flight: the length promised cannot be met; cut the connection.
            raise ConnectionResetError("file vanished") from None

    # ------------------------------------------------------------------ upload

    async def upload(self, request: web.Request) -> web.Response:
        name = self._name(request)
        await self._authorize(request, name, "put")
        if request.content_length is not None and request.content_length > self.max_upload:
            raise web.HTTPRequestEntityTooLarge(
                max_size=self.max_upload, actual_size=request.content_length
            )
        existing = await self.store.get(name)
        if existing is not None and existing.file_type != UPLOAD:
            raise web.HTTPConflict(text="a managed file has that name")
        try:
            stored = await self.store.put(
                name,
                self._body(request),
                file_type=UPLOAD,
                now=self.clock(),
                max_size=self.max_upload,
                content_type=_upload_type(request),
            )
        except FileTooLarge:
            raise web.HTTPRequestEntityTooLarge(
                max_size=self.max_upload, actual_size=self.max_upload + 1
            ) from None
        status = 204 if existing is not None else 201
        return web.Response(status=status, headers={"ETag": stored.etag})

    async def _body(self, request: web.Request) -> AsyncIterator[bytes]:
        """The uploaded bytes: the raw body, or the first part of a multipart form."""
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            while part is not None and not isinstance(part, BodyPartReader):
                part = await reader.next()
            if part is None:
                return
            while chunk := await part.read_chunk():
                yield chunk
            return
        async for chunk in request.content.iter_chunked(1 << 16):
            yield chunk


def _upload_type(request: web.Request) -> str:
    if request.content_type.startswith("multipart/") or not request.content_type:
        return "application/octet-stream"
    return request.content_type


def make_file_application(server: FileServer) -> web.Application:
    """A stand-alone application serving ``/files/...`` (or mount ``add_routes``)."""
    app = web.Application(client_max_size=server.max_upload)
    server.add_routes(app)
    return app
