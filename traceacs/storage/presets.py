# SQL text is assembled only from constants; values are always bound parameters.
"""Presets in SQL, and which revision of each preset a device has got.

`put_preset` bumps the revision only when the condition, action or weight changed, so
re-sending the same document (an idempotent deploy script) pushes nothing again. The
action is sealed at rest (`traceacs.storage.secret_box`): a preset may set a password.
"""

from __future__ import annotations

import json
from typing import Any, Final

from traceacs.presets.model import Preset, PresetCondition
from traceacs.storage.database import Database, Row
from traceacs.storage.rows import dumps
from traceacs.storage.secret_box import SecretBox, open_with, seal_with

_SELECT_ONE: Final = (
    "SELECT name, weight, condition, action, revision, created_at, updated_at"
    " FROM presets WHERE name = $1"
)
_SELECT_ALL: Final = (
    "SELECT name, weight, condition, action, revision, created_at, updated_at"
    " FROM presets ORDER BY weight DESC, name"
)
PRESET_ACTION: Final = "presets.action"


def _preset(row: Row, secrets: SecretBox | None) -> Preset:
    action: dict[str, Any] = json.loads(open_with(secrets, row["action"], PRESET_ACTION))
    return Preset(
        name=row["name"],
        weight=int(row["weight"]),
        condition=PresetCondition(**json.loads(row["condition"])),
        parameter_values=tuple(tuple(v) for v in action.get("parameterValues", [])),
        tasks=tuple(action.get("tasks", [])),
        revision=int(row["revision"]),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
    )


class SqlPresetStore:
    def __init__(self, db: Database, secrets: SecretBox | None = None) -> None:
        self.db = db
        self.secrets = secrets

    async def list_presets(self) -> list[Preset]:
        return [_preset(r, self.secrets) for r in await self.db.fetch(_SELECT_ALL)]

    async def get_preset(self, name: str) -> Preset | None:
        row = await self.db.fetchrow(_SELECT_ONE, name)
        return None if row is None else _preset(row, self.secrets)

    async def put_preset(self, preset: Preset, now: float) -> tuple[Preset, bool]:
        """Store ``preset`` (create or replace); (stored preset, created)."""
        condition = dumps(preset.condition.to_json())
        action = dumps(preset.action_json())
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(_SELECT_ONE, preset.name)
            if row is None:
                await tx.execute(
                    "INSERT INTO presets (name, weight, condition, action, revision,"
                    " created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $5, $5)",
                    preset.name,
                    preset.weight,
                    condition,
                    seal_with(self.secrets, action, PRESET_ACTION),
                    float(now),
                )
            elif (
                row["weight"],
                row["condition"],
                open_with(self.secrets, row["action"], PRESET_ACTION),
            ) != (
                preset.weight,
                condition,
                action,
            ):
                await tx.execute(
                    "UPDATE presets SET weight = $2, condition = $3, action = $4,"
                    " revision = revision + 1, updated_at = $5 WHERE name = $1",
                    preset.name,
                    preset.weight,
                    condition,
                    seal_with(self.secrets, action, PRESET_ACTION),
                    float(now),
                )
            stored = await tx.fetchrow(_SELECT_ONE, preset.name)
        assert stored is not None
        return _preset(stored, self.secrets), row is None

    async def delete_preset(self, name: str) -> bool:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM preset_applications WHERE preset = $1", name)
            return await tx.execute("DELETE FROM presets WHERE name = $1", name) > 0

    async def applied_revisions(self, oui: str, serial_number: str) -> dict[str, int]:
        rows = await self.db.fetch(
            "SELECT a.preset, a.revision FROM preset_applications a"
            " JOIN devices d ON d.id = a.device_id WHERE d.oui = $1 AND d.serial_number = $2",
            oui,
            serial_number,
        )
        return {r["preset"]: int(r["revision"]) for r in rows}

    async def mark_applied(
        self, oui: str, serial_number: str, preset: str, revision: int, now: float
    ) -> None:
        async with self.db.transaction() as tx:
            device_id = await tx.fetchval(
                "SELECT id FROM devices WHERE oui = $1 AND serial_number = $2", oui, serial_number
            )
            if device_id is None:
                return
            await tx.execute(
                "DELETE FROM preset_applications WHERE device_id = $1 AND preset = $2",
                device_id,
                preset,
            )
            await tx.execute(
                "INSERT INTO preset_applications (device_id, preset, revision, applied_at)"
                " VALUES ($1, $2, $3, $4)",
                device_id,
                preset,
                revision,
                float(now),
            )
