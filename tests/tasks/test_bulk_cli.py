"""``traceacs tasks bulk`` against a SQLite store: the search, the job, refusals."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from traceacs.cli import main
from traceacs.provisioning.device import InventoryEntry
from traceacs.storage import open_repository
from traceacs.storage.secret_key import existing_secret_box
from traceacs.storage.tasks import SqlTaskStore


def _store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'acs.db'}"

    async def make() -> None:
        repo = await open_repository(url)
        entries = [
            InventoryEntry(f"S{i}", "00D09E", "RG", "gold-customer", "p", "l") for i in (1, 2)
        ]
        entries.append(InventoryEntry("T1", "00D09E", "RG", "other", "p", "l"))
        await repo.import_devices(entries, 1.0)
        await repo.close()

    asyncio.run(make())
    return url


def _tasks(url: str, serial: str) -> list[tuple[str, int | None, float]]:
    async def read() -> list[tuple[str, int | None, float]]:
        # the key the command sealed the task arguments with (the test's data dir)
        secrets = existing_secret_box(Path(os.environ["TRACEACS_DATA_DIR"]))
        repo = await open_repository(url, secrets=secrets)
        try:
            tasks = await SqlTaskStore(repo.db, repo.secrets).device_tasks("00D09E", serial)
            return [(t.name, t.bulk_id, t.next_attempt_at) for t in tasks]
        finally:
            await repo.close()

    return asyncio.run(read())


def test_bulk_queues_paced_tasks_for_the_matching_devices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _store(tmp_path)
    db = ["--database-url", url]
    command = ["tasks", "bulk", "--customer-id", "gold-customer", "--name", "reboot"]
    assert main([*command, "--rate", "20", "--json", *db]) == 0
    job = json.loads(capsys.readouterr().out)
    assert (job["matched"], job["queued"], job["rate"]) == (2, 2, 20.0)
    assert job["filters"] == {"customer_id": "gold-customer"}
    ((_, first_job, first_at),) = _tasks(url, "S1")
    ((_, second_job, second_at),) = _tasks(url, "S2")
    assert first_job == second_job == job["id"]
    assert second_at - first_at == pytest.approx(1 / 20)
    assert _tasks(url, "T1") == []

    assert main(["tasks", "bulk", "--serial", "T", "--name", "reboot", *db]) == 0
    assert "for 1 device(s) at 10/s" in capsys.readouterr().out
    assert main(["devices", "tag", "S2", "add", "vip", *db]) == 0
    capsys.readouterr()
    assert main(["tasks", "bulk", "--tag", "vip", "--name", "reboot", "--json", *db]) == 0
    tagged = json.loads(capsys.readouterr().out)
    assert (tagged["matched"], tagged["filters"]) == (1, {"tag": "vip"})
    assert [job for _, job, _ in _tasks(url, "S2")] == [tagged["id"], job["id"]]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "no filter"),
        (["--all", "--rate", "0"], "rate"),
        (["--all", "--arg", "nope"], "KEY=VALUE"),
        (["--all", "--state", "lost"], "--state"),
    ],
)
def test_bulk_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    url = _store(tmp_path)
    assert main(["tasks", "bulk", "--name", "reboot", *extra, "--database-url", url]) == 2
    assert message in capsys.readouterr().err
    assert _tasks(url, "S1") == []
