"""Each task type end to end: API -> connection request (Digest, through the simulator's
listener) -> the CPE's session -> the task's RPCs -> the result in the API's answer."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from tests.tasks.live import fleet_of, live, start_fleet
from traceacs.files import chunks_of
from traceacs.provisioning.repository import AttemptFilter

ROOT = "Device."


async def test_get_set_add_delete_refresh_over_connection_requests(tmp_path: Path) -> None:
    async with live(tmp_path, fleet_of()) as acs:
        cpe = acs.cpe()
        serial = cpe.identity.serial_number
        key_before = cpe.parameter_key

        status, task = await acs.task(
            serial,
            {"name": "getParameterValues", "parameterNames": [ROOT + "DeviceInfo.SoftwareVersion"]},
        )
        assert status == 200, task
        assert task["status"] == "done"
        assert task["attempts"] == 1
        assert task["connection_request"]["outcome"] == "ok"
        assert task["result"]["parameterValues"] == [
            [ROOT + "DeviceInfo.SoftwareVersion", cpe.identity.software_version, "string"]
        ]
        assert task["trace_id"]

        name = ROOT + "ManagementServer.PeriodicInformInterval"
        status, task = await acs.task(
            serial,
            {"name": "setParameterValues", "parameterValues": [[name, 600, "xsd:unsignedInt"]]},
        )
        assert (status, task["status"]) == (200, "done"), task
        assert cpe.value(name) == 600
        assert cpe.parameter_key == key_before  # provisioning's ParameterKey is kept

        table = ROOT + "Ethernet.VLANTermination."
        status, task = await acs.task(serial, {"name": "addObject", "objectName": table})
        assert (status, task["status"]) == (200, "done"), task
        number = task["result"]["instanceNumber"]
        assert number >= 1
        assert cpe.tree.has_object(f"{table}{number}.")
        status, task = await acs.task(
            serial, {"name": "deleteObject", "objectName": f"{table}{number}."}
        )
        assert (status, task["status"]) == (200, "done"), task
        assert not cpe.tree.has_object(f"{table}{number}.")

        status, task = await acs.task(
            serial, {"name": "refreshObject", "objectName": ROOT + "DeviceInfo."}
        )
        assert (status, task["status"]) == (200, "done"), task
        values = {n: v for n, v, _ in task["result"]["parameterValues"]}
        assert values[ROOT + "DeviceInfo.SerialNumber"] == serial
        assert len(values) > 5

        status, listing = await acs.api("GET", f"api/devices/{serial}/tasks")
        assert status == 200
        assert [t["name"] for t in listing["items"]] == [
            "refreshObject",
            "deleteObject",
            "addObject",
            "setParameterValues",
            "getParameterValues",
        ]


async def test_reboot_brings_m_reboot_and_boot(tmp_path: Path) -> None:
    async with live(tmp_path, fleet_of()) as acs:
        serial = acs.cpe().identity.serial_number
        after = len(acs.informs.events)
        status, task = await acs.task(serial, {"name": "reboot"})
        assert (status, task["status"]) == (200, "done"), task
        sessions = await acs.session_with(serial, "M Reboot", after=after)
        assert "6 CONNECTION REQUEST" in sessions[0]
        assert "1 BOOT" in sessions[-1]


async def test_factory_reset_bootstraps_and_reprovisions(tmp_path: Path) -> None:
    async with live(tmp_path, fleet_of()) as acs:
        cpe = acs.cpe()
        serial = cpe.identity.serial_number
        provisioned_key = cpe.parameter_key
        assert provisioned_key
        after = len(acs.informs.events)
        status, task = await acs.task(serial, {"name": "factoryReset"})
        assert (status, task["status"]) == (200, "done"), task
        await acs.session_with(serial, "0 BOOTSTRAP", after=after)
        filters = AttemptFilter(serial_number=serial)
        deadline = time.monotonic() + 15
        while [a.result for a in await acs.acs.repository.list_attempts(filters)] != [
            "success",
            "success",
        ]:
            assert time.monotonic() < deadline, "not provisioned again after the reset"
            await asyncio.sleep(0.05)
        assert cpe.parameter_key == provisioned_key  # pushed again after the reset


async def test_download_firmware_then_transfer_complete(tmp_path: Path) -> None:
    async with live(tmp_path, fleet_of()) as acs:
        cpe = acs.cpe()
        image = os.urandom(2048)
        await acs.acs.files.put(
            "fw-9.9.bin", chunks_of(image), file_type="1 Firmware Upgrade Image", now=time.time()
        )
        status, task = await acs.task(
            cpe.identity.serial_number,
            {"name": "download", "fileName": "fw-9.9.bin", "targetFileName": "9.9"},
        )
        assert (status, task["status"]) == (200, "done"), task
        assert task["result"]["fileName"] == "fw-9.9.bin"
        assert task["result"]["status"] == 1  # accepted, finished by TransferComplete
        assert "completeTime" in task["result"]
        assert cpe.value(ROOT + "DeviceInfo.SoftwareVersion") == "9.9"


async def test_download_of_a_missing_file_fails_without_retry(tmp_path: Path) -> None:
    async with live(tmp_path, fleet_of()) as acs:
        status, task = await acs.task(
            acs.cpe().identity.serial_number, {"name": "download", "fileName": "nope.bin"}
        )
        assert (status, task["status"]) == (200, "failed"), task
        assert "nope.bin" in task["fault"]["string"]


async def test_upload_config_backup_into_the_file_store(tmp_path: Path) -> None:
    async with live(tmp_path, fleet_of()) as acs:
        serial = acs.cpe().identity.serial_number
        status, task = await acs.task(serial, {"name": "upload"})
        assert (status, task["status"]) == (200, "done"), task
        stored = await acs.acs.files.get(task["result"]["fileName"])
        assert stored is not None
        assert stored.file_type == "upload"
        assert stored.size > 0


async def test_schedule_inform_brings_a_scheduled_session(tmp_path: Path) -> None:
    async with live(tmp_path, fleet_of()) as acs:
        serial = acs.cpe().identity.serial_number
        after = len(acs.informs.events)
        status, task = await acs.task(serial, {"name": "scheduleInform", "delaySeconds": 1})
        assert (status, task["status"]) == (200, "done"), task
        sessions = await acs.session_with(serial, "M ScheduleInform", after=after)
        assert "3 SCHEDULED" in sessions[-1]


async def test_cpe_fault_is_recorded_and_retried_later(tmp_path: Path) -> None:
    async with live(tmp_path, fleet_of()) as acs:
        serial = acs.cpe().identity.serial_number
        body = {"name": "setParameterValues", "parameterValues": [[ROOT + "No.Such", "1"]]}
        before = time.time()
        status, task = await acs.task(serial, body, timeout=1)
        assert status == 202, task  # back in the queue, backing off
        assert task["status"] == "queued"
        assert task["attempts"] == 1
        assert task["fault"]["code"] == 9003  # invalid arguments, per parameter:
        assert task["fault"]["string"].endswith(f"({ROOT}No.Such: 9005)")
        assert task["next_attempt_at"] >= before + 60
        status, again = await acs.api("GET", f"api/tasks/{task['id']}")
        assert (status, again["fault"]["code"]) == (200, 9003)


async def test_task_for_an_offline_device_waits_for_its_next_session(tmp_path: Path) -> None:
    async with live(tmp_path, fleet_of(), start_cpes=False) as acs:
        cpe = acs.cpe()
        serial = cpe.identity.serial_number
        status, task = await acs.task(
            serial,
            {"name": "getParameterValues", "parameterNames": [ROOT + "DeviceInfo."]},
            timeout=1,
        )
        assert status == 202
        assert task["status"] == "queued"
        assert task["connection_request"]["outcome"] == "unreachable"  # never informed yet
        await start_fleet(acs)  # the CPE comes online: BOOTSTRAP, provisioning, then tasks
        ran = await acs.acs.tasks.service.wait(task["id"], 10)  # type: ignore[union-attr]
        assert ran is not None
        assert ran.status.value == "done"
        assert ran.result["parameterValues"]
