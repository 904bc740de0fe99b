"""Attempts cut short (superseded, swept, abandoned) do not count toward a device's backoff.

A CPE that reboots mid-session, or whose session died with an ACS process, did not fail
its provisioning: its next periodic Inform provisions at once. Real failures still back
it off. The history is written through the repository, the decision taken by the real
workflow at a ``2 PERIODIC`` Inform; whether it provisions is read back from the store
(an attempt opened or not). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from tests.provisioning.test_workflow_e2e import RecordingTelemetry, fleet_of
from traceacs.cwmp import events as ev
from traceacs.cwmp import messages as m
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.provisioning.device import DeviceIdentity, ProvisioningState
from traceacs.provisioning.repository import AttemptFilter
from traceacs.provisioning.workflow import ProvisioningHandlerFactory
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.faults import NO_FAULTS
from traceacs.simulator.fleet_store import store_fleet
from traceacs.storage import SqlDeviceRepository

T0 = 1_800_000_000.0
SUPERSEDED = 4


def ident(cpe: SimulatedCpe) -> DeviceIdentity:
    return DeviceIdentity(cpe.identity.oui, cpe.identity.serial_number)


async def fail(repo: SqlDeviceRepository, cpe: SimulatedCpe, at: float) -> None:
    """A real failure: the CPE refused the config."""
    attempt = await repo.start_attempt(ident(cpe), at, None, supersede_before=at)
    await repo.finish_attempt(
        attempt, at + 1, "config_push_failed", failing_step="push_config", fault_code=9007
    )


async def cut_short(repo: SqlDeviceRepository, cpe: SimulatedCpe, at: float) -> float:
    """``SUPERSEDED`` attempts left open by dead sessions, each superseded by the next
    Inform, then one abandoned mid-session (the CPE rebooted); when that one ended."""
    for n in range(SUPERSEDED + 1):
        await repo.start_attempt(ident(cpe), at + 10 * n, None, supersede_before=at + 10 * n)
    ended = at + 10 * SUPERSEDED + 1
    [last] = await repo.list_attempts(
        AttemptFilter(serial_number=cpe.identity.serial_number, in_progress=True)
    )
    await repo.finish_attempt(
        last.id, ended, "session_abandoned", failing_step="push_config"
    )  # fmt: skip
    return ended


async def provisions_at_periodic_inform(
    repo: SqlDeviceRepository, cpe: SimulatedCpe, now: float
) -> bool:
    """Whether the workflow starts an attempt at this device's periodic Inform."""
    factory = ProvisioningHandlerFactory(repo, EmbeddedProfileSource(repo), RecordingTelemetry())
    session = factory.new_session(f"sess-{cpe.identity.serial_number}-{now}")
    inform = cpe.build_inform(datetime.fromtimestamp(now, UTC)).body
    assert isinstance(inform, m.Inform)
    periodic = dataclasses.replace(inform, events=(m.EventStruct(ev.PERIODIC),))
    assert isinstance(await session.on_inform(periodic, now), m.InformResponse)
    opened = await repo.list_attempts(
        AttemptFilter(serial_number=cpe.identity.serial_number, in_progress=True)
    )
    return len(opened) == 1


async def history(repo: SqlDeviceRepository, cpe: SimulatedCpe) -> list[str | None]:
    attempts = await repo.list_attempts(AttemptFilter(serial_number=cpe.identity.serial_number))
    return [a.result for a in reversed(attempts)]


async def test_list_attempts_leaves_out_excluded_results_but_keeps_open_ones(
    repo: SqlDeviceRepository,
) -> None:
    fleet = fleet_of(NO_FAULTS)
    [cpe] = fleet.cpes
    await store_fleet(repo, fleet, T0)
    await fail(repo, cpe, T0 + 100)
    await cut_short(repo, cpe, T0 + 200)
    await repo.start_attempt(ident(cpe), T0 + 400, None)  # open
    serial = cpe.identity.serial_number
    excluded = ("expired", "session_abandoned")
    kept = await repo.list_attempts(AttemptFilter(serial_number=serial, exclude_results=excluded))
    assert [a.result for a in kept] == [None, "config_push_failed"]
    only_open = AttemptFilter(serial_number=serial, exclude_results=excluded, in_progress=True)
    assert [a.result for a in await repo.list_attempts(only_open)] == [None]
    one = await repo.list_attempts(AttemptFilter(serial_number=serial, exclude_results=("x",)))
    assert len(one) == SUPERSEDED + 3


async def test_a_device_whose_attempts_were_cut_short_is_not_backed_off(
    repo: SqlDeviceRepository,
) -> None:
    fleet = fleet_of(NO_FAULTS, NO_FAULTS)
    cut, failing = fleet.cpes
    await store_fleet(repo, fleet, T0)

    abandoned_at = await cut_short(repo, cut, T0 + 100)
    assert await history(repo, cut) == ["expired"] * SUPERSEDED + ["session_abandoned"]
    for n in range(SUPERSEDED + 1):
        await fail(repo, failing, T0 + 100 + 10 * n)
    last_failure = T0 + 100 + 10 * SUPERSEDED + 1
    for cpe in (cut, failing):
        device = await repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.state is ProvisioningState.FAILED

    # 30 s later: as many real failures back the device off (60 s doubled three times)...
    assert not await provisions_at_periodic_inform(repo, failing, last_failure + 30)
    # ...the same number of attempts cut short do not.
    assert await provisions_at_periodic_inform(repo, cut, abandoned_at + 30)
    # The real failures' backoff still ends: 60 s * 2 ** (5 - 2).
    assert await provisions_at_periodic_inform(repo, failing, last_failure + 480)


async def test_cut_short_attempts_neither_count_nor_end_a_run_of_failures(
    repo: SqlDeviceRepository,
) -> None:
    fleet = fleet_of(NO_FAULTS, NO_FAULTS)
    early, late = fleet.cpes
    await store_fleet(repo, fleet, T0)
    for cpe in (early, late):
        await fail(repo, cpe, T0 + 100)
        await fail(repo, cpe, T0 + 110)  # two real failures: 60 s from this one's end
        await cut_short(repo, cpe, T0 + 120)  # the last of them ends at T0 + 161
    # Counted from the last real failure (T0 + 111), not from the abandoned attempt.
    assert await provisions_at_periodic_inform(repo, late, T0 + 111 + 60)
    assert not await provisions_at_periodic_inform(repo, early, T0 + 111 + 59)
