"""`make demo` in miniature: a small fleet with one of each failure, run to the end."""

from __future__ import annotations

import io
from pathlib import Path

from traceacs.demo import DemoOptions, run_demo
from traceacs.provisioning.device import ProvisioningState
from traceacs.provisioning.repository import DeviceFilter
from traceacs.storage import open_repository


async def test_demo_provisions_a_fleet_and_names_each_failing_step(tmp_path: Path) -> None:
    out = io.StringIO()
    options = DemoOptions(
        data_dir=tmp_path / "demo",
        cpes=40,
        failures="unknown=5%,no_profile=5%,spv_fault=5%,mismatch=5%",
        cwmp_port=0,
        sessions_per_cpe=1,
        ramp_seconds=0.5,
        exit_when_done=True,
    )
    assert await run_demo(options, out) == 0
    text = out.getvalue()
    assert "Imported 38 devices" in text
    assert "failed at fetch_profile: No service profile found" in text
    assert "failed at push_config: SetParameterValues fault" in text
    assert "failed at verify: Config verification failed" in text
    assert "faulted(8001)" in text  # the two unknown CPEs, refused (and retrying)

    repo = await open_repository(f"sqlite:///{tmp_path / 'demo' / 'traceacs.db'}")
    try:
        provisioned = await repo.count_devices(DeviceFilter(state=ProvisioningState.PROVISIONED))
        failed = await repo.count_devices(DeviceFilter(state=ProvisioningState.FAILED))
    finally:
        await repo.close()
    assert (provisioned, failed) == (32, 6)
