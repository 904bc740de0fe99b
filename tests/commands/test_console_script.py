"""``traceacs devices show`` as an operator runs it: the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.commands.conftest import Cli, device_row, write_csv
from traceacs.storage import SqlDeviceRepository

SCRIPT = Path(sys.executable).with_name("traceacs")  # .venv/bin/traceacs


def test_devices_show_as_a_real_process(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "inv.csv", device_row("PROC1", connection_request_password="x-pw"))
    assert cli("devices", "import", str(path)).code == 0

    async def fail(repository: SqlDeviceRepository) -> None:
        device = await repository.get_device("00D09E", "PROC1")
        assert device is not None
        attempt = await repository.start_attempt(device, 1000.0, "f" * 32)
        await repository.finish_attempt(
            attempt,
            1001.0,
            "no_profile",
            failing_step="fetch_profile",
            failure_reason="no profile for plan 'gold'",
        )

    cli.with_repository(fail)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEACS_")}

    shown = subprocess.run(
        [str(SCRIPT), "devices", "show", "PROC1", "--data-dir", str(cli.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    missing = subprocess.run(
        [str(SCRIPT), "devices", "show", "NOPE", "--data-dir", str(cli.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    assert "failed step:        fetch_profile" in shown.stdout
    assert "no profile for plan 'gold'" in shown.stdout
    assert "f" * 32 in shown.stdout
    assert "x-pw" not in shown.stdout + shown.stderr
    assert missing.returncode == 4  # not found
    assert "no device with serial number 'NOPE'" in missing.stderr
