"""Applying presets in a device's session: match, queue the action as tasks, remember.

Called by the composite session handler when the Inform is accepted (so the tasks it
queues run in this very session, after provisioning). Every periodic inform asks, so
it is cheap when nothing is due: the presets are cached for ``refresh_seconds`` (and
reloaded at once after a write through this process); with no presets there is no
query at all; tags are read only when a preset is conditioned on a tag; the device's
applied revisions only when some preset matches.

What it queues: one ``setParameterValues`` task with the values the preset wins (see
`traceacs.presets.model.plan`) and the preset's own tasks, in order. A store failure
is logged and skips presets for this session (never breaks it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from traceacs.cwmp import messages as m
from traceacs.presets.model import DeviceFacts, Preset, PresetApplication, plan
from traceacs.provisioning.repository import RepositoryError
from traceacs.tasks.model import TaskError
from traceacs.tasks.store import TaskStore

log = logging.getLogger("traceacs.presets")


class PresetStore(Protocol):
    async def list_presets(self) -> list[Preset]: ...

    async def applied_revisions(self, oui: str, serial_number: str) -> dict[str, int]: ...

    async def mark_applied(
        self, oui: str, serial_number: str, preset: str, revision: int, now: float
    ) -> None: ...


class TagReader(Protocol):
    async def tags_of(self, oui: str, serial_number: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class AppliedPreset:
    application: PresetApplication
    task_ids: tuple[int, ...]


def facts_of(inform: m.Inform, tags: frozenset[str] = frozenset()) -> DeviceFacts:
    firmware = next(
        (str(p.value) for p in inform.parameters if p.name.endswith(".SoftwareVersion")), None
    )
    device = inform.device_id
    return DeviceFacts(device.oui, device.product_class, firmware, inform.event_codes, tags)


class PresetApplier:
    def __init__(
        self,
        presets: PresetStore,
        tags: TagReader,
        tasks: TaskStore,
        *,
        refresh_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._presets = presets
        self._tags = tags
        self._tasks = tasks
        self._refresh = refresh_seconds
        self._monotonic = monotonic
        self._cached: list[Preset] | None = None
        self._loaded_at = 0.0

    def invalidate(self) -> None:
        """Presets were written: reload at the next inform."""
        self._cached = None

    def _known(self) -> list[Preset] | None:
        """The presets as read within ``refresh_seconds``; None: read them again."""
        if self._cached is None or self._monotonic() - self._loaded_at > self._refresh:
            return None
        return self._cached

    def known_none(self) -> bool:
        """No presets at all, as read within ``refresh_seconds``: no preset can apply,
        and telling needs no read (a quiet periodic session asks)."""
        return self._known() == []

    async def _all(self) -> list[Preset]:
        presets = self._known()
        if presets is None:
            presets = self._cached = await self._presets.list_presets()
            self._loaded_at = self._monotonic()
        return presets

    async def apply(self, inform: m.Inform, now: float) -> list[AppliedPreset]:
        if self.known_none():
            return []  # no presets, known afresh: what `_apply` answers, without its awaits
        try:
            return await self._apply(inform, now)
        except RepositoryError as exc:
            log.warning("presets skipped for this session: %s", type(exc).__name__)
            return []

    async def _apply(self, inform: m.Inform, now: float) -> list[AppliedPreset]:
        presets = await self._all()
        if not presets:
            return []
        device = inform.device_id
        tags: frozenset[str] = frozenset()
        if any(p.condition.tag is not None for p in presets):
            tags = frozenset(await self._tags.tags_of(device.oui, device.serial_number))
        facts = facts_of(inform, tags)
        if not any(p.condition.matches(facts) for p in presets):
            return []
        applied = await self._presets.applied_revisions(device.oui, device.serial_number)
        out = []
        for application in plan(presets, facts, applied):
            ids = await self._queue(application, device.oui, device.serial_number, now)
            preset = application.preset
            await self._presets.mark_applied(
                device.oui, device.serial_number, preset.name, preset.revision, now
            )
            out.append(AppliedPreset(application, ids))
        return out

    async def _queue(
        self, application: PresetApplication, oui: str, serial: str, now: float
    ) -> tuple[int, ...]:
        bodies: list[tuple[str, dict[str, object]]] = []
        if application.parameter_values:
            values = [list(v) for v in application.parameter_values]
            bodies.append(("setParameterValues", {"parameterValues": values}))
        for task in application.preset.tasks:
            bodies.append((str(task["name"]), {k: v for k, v in task.items() if k != "name"}))
        ids = []
        for name, arguments in bodies:
            try:
                ids.append((await self._tasks.add_task(oui, serial, name, arguments, now)).id)
            except TaskError as exc:  # the device is not in the inventory
                log.info("preset %s not queued: %s", application.preset.name, exc)
        return tuple(ids)
