"""Settings, read once at start-up from command-line options and the environment.

Every option has an environment variable (``TRACEACS_*``); a command-line flag wins
over the variable, which wins over the embedded default. The result is a frozen
`Settings` value handed to `traceacs.app`; nothing else reads the environment.

The CPE shared secret is read from ``TRACEACS_CPE_SHARED_SECRET`` only, and the key
that seals stored secrets from ``TRACEACS_SECRET_KEY`` only: a command-line flag would
show them to every user of ``ps``.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from traceacs.server.cpe_auth import AuthMode

DEFAULT_CWMP_PORT: Final = 7547
DEFAULT_API_PORT: Final = 7557
DEFAULT_FILES_PORT: Final = 7567
DEFAULT_BIND: Final = "127.0.0.1"
DEFAULT_DATA_DIR: Final = "traceacs-data"
DEFAULT_SESSION_TIMEOUT: Final = 30.0
DEFAULT_MAX_SESSIONS: Final = 10_000
DEFAULT_ABANDONED_AFTER: Final = 10.0
DEFAULT_RETRY_AFTER_MIN: Final = 5
DEFAULT_RETRY_AFTER_MAX: Final = 300
DATABASE_FILE: Final = "traceacs.db"
AUTH_MODES: Final[tuple[AuthMode, ...]] = ("basic", "digest", "both")
SESSION_STORES: Final = ("memory", "database")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class SettingsError(ValueError):
    """An option or environment variable with an unusable value."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything `traceacs serve` (and the store-using commands) need to know."""

    cwmp_port: int = DEFAULT_CWMP_PORT
    api_port: int = DEFAULT_API_PORT
    files_port: int = DEFAULT_FILES_PORT
    """Where CPEs fetch files (Downloads) and upload (Uploads), as GenieACS's 7567."""
    bind: str = DEFAULT_BIND
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str = ""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    cpe_auth: AuthMode = "both"
    cpe_shared_secret: str | None = field(default=None, repr=False)
    allow_unauthenticated_cpes: bool = False
    session_timeout: float = DEFAULT_SESSION_TIMEOUT
    max_sessions: int = DEFAULT_MAX_SESSIONS
    abandoned_after: float = DEFAULT_ABANDONED_AFTER
    """Seconds of silence after which a re-Informing CPE's old session is ended as
    ``abandoned`` and the new Inform admitted (a CPE that rebooted mid-session), even if
    the old connection still looks open; a closed connection needs no wait."""
    retry_after_min: int = DEFAULT_RETRY_AFTER_MIN
    retry_after_max: int = DEFAULT_RETRY_AFTER_MAX
    """Bounds (seconds) of the adaptive ``Retry-After`` of overload 503s
    (`traceacs.server.retry_after`): every appointment lies within them."""
    bss_url: str | None = None
    public_url: str | None = None
    stun_port: int = 0
    connection_request_rate: float = 50.0
    bss_token: str | None = field(default=None, repr=False)
    session_store: str = "memory"
    """``memory``: CWMP sessions live in this process (one ACS process, or a balancer
    with stickiness). ``database``: in the shared database, so any ACS process can
    continue any session (scale-out behind a plain balancer; see README)."""
    workers: int = 1
    worker_name: str = ""
    secret_key: str | None = field(default=None, repr=False)
    """Key ring sealing stored secrets (env ``TRACEACS_SECRET_KEY`` only); None: the
    data directory's ``secret.key`` file (`traceacs.storage.secret_key`)."""

    def __post_init__(self) -> None:
        if not self.database_url:
            object.__setattr__(self, "database_url", default_database_url(self.data_dir))
        if (self.tls_cert is None) != (self.tls_key is None):
            raise SettingsError("TLS needs both a certificate (--tls-cert) and a key (--tls-key)")
        if self.connection_request_rate <= 0:
            raise SettingsError("the connection request rate must be positive")
        for name in ("cwmp_port", "api_port", "files_port", "stun_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise SettingsError(f"{name} must be a TCP port (0-65535), not {port}")
        if self.session_timeout <= 0:
            raise SettingsError("session timeout must be positive")
        if self.max_sessions < 1:
            raise SettingsError("max sessions must be at least 1")
        if not (math.isfinite(self.abandoned_after) and self.abandoned_after > 0):
            raise SettingsError(
                f"abandoned-after must be a positive number of seconds, not {self.abandoned_after}"
            )
        if self.retry_after_min < 1:
            raise SettingsError(
                f"retry-after-min must be at least 1 second, not {self.retry_after_min}"
            )
        if self.retry_after_max < self.retry_after_min:
            raise SettingsError(
                f"retry-after-max ({self.retry_after_max} s) must not be below "
                f"retry-after-min ({self.retry_after_min} s)"
            )
        if self.session_store not in SESSION_STORES:
            raise SettingsError(f"session store must be one of {', '.join(SESSION_STORES)}")
        if self.workers < 1:
            raise SettingsError("workers must be at least 1")
        if self.workers > 1:
            if not self.database_url.startswith(("postgresql://", "postgres://")):
                raise SettingsError(
                    "--workers above 1 needs a shared PostgreSQL store "
                    "(--database-url postgresql://...); SQLite has one writer process"
                )
            if self.cwmp_port == 0 or self.api_port == 0 or self.files_port == 0:
                raise SettingsError(
                    "--workers needs fixed base ports: worker i listens on CWMP port "
                    "--cwmp-port + i, API port --api-port + i and file port --files-port + i"
                )
        if self.cpe_auth not in AUTH_MODES:
            raise SettingsError(f"CPE auth must be one of {', '.join(AUTH_MODES)}")

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


def default_database_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file under the data directory."""
    return f"sqlite:///{(data_dir / DATABASE_FILE).resolve()}"


# --------------------------------------------------------------------------- argparse


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` / ``--database-url``: every command that uses the store takes them."""
    parser.add_argument(
        "--data-dir",
        help=f"directory for the embedded store (env TRACEACS_DATA_DIR; ./{DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--database-url",
        help="sqlite:///path or postgresql://... (env TRACEACS_DATABASE_URL; "
        "default: SQLite file under the data dir)",
    )


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `traceacs serve` (each also an environment variable)."""
    add_store_arguments(parser)
    parser.add_argument(
        "--cwmp-port",
        type=int,
        help=f"CWMP port for CPEs (env TRACEACS_CWMP_PORT; {DEFAULT_CWMP_PORT})",
    )
    parser.add_argument(
        "--api-port",
        type=int,
        help=f"API and console port (env TRACEACS_API_PORT; {DEFAULT_API_PORT})",
    )
    parser.add_argument(
        "--files-port",
        type=int,
        help="port where CPEs download firmware and files and upload backups "
        f"(env TRACEACS_FILES_PORT; {DEFAULT_FILES_PORT})",
    )
    parser.add_argument("--bind", help=f"address to listen on (env TRACEACS_BIND; {DEFAULT_BIND})")
    parser.add_argument("--tls-cert", help="PEM certificate for HTTPS (env TRACEACS_TLS_CERT)")
    parser.add_argument("--tls-key", help="PEM private key for HTTPS (env TRACEACS_TLS_KEY)")
    parser.add_argument(
        "--cpe-auth",
        choices=AUTH_MODES,
        help="HTTP auth schemes CPEs may use (env TRACEACS_CPE_AUTH; both). "
        "The shared secret comes from env TRACEACS_CPE_SHARED_SECRET only.",
    )
    parser.add_argument(
        "--allow-unauthenticated-cpes",
        action="store_true",
        default=None,
        help="accept CPEs without credentials: labs and demos only "
        "(env TRACEACS_ALLOW_UNAUTHENTICATED_CPES)",
    )
    parser.add_argument(
        "--session-timeout",
        type=float,
        help=f"seconds of CPE silence that end a session (env TRACEACS_SESSION_TIMEOUT; "
        f"{DEFAULT_SESSION_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        help=f"concurrent CWMP sessions before answering 503 (env TRACEACS_MAX_SESSIONS; "
        f"{DEFAULT_MAX_SESSIONS})",
    )
    parser.add_argument(
        "--abandoned-after",
        type=float,
        help="seconds of silence after which a new Inform of a device in session ends that "
        "session as abandoned (the CPE rebooted mid-session) instead of getting fault 8005; "
        f"at most --session-timeout (env TRACEACS_ABANDONED_AFTER; {DEFAULT_ABANDONED_AFTER:g})",
    )
    parser.add_argument(
        "--retry-after-min",
        type=int,
        help="shortest Retry-After, in seconds, of the 503 answered beyond --max-sessions "
        f"(env TRACEACS_RETRY_AFTER_MIN; {DEFAULT_RETRY_AFTER_MIN})",
    )
    parser.add_argument(
        "--retry-after-max",
        type=int,
        help="longest Retry-After, in seconds, of the 503 answered beyond --max-sessions "
        f"(env TRACEACS_RETRY_AFTER_MAX; {DEFAULT_RETRY_AFTER_MAX})",
    )
    parser.add_argument(
        "--bss-url",
        help="base URL of the BSS/OSS service-profile API (env TRACEACS_BSS_URL); "
        "without it, profiles come from the embedded store (`traceacs profiles import`). "
        "A bearer token for it comes from env TRACEACS_BSS_TOKEN only.",
    )
    parser.add_argument(
        "--public-url",
        help="the ACS's URL as CPEs reach it, for firmware and config-file downloads "
        "(env TRACEACS_PUBLIC_URL; default: the CWMP listening address)",
    )
    parser.add_argument(
        "--stun-port",
        type=int,
        help="UDP port of the STUN listener for TR-111 UDP connection requests to CPEs "
        "behind NAT, usually 3478 (env TRACEACS_STUN_PORT; 0 = off, the default)",
    )
    parser.add_argument(
        "--connection-request-rate",
        type=float,
        help="connection requests per second at most, so bulk operations do not become "
        "a boot storm (env TRACEACS_CONNECTION_REQUEST_RATE; 50)",
    )
    parser.add_argument(
        "--session-store",
        choices=SESSION_STORES,
        help="where CWMP sessions live between POSTs: memory (this process) or database "
        "(shared, so several ACS processes behind a plain balancer continue each other's "
        "sessions) (env TRACEACS_SESSION_STORE; memory)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="run N ACS processes; worker i listens on --cwmp-port + i, --api-port + i and "
        "--files-port + i "
        "for a balancer in front (see deploy/nginx); needs --database-url postgresql://... "
        "and implies --session-store database (env TRACEACS_WORKERS; 1)",
    )
    parser.add_argument(
        "--worker-name",
        help="name of this ACS process, sent in the X-TraceACS-Worker response header "
        "(env TRACEACS_WORKER_NAME; set by --workers; default: none, no header)",
    )


# --------------------------------------------------------------------------- resolution


def _pick(args: argparse.Namespace, name: str, env: Mapping[str, str]) -> str | None:
    value = getattr(args, name, None)
    if value is not None:
        return str(value)
    raw = env.get(f"TRACEACS_{name.upper()}")
    return raw if raw not in (None, "") else None


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"{what} must be an integer, not {text!r}") from None


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{what} must be a number, not {text!r}") from None


def _bool(text: str, what: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(f"{what} must be true or false, not {text!r}")


def load_settings(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    """Build `Settings` from parsed options, falling back to ``env`` (default os.environ).

    Options a parser did not define (a command without ``--cwmp-port``) just take the
    environment or the default.
    """
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        return _pick(args, name, env)

    data_dir = Path(get("data_dir") or DEFAULT_DATA_DIR)
    cert, key = get("tls_cert"), get("tls_key")
    auth_text = get("cpe_auth") or "both"
    auth = next((mode for mode in AUTH_MODES if mode == auth_text), None)
    if auth is None:
        raise SettingsError(f"CPE auth must be one of {', '.join(AUTH_MODES)}, not {auth_text!r}")
    allow = get("allow_unauthenticated_cpes")
    timeout, max_sessions = get("session_timeout"), get("max_sessions")
    cwmp_port, api_port = get("cwmp_port"), get("api_port")
    files_port = get("files_port")
    session_timeout = _float(timeout, "session timeout") if timeout else DEFAULT_SESSION_TIMEOUT
    abandoned = get("abandoned_after")
    abandoned_after = _float(abandoned, "abandoned-after") if abandoned else DEFAULT_ABANDONED_AFTER
    if abandoned and abandoned_after > session_timeout:
        # Only when asked for: the default (10 s) stays valid under a shorter timeout.
        raise SettingsError(
            f"abandoned-after ({abandoned_after:g} s) must not exceed the session timeout "
            f"({session_timeout:g} s): a session silent that long has already timed out"
        )
    retry_min, retry_max = get("retry_after_min"), get("retry_after_max")
    return Settings(
        cwmp_port=_int(cwmp_port, "CWMP port") if cwmp_port else DEFAULT_CWMP_PORT,
        api_port=_int(api_port, "API port") if api_port else DEFAULT_API_PORT,
        files_port=_int(files_port, "file port") if files_port else DEFAULT_FILES_PORT,
        bind=get("bind") or DEFAULT_BIND,
        data_dir=data_dir,
        database_url=get("database_url") or "",
        tls_cert=Path(cert) if cert else None,
        tls_key=Path(key) if key else None,
        cpe_auth=auth,
        cpe_shared_secret=env.get("TRACEACS_CPE_SHARED_SECRET") or None,
        allow_unauthenticated_cpes=_bool(allow, "allow unauthenticated CPEs") if allow else False,
        session_timeout=session_timeout,
        max_sessions=_int(max_sessions, "max sessions") if max_sessions else DEFAULT_MAX_SESSIONS,
        abandoned_after=abandoned_after,
        retry_after_min=(
            _int(retry_min, "retry-after-min") if retry_min else DEFAULT_RETRY_AFTER_MIN
        ),
        retry_after_max=(
            _int(retry_max, "retry-after-max") if retry_max else DEFAULT_RETRY_AFTER_MAX
        ),
        bss_url=get("bss_url"),
        public_url=get("public_url"),
        stun_port=_int(stun, "STUN port") if (stun := get("stun_port")) else 0,
        connection_request_rate=(
            _float(rate, "connection request rate")
            if (rate := get("connection_request_rate"))
            else 50.0
        ),
        bss_token=env.get("TRACEACS_BSS_TOKEN") or None,
        session_store=get("session_store") or "memory",
        workers=_int(workers, "workers") if (workers := get("workers")) else 1,
        worker_name=get("worker_name") or "",
        secret_key=env.get("TRACEACS_SECRET_KEY") or None,
    )
