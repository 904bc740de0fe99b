"""``traceacs presets ...`` and ``traceacs devices tag`` against a SQLite store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from traceacs.cli import main
from traceacs.provisioning.device import InventoryEntry
from traceacs.storage import open_repository

INTERVAL = "Device.ManagementServer.PeriodicInformInterval"


def _store(tmp_path: Path) -> list[str]:
    url = f"sqlite:///{tmp_path / 'acs.db'}"

    async def make() -> None:
        repo = await open_repository(url)
        entries = [InventoryEntry(s, "00D09E", "RG", "c", "p", "l") for s in ("S1", "S2")]
        await repo.import_devices(entries, 1.0)
        await repo.close()

    asyncio.run(make())
    return ["--database-url", url]


def test_tag_devices_and_search_by_tag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _store(tmp_path)
    assert main(["devices", "tag", "S1", "add", "vip", *db]) == 0
    assert capsys.readouterr().out.strip() == "S1: vip"
    assert main(["devices", "tag", "S1", "add", "east", "--json", *db]) == 0
    assert json.loads(capsys.readouterr().out) == {"serial_number": "S1", "tags": ["east", "vip"]}
    assert main(["devices", "list", "--tag", "vip", "--json", *db]) == 0
    assert [d["serial_number"] for d in json.loads(capsys.readouterr().out)["devices"]] == ["S1"]
    assert main(["devices", "show", "S1", "--json", *db]) == 0
    assert json.loads(capsys.readouterr().out)["tags"] == ["east", "vip"]
    assert main(["devices", "show", "S1", *db]) == 0
    assert "east vip" in capsys.readouterr().out
    assert main(["devices", "tag", "S1", "remove", "vip", *db]) == 0
    assert capsys.readouterr().out.strip() == "S1: east"
    assert main(["devices", "tag", "S1", "add", "no good", *db]) == 2
    assert "tag must be" in capsys.readouterr().err
    assert main(["devices", "tag", "NOPE", "add", "vip", *db]) == 4
    assert "no device" in capsys.readouterr().err


def test_put_list_show_delete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _store(tmp_path)
    put = ["presets", "put", "vip", "--weight", "10", "--tag", "vip", "--set", f"{INTERVAL}=900"]
    assert main([*put, "--task", '{"name": "reboot"}', "--json", *db]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored["parameterValues"] == [[INTERVAL, 900, "unsignedInt"]]
    assert stored["tasks"] == [{"name": "reboot"}]
    assert (stored["condition"], stored["revision"]) == ({"tag": "vip"}, 1)

    document = tmp_path / "preset.json"
    document.write_text(json.dumps({"weight": 1, "parameterValues": [["Device.X.Url", "a:b"]]}))
    assert main(["presets", "put", "file", "--file", str(document), *db]) == 0
    assert "created (revision 1)" in capsys.readouterr().out
    assert main(["presets", "put", "typed", "--set", "Device.X.On=1:boolean", "--json", *db]) == 0
    assert json.loads(capsys.readouterr().out)["parameterValues"] == [
        ["Device.X.On", "1", "boolean"]
    ]
    assert main(["presets", "list", "--json", *db]) == 0
    assert [p["name"] for p in json.loads(capsys.readouterr().out)] == ["vip", "file", "typed"]
    assert main(["presets", "show", "file", *db]) == 0
    assert json.loads(capsys.readouterr().out)["parameterValues"] == [
        ["Device.X.Url", "a:b", "string"]
    ]
    assert main(["presets", "delete", "file", *db]) == 0
    assert main(["presets", "delete", "file", *db]) == 4
    assert main(["presets", "show", "file", *db]) == 4
    capsys.readouterr()
    assert main(["presets", "put", "empty", *db]) == 2
    assert "parameterValues and/or tasks" in capsys.readouterr().err
    assert main(["presets", "put", "bad", "--set", "novalue", *db]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
