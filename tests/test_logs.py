"""The batched log of ``traceacs serve`` (`traceacs.logs`)."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from traceacs.logs import (
    LOG_FORMAT,
    BatchingStreamHandler,
    CachedTimeFormatter,
    configure_serve_logging,
)


class RecordingStream(io.StringIO):
    """A stream that counts write calls and signals each one."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.written = threading.Event()

    def write(self, text: str) -> int:
        self.writes += 1
        count = super().write(text)
        self.written.set()
        return count


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("traceacs.test_logs")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def attach(
    logger: logging.Logger, stream: io.StringIO, **options: float | int | None
) -> BatchingStreamHandler:
    handler = BatchingStreamHandler(stream, **options)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    return handler


def test_info_lines_wait_and_flush_writes_them_in_one_write(logger: logging.Logger) -> None:
    stream = RecordingStream()
    handler = attach(logger, stream, interval=None)
    for n in range(3):
        logger.info("cwmp session %d result=completed", n)
    assert stream.getvalue() == ""
    assert handler.waiting == 3
    handler.flush()
    assert stream.getvalue() == (
        "INFO cwmp session 0 result=completed\n"
        "INFO cwmp session 1 result=completed\n"
        "INFO cwmp session 2 result=completed\n"
    )
    assert stream.writes == 1


def test_a_warning_is_written_at_once_after_the_lines_before_it(logger: logging.Logger) -> None:
    stream = RecordingStream()
    attach(logger, stream, interval=None)
    logger.info("first")
    logger.warning("store unavailable")
    assert stream.getvalue() == "INFO first\nWARNING store unavailable\n"
    logger.error("handler failed")
    assert stream.getvalue().endswith("ERROR handler failed\n")


def test_lines_are_written_once_max_bytes_wait(logger: logging.Logger) -> None:
    stream = RecordingStream()
    handler = attach(logger, stream, interval=None, max_bytes=100)
    line = "x" * 40  # "INFO " + 40 + newline = 46 bytes
    logger.info(line)
    logger.info(line)
    assert stream.getvalue() == ""
    logger.info(line)
    assert stream.getvalue() == f"INFO {line}\n" * 3
    assert handler.waiting == 0


def test_close_writes_what_waits(logger: logging.Logger) -> None:
    stream = RecordingStream()
    handler = attach(logger, stream)
    logger.info("last words")
    logger.removeHandler(handler)
    handler.close()
    assert stream.getvalue() == "INFO last words\n"


def test_the_timer_writes_a_waiting_line_without_any_further_logging(
    logger: logging.Logger,
) -> None:
    stream = RecordingStream()
    attach(logger, stream, interval=0.01)
    logger.info("quiet server")
    assert stream.written.wait(timeout=10)
    assert stream.getvalue() == "INFO quiet server\n"


