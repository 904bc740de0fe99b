"""Shared helpers: run ``traceacs`` in-process against a SQLite store in ``tmp_path``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from traceacs.cli import main
from traceacs.config import default_database_url
from traceacs.storage import SqlDeviceRepository, open_repository
from traceacs.storage.secret_key import load_secret_box

T = TypeVar("T")

INVENTORY_HEADER = (
    "serial_number,oui,product_class,customer_id,service_plan,location_id,mac,"
    "connection_request_username,connection_request_password"
)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


class Cli:
    """``cli("devices", "list")`` runs ``traceacs devices list --data-dir <tmp>``."""

    def __init__(self, capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
        self.capsys = capsys
        self.data_dir = data_dir

    @property
    def url(self) -> str:
        return default_database_url(self.data_dir)

    def __call__(self, *argv: str) -> Result:
        self.capsys.readouterr()  # drop anything printed before
        code = main([*argv, "--data-dir", str(self.data_dir)])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def with_repository(self, work: Callable[[SqlDeviceRepository], Awaitable[T]]) -> T:
        """Run ``work`` on the same store through the repository API (for set-up/checks)."""

        async def run() -> T:
            # The key ring the commands use: the data directory's secret.key.
            secrets = load_secret_box(self.data_dir)
            repository = await open_repository(self.url, secrets=secrets)
            try:
                return await work(repository)
            finally:
                await repository.close()

        return asyncio.run(run())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], data_dir: Path) -> Cli:
    return Cli(capsys, data_dir)


def write_csv(path: Path, *rows: str, header: str = INVENTORY_HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def device_row(serial: str, **overrides: Any) -> str:
    values = {
        "serial_number": serial,
        "oui": "00D09E",
        "product_class": "TraceGW",
        "customer_id": f"C-{serial}",
        "service_plan": "gold",
        "location_id": "LOC1",
        "mac": "",
        "connection_request_username": "",
        "connection_request_password": "",
    }
    values.update(overrides)
    return ",".join(str(values[c]) for c in INVENTORY_HEADER.split(","))
