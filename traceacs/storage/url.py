"""Reading a database URL, and showing it without its password.

Accepted forms: ``postgresql://user:pass@host:port/db`` (or ``postgres://``),
``sqlite:///absolute/path.db``, ``sqlite:relative/path.db``, and a plain file path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

_MASK = "***"


@dataclass(frozen=True, slots=True)
class StoreLocation:
    engine: Literal["sqlite", "postgresql"]
    target: str  # the file path for SQLite, the full DSN for PostgreSQL
    secrets: tuple[str, ...] = ()  # strings that must never be shown (the password)

    def redacted(self) -> str:
        """The location as it may appear in logs and error messages."""
        if self.engine == "sqlite":
            return self.target
        return redact_url(self.target)

    def scrub(self, text: str) -> str:
        """``text`` with the URL and every secret of it masked."""
        text = text.replace(self.target, self.redacted())
        for secret in self.secrets:
            text = text.replace(secret, _MASK)
        return text


def parse_location(url: str) -> StoreLocation:
    """Decide the engine from the URL scheme; anything without a known scheme is a path."""
    lowered = url.lower()
    if lowered.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        secrets = tuple(s for s in {parts.password or "", unquote(parts.password or "")} if s)
        return StoreLocation("postgresql", url, secrets)
    if lowered.startswith("sqlite:"):
        rest = url[len("sqlite:") :]
        if rest.startswith("//"):
            rest = rest[2:]  # empty host: sqlite:///abs/path -> /abs/path
        if not rest:
            raise ValueError("a sqlite: URL needs a file path")
        return StoreLocation("sqlite", rest)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ValueError(f"unsupported database URL scheme {scheme!r} (use sqlite or postgresql)")
    return StoreLocation("sqlite", url)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if not parts.password:
            return url
        port = parts.port
    except ValueError:
        return "<unparseable database URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:{_MASK}@{host}"
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