def test_a_clean_exit_writes_every_line() -> None:
    """``logging.shutdown`` at interpreter exit flushes the handler: nothing is lost
    on a clean stop, however recent the lines."""
    program = (
        "import logging, sys\n"
        "from traceacs.logs import configure_serve_logging\n"
        "configure_serve_logging(sys.stdout, interval=3600)\n"
        "log = logging.getLogger('traceacs.server.cwmp')\n"
        "for n in range(500):\n"
        "    log.info('cwmp session %d result=completed', n)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    lines = out.splitlines()
    assert len(lines) == 500
    assert lines[-1].endswith("INFO traceacs.server.cwmp: cwmp session 499 result=completed")


def test_cached_time_formatter_matches_logging_formatter() -> None:
    plain = logging.Formatter(LOG_FORMAT)
    cached = CachedTimeFormatter(LOG_FORMAT)
    for created in (1_764_120_000.0, 1_764_120_000.5, 1_764_120_000.999, 1_764_120_001.25):
        record = logging.LogRecord("traceacs", logging.INFO, __file__, 1, "m %s", ("x",), None)
        record.created = created
        record.msecs = (created - int(created)) * 1000
        assert cached.format(record) == plain.format(record)


@pytest.fixture
def restored_logging_switches() -> Iterator[None]:
    """`configure_serve_logging` sets process-wide `logging` switches and replaces the
    root logger's handlers: put both back."""
    saved = (
        logging._srcfile,
        logging.logThreads,
        logging.logProcesses,
        logging.logMultiprocessing,
    )
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    (
        logging._srcfile,
        logging.logThreads,
        logging.logProcesses,
        logging.logMultiprocessing,
    ) = saved
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def _records() -> Iterator[logging.LogRecord]:
    """Records of every shape the serve log sees (a fresh set per call: formatting
    caches ``exc_text`` on the record)."""
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    shapes: list[tuple[int, str, Any, Any, str | None]] = [
        (
            logging.INFO,
            "cwmp session %s device=%s duration_ms=%.0f acs_rpcs=%d",
            ("ab12", "00D09E-SN1", 12.6, 3),
            None,
            None,
        ),
        (logging.WARNING, "100% plain, no arguments", None, None, None),
        (logging.INFO, "%(who)s by mapping", ({"who": "dict"},), None, None),
        (logging.ERROR, "handler failed: %s", ("ValueError",), exc_info, None),
        (logging.INFO, "with a stack", None, None, "Stack (most recent call last):\n  here"),
        (logging.DEBUG, "non-str message %r", ([1, "x"],), None, None),
    ]
    for level, msg, args, exc, stack in shapes:
        record = logging.LogRecord("traceacs.server.cwmp", level, __file__, 7, msg, args, exc)
        record.stack_info = stack
        record.created = 1_764_120_000.25
        record.msecs = 250.0
        yield record
    yield logging.LogRecord("asyncio", logging.ERROR, __file__, 1, 42, None, None)


def test_cached_time_formatter_lines_equal_logging_formatter_lines() -> None:
    """The direct ``LOG_FORMAT`` line, and the fallback to `logging.Formatter` for
    exceptions and stacks, give `logging.Formatter`'s exact text."""
    cached = CachedTimeFormatter(LOG_FORMAT)
    plain = logging.Formatter(LOG_FORMAT)
    for mine, reference in zip(_records(), _records(), strict=True):
        assert cached.format(mine) == plain.format(reference)
        assert mine.message == reference.message
        assert mine.asctime == reference.asctime
    other = CachedTimeFormatter("%(levelname)s|%(message)s")
    record = next(_records())
    assert other.format(record) == "INFO|" + record.getMessage()


def test_the_session_line_text_is_unchanged_by_the_serve_switches(
    restored_logging_switches: None,
) -> None:
    """The endpoint's session line, as ``serve`` writes it, with its caller lookup and
    thread/process names turned off: exactly the text `logging`'s defaults give."""
    log = logging.getLogger("traceacs.server.cwmp")
    args = ("0123456789abcdef", "00D09E-SN1", "2 PERIODIC", "completed", 12.4, 0, 0)
    message = (
        "cwmp session %s device=%s events=%s result=%s duration_ms=%.0f cpe_requests=%d acs_rpcs=%d"
    )
    stream = io.StringIO()
    seen: list[logging.LogRecord] = []
    handler = configure_serve_logging(stream, interval=None)

    def keep(record: logging.LogRecord) -> bool:
        seen.append(record)
        return True

    handler.addFilter(keep)
    log.info(message, *args)
    handler.flush()
    (record,) = seen
    reference = logging.LogRecord(log.name, logging.INFO, __file__, 1, message, args, None)
    reference.created, reference.msecs = record.created, record.msecs
    expected = logging.Formatter(LOG_FORMAT).format(reference)
    assert expected.endswith(
        " INFO traceacs.server.cwmp: cwmp session 0123456789abcdef device=00D09E-SN1 "
        "events=2 PERIODIC result=completed duration_ms=12 cpe_requests=0 acs_rpcs=0"
    )
    assert stream.getvalue() == expected + "\n"


def test_configure_serve_logging_replaces_root_handlers(restored_logging_switches: None) -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = configure_serve_logging(stream, interval=None)
    assert root.handlers == [handler]
    logging.getLogger("traceacs.server.cwmp").info("cwmp session abc result=completed")
    logging.getLogger("traceacs.server.cwmp").debug("not at INFO")
    handler.flush()
    assert (
        stream.getvalue()
        .rstrip("\n")
        .endswith(" INFO traceacs.server.cwmp: cwmp session abc result=completed")
    )
    assert "not at INFO" not in stream.getvalue()
