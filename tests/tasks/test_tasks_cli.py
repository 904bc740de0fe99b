"""``traceacs tasks add|list`` against a SQLite store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from traceacs.cli import main
from traceacs.provisioning.device import InventoryEntry
from traceacs.storage import open_repository


def _store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'acs.db'}"

    async def make() -> None:
        repo = await open_repository(url)
        await repo.import_devices([InventoryEntry("S1", "00D09E", "RG", "c", "p", "l")], 1.0)
        await repo.close()

    asyncio.run(make())
    return url


def test_add_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _store(tmp_path)
    args = ["--database-url", url]
    assert (
        main(["tasks", "add", "S1", "scheduleInform", "--arg", "delaySeconds=30", "--json", *args])
        == 0
    )
    task = json.loads(capsys.readouterr().out)
    assert (task["name"], task["status"], task["arguments"]) == (
        "scheduleInform",
        "queued",
        {"delaySeconds": 30},
    )
    assert main(["tasks", "add", "S1", "scheduleInform", "--arg", "delaySeconds=0", *args]) == 2
    assert "positive" in capsys.readouterr().err
    assert main(["tasks", "list", "S1", "--json", *args]) == 0
    assert [t["id"] for t in json.loads(capsys.readouterr().out)] == [task["id"]]
