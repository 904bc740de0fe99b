"""`TransferUrls` over the file store: token-bearing URLs for Download and Upload RPCs.

The base URL is asked for at each use (``base_url()``), since the address CPEs reach
the ACS at may only be known once the server listens (``--public-url``, or the CWMP
listening address); without one, transfer tasks fail with a clear reason.
"""

from __future__ import annotations

from collections.abc import Callable

from traceacs.files.store import FileStore, InvalidFileName
from traceacs.files.tokens import FileAccessTokens
from traceacs.server.file_server import file_url

TRANSFER_URL_TTL = 24 * 3600.0
"""A CPE may start a transfer long after the RPC (DelaySeconds, a busy CPE)."""


class FileStoreUrls:
    def __init__(
        self,
        files: FileStore,
        tokens: FileAccessTokens,
        base_url: Callable[[], str | None],
        *,
        ttl: float = TRANSFER_URL_TTL,
    ) -> None:
        self._files = files
        self._tokens = tokens
        self._base_url = base_url
        self._ttl = ttl

    async def download(self, file_name: str, now: float) -> tuple[str, int] | None:
        base = self._base_url()
        try:
            stored = await self._files.get(file_name)
        except InvalidFileName:
            return None
        if base is None or stored is None:
            return None
        url = file_url(base, file_name, self._tokens, now=now, ttl=self._ttl, scope="get")
        return url, stored.size

    def upload(self, file_name: str, now: float) -> str | None:
        base = self._base_url()
        if base is None:
            return None
        try:
            return file_url(base, file_name, self._tokens, now=now, ttl=self._ttl, scope="put")
        except InvalidFileName:
            return None


class PublicUrl:
    """The ACS's URL as CPEs reach it; set once known (``--public-url``, or the CWMP
    listening address once the server listens). Callable: a ``base_url`` provider."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url

    def __call__(self) -> str | None:
        return self.url
