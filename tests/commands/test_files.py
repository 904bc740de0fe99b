"""``traceacs files``: store a firmware image where ``serve`` finds it, list, delete;
and a profile naming it imports through ``traceacs profiles import``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.commands.conftest import Cli
from traceacs.files import DiskFileStore
from traceacs.simulator.firmware import firmware_image, image_version


async def _first_bytes(root: Path, name: str) -> bytes:
    store = DiskFileStore(root)
    stored = await store.get(name)
    assert stored is not None
    return b"".join([chunk async for chunk in store.read(stored, 0, 64)])


def test_put_list_delete_a_firmware_image(cli: Cli, tmp_path: Path, data_dir: Path) -> None:
    image = tmp_path / "build.bin"
    image.write_bytes(firmware_image("4.0.0", 5000))

    put = cli("files", "put", "gw-4.0.0.bin", str(image), "--json")
    assert put.code == 0, put.err
    stored = json.loads(put.out)
    assert (stored["name"], stored["size"]) == ("gw-4.0.0.bin", 5000)
    assert stored["type"] == "1 Firmware Upgrade Image"
    head = asyncio.run(_first_bytes(data_dir / "files", "gw-4.0.0.bin"))
    assert image_version(head) == "4.0.0"

    listed = cli("files", "list")
    assert listed.code == 0
    assert "gw-4.0.0.bin" in listed.out
    assert "1 Firmware Upgrade Image" in listed.out

    assert cli("files", "delete", "gw-4.0.0.bin").code == 0
    assert json.loads(cli("files", "list", "--json").out) == {"items": []}
    gone = cli("files", "delete", "gw-4.0.0.bin")
    assert gone.code == 4
    assert "no file" in gone.err


def test_bad_names_and_missing_files_are_usage_errors(cli: Cli, tmp_path: Path) -> None:
    image = tmp_path / "x.bin"
    image.write_bytes(b"x")
    bad = cli("files", "put", "../escape.bin", str(image))
    assert bad.code == 2
    assert "letters, digits" in bad.err
    missing = cli("files", "put", "x.bin", str(tmp_path / "nope.bin"))
    assert missing.code == 2
    assert "not a readable file" in missing.err


def test_a_profile_with_a_firmware_target_imports_and_bad_ones_name_the_field(
    cli: Cli, tmp_path: Path
) -> None:
    good = tmp_path / "profiles.yaml"
    good.write_text(
        "- name: basic\n"
        "  services: [internet]\n"
        "  firmware:\n"
        "    TraceGW-181: {version: 4.0.0, file: gw-4.0.0.bin}\n",
        encoding="utf-8",
    )
    assert cli("profiles", "import", str(good)).code == 0
    shown = cli("profiles", "show", "basic")
    assert "TraceGW-181" in shown.out
    assert "gw-4.0.0.bin" in shown.out

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "- name: basic\n  services: [internet]\n  firmware:\n    TraceGW-181: {version: 4.0.0}\n",
        encoding="utf-8",
    )
    refused = cli("profiles", "import", str(bad))
    assert refused.code == 2
    assert "firmware.TraceGW-181.file: is required" in refused.err
