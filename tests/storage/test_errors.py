"""A dead or wrong database gives `StorageUnavailable`, and never shows its password."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import traceback
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from traceacs.provisioning.device import InformFacts, InventoryEntry
from traceacs.provisioning.repository import StorageUnavailable
from traceacs.storage import open_repository
from traceacs.storage.url import parse_location, redact_url

SECRET = "Pa55-w0rd-XYZZY"


def assert_no_secret(exc: BaseException, secret: str = SECRET) -> None:
    shown = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
    assert secret not in shown
    cause: BaseException | None = exc
    while cause is not None:  # nothing chained may carry it either
        assert secret not in str(cause)
        cause = cause.__cause__ or cause.__context__


def with_password(url: str, port: int | None = None, database: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{SECRET}@{parts.hostname}:{port or parts.port}"
    return urlunsplit((parts.scheme, netloc, f"/{database}" if database else parts.path, "", ""))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class TcpProxy:
    """A relay to the PostgreSQL server that the test can pull the plug on."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        dst.close()

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


async def test_postgres_dying_under_a_repository(pg_database: str) -> None:
    proxy = TcpProxy(urlsplit(pg_database).port or 5432)
    await proxy.start()
    repo = await open_repository(with_password(pg_database, port=proxy.port))
    try:
        await repo.import_devices([InventoryEntry("SN1", "00D09E", "P", "c", "p", "l")], 1.0)
        assert await repo.get_device("00D09E", "SN1") is not None
        await proxy.stop()
        with pytest.raises(StorageUnavailable) as caught:
            await repo.get_device("00D09E", "SN1")
        assert "***" in str(caught.value)
        assert_no_secret(caught.value)
        # Reconnecting fails too (the port is closed now): still the same clean error.
        with pytest.raises(StorageUnavailable) as again:
            await repo.record_inform("00D09E", "SN1", 2.0, InformFacts())
        assert_no_secret(again.value)
    finally:
        await repo.close()


async def test_postgres_unreachable_at_open() -> None:
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:{free_port()}/traceacs"
    with pytest.raises(StorageUnavailable) as caught:
        await open_repository(url)
    assert "postgres:***@127.0.0.1" in str(caught.value)
    assert_no_secret(caught.value)


async def test_postgres_missing_database(pg_database: str) -> None:
    url = with_password(pg_database, database="traceacs_no_such_db_4711")
    with pytest.raises(StorageUnavailable, match="traceacs_no_such_db_4711") as caught:
        await open_repository(url)
    assert_no_secret(caught.value)


async def test_url_encoded_password_is_scrubbed_in_both_forms() -> None:
    location = parse_location("postgresql://u:p%40ss%3Aword@127.0.0.1:1/db")
    text = "failed for postgresql://u:p%40ss%3Aword@127.0.0.1:1/db with p@ss:word"
    scrubbed = location.scrub(text)
    assert "p%40ss" not in scrubbed
    assert "p@ss:word" not in scrubbed
    assert "postgresql://u:***@127.0.0.1:1/db" in scrubbed
    url = f"postgresql://u:p%40ss%3Aword@127.0.0.1:{free_port()}/db"
    with pytest.raises(StorageUnavailable) as caught:
        await open_repository(url)  # (the traceback shows this line: keep the URL out)
    assert_no_secret(caught.value, "p%40ss")
    assert_no_secret(caught.value, "p@ss:word")


async def test_sqlite_file_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StorageUnavailable, match="not-a-dir"):
        await open_repository(f"sqlite://{blocker}/inventory.db")


async def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not SQLite at all" * 100)
    with pytest.raises(StorageUnavailable, match=r"garbage\.db"):
        await open_repository(str(garbage))


async def test_closed_repository_is_unavailable(store_url: str) -> None:
    repo = await open_repository(store_url)
    await repo.close()
    with pytest.raises(StorageUnavailable):
        await repo.get_device("00D09E", "SN1")


@pytest.mark.parametrize(
    ("url", "engine", "target"),
    [
        ("sqlite:///var/lib/traceacs/db.sqlite", "sqlite", "/var/lib/traceacs/db.sqlite"),
        ("sqlite:data/db.sqlite", "sqlite", "data/db.sqlite"),
        ("traceacs-data/traceacs.db", "sqlite", "traceacs-data/traceacs.db"),
        ("/abs/file.db", "sqlite", "/abs/file.db"),
        ("postgresql://u@h/db", "postgresql", "postgresql://u@h/db"),
        ("postgres://u@h/db", "postgresql", "postgres://u@h/db"),
    ],
)
def test_parse_location(url: str, engine: str, target: str) -> None:
    location = parse_location(url)
    assert (location.engine, location.target) == (engine, target)


def test_parse_location_refuses_unknown_schemes() -> None:
    with pytest.raises(ValueError, match="mysql"):
        parse_location("mysql://u:pw@h/db")
    with pytest.raises(ValueError, match="path"):
        parse_location("sqlite://")


def test_redact_url() -> None:
    assert redact_url("postgresql://u:pw@h:5433/db?x=1") == "postgresql://u:***@h:5433/db?x=1"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact_url("postgresql://u:pw@[::1]:5432/db") == "postgresql://u:***@[::1]:5432/db"


async def test_transaction_on_a_connection_that_died_after_acquire(pg_database: str) -> None:
    """The pool can hand out a connection the server closes a moment later; asyncpg then
    refuses to even create the transaction object. That is "unavailable" (the CPE is
    told to retry), not an unexpected driver error (a CWMP internal error)."""
    import asyncpg

    from traceacs.storage.postgres import _Guard, _PgTransaction
    from traceacs.storage.url import parse_location

    conn = await asyncpg.connect(pg_database)
    await conn.close()
    with pytest.raises(StorageUnavailable, match="connection is closed"):
        async with _PgTransaction(conn, _Guard(parse_location(pg_database))):
            pass
