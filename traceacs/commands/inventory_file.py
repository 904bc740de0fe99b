"""Reading an inventory file (CSV or JSON) into `InventoryEntry` values, or every reason why not.

The whole file is checked before anything is written, and every problem is reported at
once with where it is (``line 4`` of a CSV, ``[3]`` of a JSON list) and which field, so
one round trip fixes the file. Values are never quoted back: a column may hold a
connection-request password, and a mistyped column shifts secrets into other fields.
The serial number of a row may appear, since operators search by it.

Unknown columns are refused rather than ignored: ``conection_request_password`` would
otherwise silently drop a credential. Pure functions, no I/O beyond reading the file,
so the REST API's upload can share them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from traceacs.provisioning.device import InventoryEntry

REQUIRED_COLUMNS: Final = (
    "serial_number",
    "oui",
    "product_class",
    "customer_id",
    "service_plan",
    "location_id",
)
OPTIONAL_COLUMNS: Final = ("mac", "connection_request_username", "connection_request_password")
ALL_COLUMNS: Final = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
MAX_PROBLEMS: Final = 100  # beyond this, a file is simply the wrong file

InventoryFormat = Literal["csv", "json"]
RowCallback = Callable[[int], None]

_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-]?)[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One thing wrong: ``where`` (``line 4`` / ``[3]`` / ``header``), the field, what."""

    where: str
    field: str | None
    message: str

    def __str__(self) -> str:
        field = f" {self.field}" if self.field else ""
        return f"{self.where}:{field} {self.message}"


class InventoryFileError(ValueError):
    """The file cannot be imported; ``problems`` lists every reason (secret-free)."""

    def __init__(self, source: str, problems: list[RowProblem], truncated: bool = False) -> None:
        self.source = source
        self.problems: tuple[RowProblem, ...] = tuple(problems)
        self.truncated = truncated
        count = f"{len(problems)}{'+' if truncated else ''}"
        super().__init__(f"{source}: {count} problem(s), nothing imported")


class _Collector:
    def __init__(self) -> None:
        self.problems: list[RowProblem] = []
        self.truncated = False

    def add(self, where: str, field: str | None, message: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.truncated = True
            return
        self.problems.append(RowProblem(where, field, message))


def detect_format(path: Path, text: str) -> InventoryFormat:
    """``.json`` / ``.csv`` by suffix; otherwise JSON when the text starts with ``[``."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".csv":
        return "csv"
    return "json" if text.lstrip().startswith("[") else "csv"


def _entry(values: Mapping[str, str | None], where: str, out: _Collector) -> InventoryEntry:
    def text(name: str) -> str:
        return (values.get(name) or "").strip()

    def optional(name: str) -> str | None:
        return text(name) or None

    entry = InventoryEntry(
        serial_number=text("serial_number"),
        oui=text("oui").upper(),
        product_class=text("product_class"),
        customer_id=text("customer_id"),
        service_plan=text("service_plan"),
        location_id=text("location_id"),
        mac=optional("mac"),
        connection_request_username=optional("connection_request_username"),
        connection_request_password=optional("connection_request_password"),
    )
    for problem in entry.problems():
        # The repository's own checks, phrased "<field> is empty" / "<field> must ...".
        field, _, message = problem.partition(" ")
        out.add(where, field, message)
    if entry.mac is not None and not _MAC.match(entry.mac):
        out.add(where, "mac", "must be a MAC address such as 00:11:22:33:44:55")
    return entry


def _check_duplicates(entries: list[tuple[str, InventoryEntry]], out: _Collector) -> None:
    seen: dict[tuple[str, str], str] = {}
    for where, entry in entries:
        if not entry.serial_number or not entry.oui:
            continue
        key = (entry.oui, entry.serial_number)
        if key in seen:
            out.add(
                where,
                "serial_number",
                f"repeats device {entry.oui}/{entry.serial_number} of {seen[key]}",
            )
        else:
            seen[key] = where


def parse_csv(
    text: str, out: _Collector, on_row: RowCallback | None
) -> list[tuple[str, InventoryEntry]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        out.add("header", None, "the file is empty (expected a header line)")
        return []
    except csv.Error as exc:
        out.add("line 1", None, f"unreadable CSV ({exc})")
        return []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in ALL_COLUMNS]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if missing:
        out.add("header", None, f"missing column(s): {', '.join(missing)}")
    if unknown:
        out.add("header", None, f"unknown column(s): {', '.join(unknown)}")
    if repeated:
        out.add("header", None, f"repeated column(s): {', '.join(repeated)}")
    if out.problems:
        return []
    entries: list[tuple[str, InventoryEntry]] = []
    try:
        for count, row in enumerate(reader, start=1):
            if on_row is not None:
                on_row(count)
            if not any(cell.strip() for cell in row):
                continue  # blank line
            where = f"line {reader.line_num}"
            if len(row) != len(header):
                out.add(where, None, f"has {len(row)} fields, the header has {len(header)}")
                continue
            entries.append((where, _entry(dict(zip(header, row, strict=True)), where, out)))
    except csv.Error as exc:
        out.add(f"line {reader.line_num}", None, f"unreadable CSV ({exc})")
    return entries


def parse_json(
    text: str, out: _Collector, on_row: RowCallback | None
) -> list[tuple[str, InventoryEntry]]:
    try:
        content = json.loads(text)
    except json.JSONDecodeError as exc:
        out.add(f"line {exc.lineno}", None, f"invalid JSON at column {exc.colno}: {exc.msg}")
        return []
    if isinstance(content, Mapping) and isinstance(content.get("devices"), list):
        content = content["devices"]
    if not isinstance(content, list):
        out.add("top level", None, 'expected a list of devices (or {"devices": [...]})')
        return []
    entries: list[tuple[str, InventoryEntry]] = []
    for index, item in enumerate(content):
        if on_row is not None:
            on_row(index + 1)
        where = f"[{index}]"
        if not isinstance(item, Mapping):
            out.add(where, None, "must be an object")
            continue
        values: dict[str, str | None] = {}
        bad = False
        for key, value in item.items():
            if key not in ALL_COLUMNS:
                out.add(where, str(key), "is not a known field")
                bad = True
            elif value is None or isinstance(value, str):
                values[key] = value
            elif isinstance(value, int) and not isinstance(value, bool):
                values[key] = str(value)
            else:
                out.add(where, key, "must be a string")
                bad = True
        for name in REQUIRED_COLUMNS:
            if name not in item:
                out.add(where, name, "is missing")
                bad = True
        if not bad:
            entries.append((where, _entry(values, where, out)))
    return entries


def parse_inventory(
    text: str,
    fmt: InventoryFormat,
    *,
    source: str = "<inventory>",
    on_row: RowCallback | None = None,
) -> list[InventoryEntry]:
    """Every entry of the file, or `InventoryFileError` listing every problem.

    ``on_row(n)`` is called as rows are read (for a progress display).
    """
    out = _Collector()
    parse = parse_json if fmt == "json" else parse_csv
    entries = parse(text.removeprefix("\ufeff"), out, on_row)
    _check_duplicates(entries, out)
    if not entries and not out.problems:
        out.add("file", None, "holds no devices")
    if out.problems:
        raise InventoryFileError(source, out.problems, out.truncated)
    return [entry for _, entry in entries]


def read_inventory_text(path: Path) -> str:
    """The file's text; `InventoryFileError` when it cannot be read as UTF-8."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InventoryFileError(
            str(path), [RowProblem("file", None, "is not UTF-8 text")]
        ) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InventoryFileError(
            str(path), [RowProblem("file", None, f"cannot be read: {reason}")]
        ) from None
