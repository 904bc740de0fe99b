"""The log of ``traceacs serve``: one line per CWMP session, written in batches.

The CWMP endpoint logs one INFO line per session. With `logging.StreamHandler` each
line costs a ``write`` and a ``flush`` system call on the event loop (~6-7 % of a
quiet periodic session's CPU in the benchmarks). `BatchingStreamHandler` formats each
record at once (same text, same order) but writes INFO and DEBUG lines in batches:
when ``max_bytes`` are waiting, or ``interval`` seconds after the first waiting line
(a daemon thread), whichever comes first. A WARNING or worse is written at once,
together with the lines before it, so problems are never late. Everything waiting
is written by `flush` / `close`, which `logging.shutdown` calls at interpreter exit:
a clean stop (SIGTERM, SIGINT, an error that ends ``serve``) loses nothing. A process
killed outright (SIGKILL, OOM killer, power loss) loses at most the INFO/DEBUG lines
of the last ``interval`` seconds (``DEFAULT_INTERVAL``: 0.25 s) or ``max_bytes``.

`CachedTimeFormatter` gives the same ``asctime`` text as `logging.Formatter` but
formats the date and time once per second instead of once per line, and builds a
``LOG_FORMAT`` line without `logging.Formatter`'s generic steps (same text).

`configure_serve_logging` also turns off what `logging` gathers for every record but
``LOG_FORMAT`` never prints: the caller's file, line and function (a walk up the
stack per line), the thread, process and multiprocessing names (the Logging HOWTO's
"Optimization" settings). ``serve`` installs no other handler; a format that prints
them would show "(unknown file)", 0 and None.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Final, TextIO

LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DEFAULT_INTERVAL: Final = 0.25
"""Seconds an INFO line may wait before it is written (what a SIGKILL can lose)."""
DEFAULT_MAX_BYTES: Final = 64 * 1024
"""Waiting text that is written at once, whatever the interval."""


class CachedTimeFormatter(logging.Formatter):
    """`logging.Formatter` (no ``datefmt``) with the date/time text reused within a second.

    ``time.strftime`` of ``time.localtime`` per line is a good part of what formatting
    a short line costs; the text only changes once a second (``,mmm`` is added per line).
    """

    def __init__(self, fmt: str | None = LOG_FORMAT) -> None:
        super().__init__(fmt)
        self._second = -1
        self._text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:  # called under the handler's lock: no race
            self._text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return f"{self._text},{int(record.msecs):03d}"  # default_msec_format "%s,%03d"

    def format(self, record: logging.LogRecord) -> str:
        """`logging.Formatter.format`; a plain ``LOG_FORMAT`` line built directly."""
        if (
            self._fmt != LOG_FORMAT
            or self.datefmt is not None
            or record.exc_info
            or record.exc_text
            or record.stack_info
        ):
            return super().format(record)
        record.message = record.getMessage()
        record.asctime = asctime = self.formatTime(record)
        # What "%(asctime)s %(levelname)s %(name)s: %(message)s" % record.__dict__ gives.
        return f"{asctime} {record.levelname} {record.name}: {record.message}"


class BatchingStreamHandler(logging.StreamHandler[TextIO]):
    """A `logging.StreamHandler` that writes lines below ``immediate_level`` in batches.

    ``interval=None``: no timer thread; lines wait for ``max_bytes``, a line at
    ``immediate_level`` or above, `flush` or `close`.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval: float | None = DEFAULT_INTERVAL,
        max_bytes: int = DEFAULT_MAX_BYTES,
        immediate_level: int = logging.WARNING,
    ) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.max_bytes = max_bytes
        self.immediate_level = immediate_level
        self.interval = interval
        self._waiting: list[str] = []
        self._waiting_bytes = 0
        self._first_waiting = threading.Event()
        self._stopping = threading.Event()
        self._timer: threading.Thread | None = None
        if interval is not None:
            self._timer = threading.Thread(
                target=self._flush_periodically, name="log-flush", daemon=True
            )
            self._timer.start()

    @property
    def waiting(self) -> int:
        """Lines formatted but not written yet."""
        return len(self._waiting)

    def emit(self, record: logging.LogRecord) -> None:
        # Called by `Handler.handle` with this handler's lock held.
        try:
            line = self.format(record) + self.terminator
        except Exception:  # logging's contract: report, never raise into the caller
            self.handleError(record)
            return
        self._waiting.append(line)
        self._waiting_bytes += len(line)
        if record.levelno >= self.immediate_level or self._waiting_bytes >= self.max_bytes:
            self._write_waiting(record)
        elif len(self._waiting) == 1:
            self._first_waiting.set()

    def flush(self) -> None:
        """Write every waiting line, then flush the stream."""
        with self.lock:  # type: ignore[union-attr] # created by Handler.__init__
            self._write_waiting(None)

    def close(self) -> None:
        """Write what waits and let the timer thread end (the stream is not closed).

        The thread is not joined: `logging.shutdown` calls this with the handler's lock
        held, which the thread may be waiting for; it ends by itself once woken.
        """
        self.flush()
        self._stopping.set()
        self._first_waiting.set()
        super().close()

    def _write_waiting(self, record: logging.LogRecord | None) -> None:
        """Write and flush the waiting lines; the caller holds the lock."""
        if not self._waiting:
            return
        text = "".join(self._waiting)
        self._waiting.clear()
        self._waiting_bytes = 0
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:
            if record is not None:
                self.handleError(record)
            # else: a failing stream at flush time has nobody to tell; the lines are lost
            # as StreamHandler would lose them.

    def _flush_periodically(self) -> None:
        interval = self.interval
        assert interval is not None
        while True:
            self._first_waiting.wait()
            # Cleared before the write: a line arriving after it sets the event again.
            self._first_waiting.clear()
            if self._stopping.wait(interval):
                return  # close() wrote what waited
            self.flush()


def configure_serve_logging(
    stream: TextIO | None = None,
    *,
    level: int = logging.INFO,
    interval: float | None = DEFAULT_INTERVAL,
) -> BatchingStreamHandler:
    """The root logger of ``traceacs serve``: ``LOG_FORMAT`` lines to ``stream``
    (stderr), INFO and above, batched (`BatchingStreamHandler`). Replaces handlers the
    root logger had, as ``logging.basicConfig(force=True)`` would."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    handler = BatchingStreamHandler(stream, interval=interval)
    handler.setFormatter(CachedTimeFormatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    skip_unprinted_record_fields()
    return handler


def skip_unprinted_record_fields() -> None:
    """Stop `logging` gathering per record what ``LOG_FORMAT`` does not print.

    The caller lookup (``findCaller``: a stack walk per line; the record then holds
    "(unknown file)", line 0, "(unknown function)", and ``stack_info=True`` is
    ignored), and the thread, process and multiprocessing names. Process-wide: only
    ``serve`` (one process, one handler, this format) calls it.
    """
    logging._srcfile = None  # the Logging HOWTO's documented switch
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
