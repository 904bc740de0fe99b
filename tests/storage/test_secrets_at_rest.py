"""Secrets at rest: what the database holds is sealed, on both engines.

Each test writes secrets through the repository (and the task store), then reads the
raw rows of every table with plain SQL, as someone holding a copy of the SQLite file
or a PostgreSQL dump would, and looks for the secrets' text. Existing plaintext rows
(written before sealing) must keep working and get sealed; a rotated key must still
open old rows; a wrong key must fail with a message that names a key id, never a secret.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from traceacs.provisioning.device import InformFacts, InventoryEntry
from traceacs.storage import SqlDeviceRepository, open_repository
from traceacs.storage.secret_box import SecretBox, SecretKeyError, is_sealed, new_key
from traceacs.storage.secret_key import KEY_FILE, load_secret_box, write_key_file
from traceacs.storage.tasks import SqlTaskStore

CR_SECRET = "cr-secret-at-rest-1"
WIFI_SECRET = "wifi-secret-at-rest-2"
SIP_SECRET = "sip-secret-at-rest-3"
TASK_SECRET = "task-secret-at-rest-4"
SECRETS = (CR_SECRET, WIFI_SECRET, SIP_SECRET, TASK_SECRET)
TABLES = ("devices", "profile_documents", "tasks")
WIFI_KEY = "Device.WiFi.AccessPoint.1.Security.KeyPassphrase"


async def plant(repo: SqlDeviceRepository) -> None:
    """A device with a connection-request password, a profile, a task carrying a key."""
    await repo.import_devices([_entry()], 1.0)
    await repo.put_profile_document(
        "gold",
        {
            "name": "gold",
            "wifi": {"ssid": "Home", "passphrase": WIFI_SECRET},
            "voip_lines": [{"registrar": "sip.example", "user": "u1", "password": SIP_SECRET}],
        },
        "1",
    )
    tasks = SqlTaskStore(repo.db, repo.secrets)
    await tasks.add_task(
        "00D09E",
        "SN-AT-REST",
        "setParameterValues",
        {"parameterValues": [[WIFI_KEY, TASK_SECRET, "xsd:string"]]},
        2.0,
    )


def _entry() -> InventoryEntry:
    return InventoryEntry(
        serial_number="SN-AT-REST",
        oui="00D09E",
        product_class="RG",
        customer_id="cust-1",
        service_plan="gold",
        location_id="loc-1",
        connection_request_username="cr-user",
        connection_request_password=CR_SECRET,
    )


async def raw_text(repo: SqlDeviceRepository) -> str:
    """Every row of the secret-holding tables as text, read without the repository."""
    dump: list[Any] = []
    for table in TABLES:
        dump.extend(tuple(row.values()) for row in await repo.db.fetch(f"SELECT * FROM {table}"))
    return repr(dump)


async def read_back(repo: SqlDeviceRepository) -> tuple[str | None, str, str, str]:
    device = await repo.get_device("00D09E", "SN-AT-REST")
    assert device is not None
    profile = await repo.get_profile_document("gold")
    assert profile is not None
    [task] = await SqlTaskStore(repo.db, repo.secrets).device_tasks("00D09E", "SN-AT-REST")
    return (
        device.connection_request_password,
        profile[0]["wifi"]["passphrase"],
        profile[0]["voip_lines"][0]["password"],
        task.arguments["parameterValues"][0][1],
    )


async def test_no_secret_is_stored_in_clear(store_url: str) -> None:
    repo = await open_repository(store_url, secrets=SecretBox(new_key()))
    try:
        await plant(repo)
        stored = await raw_text(repo)
        assert not [s for s in SECRETS if s in stored]
        assert stored.count("enc:v1:") == 3  # CR password, profile document, task arguments
        assert await read_back(repo) == (CR_SECRET, WIFI_SECRET, SIP_SECRET, TASK_SECRET)
        assert await repo.reseal() == 0  # already sealed with the current key

        # A secret read back from a CPE (a hidden value some CPEs do return) is sealed
        # inside the last-values JSON; the rest of it stays searchable text.
        read_back_value = "wifi-read-back-at-rest-5"
        await repo.save_last_values(
            "00D09E", "SN-AT-REST", {WIFI_KEY: read_back_value, "Device.X.SSID": "Home"}, 3.0
        )
        stored = await raw_text(repo)
        assert read_back_value not in stored
        assert "Home" in stored
        device = await repo.get_device("00D09E", "SN-AT-REST")
        assert device is not None
        assert device.last_values == {WIFI_KEY: read_back_value, "Device.X.SSID": "Home"}
    finally:
        await repo.close()


async def test_existing_plaintext_rows_keep_working_and_get_sealed(store_url: str) -> None:
    legacy = await open_repository(store_url)  # keyless: how rows were written before
    try:
        await plant(legacy)
        assert WIFI_SECRET in await raw_text(legacy)
    finally:
        await legacy.close()
    repo = await open_repository(store_url, secrets=SecretBox(new_key()))
    try:
        assert await read_back(repo) == (CR_SECRET, WIFI_SECRET, SIP_SECRET, TASK_SECRET)
        assert await repo.reseal() == 3
        assert not [s for s in SECRETS if s in await raw_text(repo)]
        assert await read_back(repo) == (CR_SECRET, WIFI_SECRET, SIP_SECRET, TASK_SECRET)
        assert await repo.reseal() == 0
    finally:
        await repo.close()


async def test_rotation_keeps_old_rows_readable_and_reseals_them(store_url: str) -> None:
    old, new = new_key(), new_key()
    repo = await open_repository(store_url, secrets=SecretBox(old))
    try:
        await plant(repo)
    finally:
        await repo.close()
    rotated = SecretBox(new, previous=[old])
    repo = await open_repository(store_url, secrets=rotated)
    try:
        assert await read_back(repo) == (CR_SECRET, WIFI_SECRET, SIP_SECRET, TASK_SECRET)
        assert await repo.reseal() == 3
        assert (await raw_text(repo)).count(f"enc:v1:{rotated.current_id}:") == 3
    finally:
        await repo.close()
    only_new = await open_repository(store_url, secrets=SecretBox(new))
    try:
        assert await read_back(only_new) == (CR_SECRET, WIFI_SECRET, SIP_SECRET, TASK_SECRET)
    finally:
        await only_new.close()
    only_old = await open_repository(store_url, secrets=SecretBox(old))
    try:
        with pytest.raises(SecretKeyError) as refused:
            await read_back(only_old)
        assert rotated.current_id in str(refused.value)
        assert not [s for s in SECRETS if s in str(refused.value)]
    finally:
        await only_old.close()


async def test_a_keyless_reader_refuses_sealed_values_clearly(store_url: str) -> None:
    repo = await open_repository(store_url, secrets=SecretBox(new_key()))
    try:
        await plant(repo)
    finally:
        await repo.close()
    keyless = await open_repository(store_url)
    try:
        with pytest.raises(SecretKeyError, match="no secret key is configured"):
            await keyless.get_device("00D09E", "SN-AT-REST")
    finally:
        await keyless.close()


def test_a_sealed_value_opens_only_in_its_own_column() -> None:
    box = SecretBox(new_key())
    sealed = box.seal(WIFI_SECRET, "profile_documents.document")
    assert is_sealed(sealed)
    assert WIFI_SECRET not in sealed
    assert box.seal(WIFI_SECRET, "profile_documents.document") != sealed  # fresh nonce
    assert box.open(sealed, "profile_documents.document") == WIFI_SECRET
    with pytest.raises(SecretKeyError, match="failed authentication"):
        box.open(sealed, "devices.connection_request_password")
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(SecretKeyError):
        box.open(tampered, "profile_documents.document")
    assert WIFI_SECRET not in repr(box)


def test_the_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = load_secret_box(data_dir)
    path = data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert load_secret_box(data_dir).current_id == first.current_id
    assert not [p.name for p in data_dir.iterdir() if p.name != KEY_FILE]  # no temp left


def test_a_key_file_other_users_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    write_key_file(path, [new_key()])
    os.chmod(path, 0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        load_secret_box(tmp_path)


def test_the_environment_key_ring_wins_and_bad_keys_are_refused(tmp_path: Path) -> None:
    from traceacs.storage.secret_box import encode_key, key_id

    current, previous = new_key(), new_key()
    box = load_secret_box(tmp_path, f"{encode_key(current)},{encode_key(previous)}")
    assert box.current_id == key_id(current)
    assert set(box.key_ids) == {key_id(current), key_id(previous)}
    assert not (tmp_path / KEY_FILE).exists()  # the variable, not a file
    for bad in ("not base64!", encode_key(b"short")):
        with pytest.raises(SecretKeyError, match="32 bytes"):
            load_secret_box(tmp_path, bad)


async def test_the_acs_seals_existing_rows_when_it_starts(tmp_path: Path) -> None:
    from traceacs.assembly import open_acs
    from traceacs.config import Settings

    settings = Settings(data_dir=tmp_path, allow_unauthenticated_cpes=True)
    legacy = await open_repository(settings.database_url)  # rows of an older TraceACS
    try:
        await plant(legacy)
    finally:
        await legacy.close()
    async with open_acs(settings, environ={"OTEL_SDK_DISABLED": "true"}, sweep_interval=None):
        pass
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    repo = await open_repository(settings.database_url, secrets=load_secret_box(tmp_path))
    try:
        assert not [s for s in SECRETS if s in await raw_text(repo)]
        assert await read_back(repo) == (CR_SECRET, WIFI_SECRET, SIP_SECRET, TASK_SECRET)
    finally:
        await repo.close()


async def test_preset_actions_and_bulk_job_arguments_are_sealed_too(store_url: str) -> None:
    """Presets and bulk jobs carry parameter values an operator may fill with a key."""
    from traceacs.presets.model import parse_preset
    from traceacs.storage.bulk_tasks import SqlBulkStore
    from traceacs.storage.presets import SqlPresetStore
    from traceacs.tasks.bulk import BulkRequest

    preset_secret, bulk_secret = "preset-secret-at-rest-6", "bulk-secret-at-rest-7"
    repo = await open_repository(store_url, secrets=SecretBox(new_key()))
    try:
        await repo.import_devices([_entry()], 1.0)
        presets = SqlPresetStore(repo.db, repo.secrets)
        preset = parse_preset(
            "vip-wifi", {"parameterValues": [[WIFI_KEY, preset_secret, "xsd:string"]]}
        )
        stored, created = await presets.put_preset(preset, 2.0)
        assert created
        assert stored.revision == 1
        # the same document again is no change, though each seal differs (random nonce)
        again, created = await presets.put_preset(preset, 3.0)
        assert not created
        assert again.revision == 1
        jobs = SqlBulkStore(repo.db, repo.secrets)
        arguments = {"parameterValues": [[WIFI_KEY, bulk_secret, "xsd:string"]]}
        request = BulkRequest("setParameterValues", arguments, {"model": "RG"}, 5.0, False)
        job = await jobs.create_job(request, [("00D09E", "SN-AT-REST")], [4.0], 4.0)

        dump: list[Any] = []
        for table in ("presets", "bulk_jobs", "tasks"):
            dump.extend(tuple(r.values()) for r in await repo.db.fetch(f"SELECT * FROM {table}"))
        assert preset_secret not in repr(dump)
        assert bulk_secret not in repr(dump)

        [read] = await presets.list_presets()
        assert read.parameter_values[0][1] == preset_secret
        reread = await jobs.get_job(job.id)
        assert reread is not None
        assert reread.arguments["parameterValues"][0][1] == bulk_secret
        [task] = await SqlTaskStore(repo.db, repo.secrets).device_tasks("00D09E", "SN-AT-REST")
        assert task.arguments["parameterValues"][0][1] == bulk_secret
    finally:
        await repo.close()


async def test_the_inform_read_opens_the_password_only_on_demand(store_url: str) -> None:
    """A quiet session never needs the connection-request password: the Inform's read
    leaves it sealed in the device, and opening it gives the stored secret."""
    repo = await open_repository(store_url, secrets=SecretBox(new_key()))
    try:
        await plant(repo)
        device = await repo.record_inform("00D09E", "SN-AT-REST", 3.0, InformFacts())
        assert device is not None
        assert device.connection_request_password is None  # not opened
        assert CR_SECRET not in repr(device)
        assert device.open_connection_request_password() == CR_SECRET
        listed = await repo.get_device("00D09E", "SN-AT-REST")
        assert listed is not None
        assert listed.connection_request_password == CR_SECRET  # other reads open it
    finally:
        await repo.close()


async def test_a_password_sealed_with_an_unknown_key_fails_when_opened(store_url: str) -> None:
    repo = await open_repository(store_url, secrets=SecretBox(new_key()))
    try:
        await plant(repo)
    finally:
        await repo.close()
    other = await open_repository(store_url, secrets=SecretBox(new_key()))
    try:
        device = await other.record_inform("00D09E", "SN-AT-REST", 3.0, InformFacts())
        assert device is not None  # the Inform itself needs no secret
        with pytest.raises(SecretKeyError):
            device.open_connection_request_password()
    finally:
        await other.close()


async def test_the_inform_read_decodes_last_values_when_looked_at(store_url: str) -> None:
    """The Inform's device carries the stored values (sealed ones opened) as every
    other read does, though it decodes them only when they are looked at."""
    repo = await open_repository(store_url, secrets=SecretBox(new_key()))
    try:
        await plant(repo)
        values = {WIFI_KEY: WIFI_SECRET, "Device.DeviceInfo.X": "plain"}
        await repo.save_last_values("00D09E", "SN-AT-REST", values, 2.5)
        assert WIFI_SECRET not in await raw_text(repo)
        device = await repo.record_inform("00D09E", "SN-AT-REST", 3.0, InformFacts())
        assert device is not None
        assert WIFI_SECRET not in repr(device.last_values)
        assert dict(device.last_values) == values
        listed = await repo.get_device("00D09E", "SN-AT-REST")
        assert listed is not None
        assert device.last_values == listed.last_values
    finally:
        await repo.close()
