"""The assembled ACS (`open_acs` + `serve`, as ``traceacs serve`` runs) upgrades firmware
inside provisioning, and an operator sees it: each step in ``traceacs trace SERIAL
--all`` and the ``firmware`` step label on ``cpe.provision.step_duration``.

No ``--public-url``: the Download's URL comes from the file server's listening address
(`Acs.use_listening_url`, as ``traceacs serve`` wires it to ``--files-port``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest

from traceacs.app import serve
from traceacs.assembly import open_acs
from traceacs.cli import main
from traceacs.config import Settings
from traceacs.files import chunks_of
from traceacs.files.store import FIRMWARE_IMAGE
from traceacs.provisioning.device import ProvisioningState
from traceacs.provisioning.profile import FirmwareTarget
from traceacs.server.file_server import FileServer
from traceacs.simulator.faults import NO_FAULTS
from traceacs.simulator.firmware import firmware_image
from traceacs.simulator.fleet import build_fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig
from traceacs.telemetry.prometheus import render_metrics

TARGET = "4.2.0"
IMAGE = "fleet-image.bin"


async def test_assembled_acs_upgrades_and_the_trace_command_shows_every_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = build_fleet(1, plans=[NO_FAULTS], seed=3)
    cpe = fleet.cpes[0]
    settings = Settings(
        cwmp_port=0,
        api_port=0,
        files_port=0,
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'acs.db'}",
        allow_unauthenticated_cpes=True,
    )
    async with open_acs(
        settings, environ={"TRACEACS_TRACE_STORE": "on"}, sweep_interval=None
    ) as acs:
        target = FirmwareTarget(cpe.identity.product_class, TARGET, IMAGE)
        upgrading = tuple(dataclasses.replace(p, firmware=(target,)) for p in fleet.profiles)
        await store_fleet(
            acs.repository, dataclasses.replace(fleet, profiles=upgrading), time.time()
        )
        await acs.files.put(
            IMAGE,
            chunks_of(firmware_image(TARGET, 9000)),
            file_type=FIRMWARE_IMAGE,
            now=time.time(),
        )
        stop = asyncio.Event()
        ready: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()

        def on_ready(urls: list[str]) -> None:
            ready.set_result(urls)

        server = asyncio.create_task(
            serve(
                settings,
                acs.factory,
                stop=stop,
                on_ready=on_ready,
                file_server=FileServer(acs.files, acs.file_tokens),
                on_files_ready=acs.use_listening_url,
            )
        )
        try:
            cwmp_url = (await ready)[0]
            runner = FleetRunner(
                fleet.cpes, RunnerConfig(cwmp_url, connection_requests=False, ramp_seconds=0.0)
            )
            await runner.run()
        finally:
            stop.set()
            await server
        assert cpe.value("Device.DeviceInfo.SoftwareVersion") == TARGET
        device = await acs.repository.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.state is ProvisioningState.PROVISIONED
        assert acs.telemetry is not None
        assert acs.telemetry.prometheus_registry is not None
        metrics, _ = render_metrics(acs.telemetry.prometheus_registry)
        assert 'step="firmware"' in metrics.decode()

    capsys.readouterr()
    code = await asyncio.to_thread(  # the command runs its own event loop
        main,
        [
            "trace",
            cpe.identity.serial_number,
            "--all",
            "--color",
            "never",
            "--database-url",
            settings.database_url,
        ],
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.count("cpe.provision.firmware") == 2  # the Download, then the report
    assert "cwmp.rpc Download" in out
    assert "in_progress" in out
    assert "cpe.provision.push_config" in out
    assert "token" not in out
