"""`PresetApplier`'s cache of the preset list, around its no-preset shortcut.

With no presets the applier answers an Inform without awaiting the store; these tests
pin that the shortcut lasts only while the cached (empty) list is fresh: a preset
written since (by another process: seen after ``refresh_seconds``; through this one:
`invalidate`) is applied at the device's very next Inform, its task queued.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from traceacs.cwmp import messages as m
from traceacs.presets.applier import PresetApplier
from traceacs.presets.model import Preset, PresetCondition
from traceacs.tasks.model import Task, TaskStatus

INFORM = m.Inform(
    device_id=m.DeviceId("Acme", "00D09E", "RG", "SN1"),
    events=(m.EventStruct("2 PERIODIC"),),
    max_envelopes=1,
    current_time=datetime(2026, 1, 1, tzinfo=UTC),
    retry_count=0,
    parameters=(m.ParameterValueStruct("Device.DeviceInfo.SoftwareVersion", "1.0"),),
)
PRESET = Preset(
    "reboot-rg",
    weight=1,
    condition=PresetCondition(model="RG"),
    parameter_values=(),
    tasks=({"name": "reboot"},),
)


class Presets:
    def __init__(self) -> None:
        self.presets: list[Preset] = []
        self.reads = 0
        self.applied: dict[str, int] = {}

    async def list_presets(self) -> list[Preset]:
        self.reads += 1
        return list(self.presets)

    async def applied_revisions(self, oui: str, serial_number: str) -> dict[str, int]:
        return dict(self.applied)

    async def mark_applied(
        self, oui: str, serial_number: str, preset: str, revision: int, now: float
    ) -> None:
        self.applied[preset] = revision


class NoTags:
    async def tags_of(self, oui: str, serial_number: str) -> list[str]:
        return []


class Tasks:
    def __init__(self) -> None:
        self.added: list[str] = []

    async def add_task(
        self, oui: str, serial_number: str, name: str, arguments: dict[str, Any], now: float
    ) -> Task:
        self.added.append(name)
        return Task(
            id=len(self.added),
            oui=oui,
            serial_number=serial_number,
            name=name,
            arguments=arguments,
            status=TaskStatus.QUEUED,
            attempts=0,
            created_at=now,
            updated_at=now,
            next_attempt_at=now,
        )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _applier() -> tuple[PresetApplier, Presets, Tasks, Clock]:
    presets, tasks, clock = Presets(), Tasks(), Clock()
    applier = PresetApplier(presets, NoTags(), tasks, refresh_seconds=5.0, monotonic=clock)  # type: ignore[arg-type]
    return applier, presets, tasks, clock


async def test_no_presets_is_read_once_per_refresh_interval() -> None:
    applier, presets, tasks, clock = _applier()
    for _ in range(3):
        assert await applier.apply(INFORM, 1.0) == []
    assert presets.reads == 1
    clock.now += 5.0  # exactly the interval: still fresh
    assert await applier.apply(INFORM, 1.0) == []
    assert presets.reads == 1
    assert tasks.added == []


async def test_a_preset_written_elsewhere_is_applied_once_the_empty_list_ages_out() -> None:
    applier, presets, tasks, clock = _applier()
    assert await applier.apply(INFORM, 1.0) == []
    presets.presets.append(PRESET)  # another process wrote it
    clock.now += 5.5
    applied = await applier.apply(INFORM, 2.0)
    assert [a.application.preset.name for a in applied] == ["reboot-rg"]
    assert tasks.added == ["reboot"]
    assert presets.reads == 2


async def test_a_preset_written_through_this_process_is_applied_at_the_next_inform() -> None:
    applier, presets, tasks, _ = _applier()
    assert await applier.apply(INFORM, 1.0) == []
    presets.presets.append(PRESET)
    applier.invalidate()
    applied = await applier.apply(INFORM, 2.0)
    assert len(applied) == 1
    assert tasks.added == ["reboot"]
