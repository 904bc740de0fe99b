"""What every operator command prints: tables for people, JSON for scripts, exit codes.

One set of exit codes for the whole CLI, so a script can tell "not there" from "you
called me wrong" from "the database is down" without parsing text:

=====  ==========================================================
0      success
1      the operation failed
2      usage error or bad input (the file, an option value); nothing changed
3      the store is unavailable (cannot reach or open the database)
4      not found (no such device, profile, token or trace)
=====  ==========================================================

Errors go to stderr as ``traceacs <command>: <message>``; stdout carries only the
result, so ``--json`` output can be piped straight into ``jq``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TextIO

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_STORE_UNAVAILABLE: Final = 3
EXIT_NOT_FOUND: Final = 4

EXIT_CODES_HELP: Final = """exit codes:
  0  ok
  1  the operation failed
  2  usage error or bad input (nothing was changed)
  3  store unavailable (cannot reach or open the database)
  4  not found (no such device, profile, token or trace)"""


MASK: Final = "********"


class CommandError(Exception):
    """A command cannot go on: ``message`` for stderr, ``code`` for the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def error(prog: str, message: str, stream: TextIO | None = None) -> None:
    """Print ``traceacs <command>: message`` on stderr."""
    print(f"{prog}: {message}", file=stream or sys.stderr)


def print_json(value: Any, stream: TextIO | None = None) -> None:
    """Indented, key-sorted JSON: stable output for diffs and scripts."""
    print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False), file=stream)


def format_time(epoch: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC (``2024-05-01T12:00:00Z``); ``None`` stays ``None``."""
    if epoch is None:
        return None
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def show(value: object) -> str:
    """A cell or field for people: ``-`` for missing values."""
    if value is None or value == "":
        return "-"
    return str(value)


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], stream: TextIO | None = None
) -> None:
    """Left-aligned columns sized to their widest cell; the last column is not padded."""
    cells = [[show(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(values: Sequence[str]) -> str:
        padded = [v.ljust(w) for v, w in zip(values[:-1], widths[:-1], strict=True)]
        return "  ".join([*padded, values[-1]]).rstrip()

    print(line(list(headers)), file=stream)
    for row in cells:
        print(line(row), file=stream)


def print_fields(
    fields: Sequence[tuple[str, object]], stream: TextIO | None = None, indent: str = ""
) -> None:
    """``label: value`` lines with the values aligned."""
    width = max((len(label) for label, _ in fields), default=0)
    for label, value in fields:
        print(f"{indent}{(label + ':').ljust(width + 1)} {show(value)}", file=stream)


def drop_none(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


class Progress:
    """A one-line ``\\r`` progress bar on stderr, shown only on a terminal.

    Quiet when stderr is not a TTY (logs, pipes, tests), when the command prints JSON
    (``enabled=False``: a script is reading), or when there is too little work to be
    worth it; redraws at most once per percent so a big file stays cheap.
    """

    WIDTH: Final = 28

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        threshold: int = 2000,
        enabled: bool = True,
    ) -> None:
        self.label = label
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.enabled = enabled and is_terminal(self.stream) and total >= threshold
        self._step = max(self.total // 100, 1)
        self._last = -1
        self._drawn = False

    def update(self, done: int, detail: str = "") -> None:
        """Redraw at ``done`` of the total; ``detail`` (short) follows the bar."""
        if not self.enabled or (done // self._step == self._last and done < self.total):
            return
        self._last = done // self._step
        done = min(done, self.total)
        filled = done * self.WIDTH // self.total
        bar = "#" * filled + "." * (self.WIDTH - filled)
        percent = done * 100 // self.total
        tail = f" {detail}" if detail else ""
        self.stream.write(f"\r\x1b[K{self.label} [{bar}] {done}/{self.total} {percent:3d}%{tail}")
        self.stream.flush()
        self._drawn = True

    def message(self, text: str) -> None:
        """Replace the line with ``text`` (e.g. "writing 50000 devices...")."""
        if not self.enabled:
            return
        self.stream.write(f"\r\x1b[K{text}")
        self.stream.flush()
        self._drawn = True

    def done(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False


def is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
