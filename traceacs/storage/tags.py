# SQL text is assembled only from constants; values are always bound parameters.
"""Operator tags on devices (``device_tags``): add, remove, read one or many devices'."""

from __future__ import annotations

from collections.abc import Sequence

from traceacs.provisioning.repository import DeviceNotFound
from traceacs.storage.database import Database, UniqueViolation

_DEVICE_ID = "SELECT id FROM devices WHERE oui = $1 AND serial_number = $2"
_TAGS_OF_SERIALS = (
    "SELECT d.oui, d.serial_number, t.tag FROM device_tags t"
    " JOIN devices d ON d.id = t.device_id WHERE d.serial_number IN ({marks}) ORDER BY t.tag"
)


class SqlTagStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_tag(self, oui: str, serial_number: str, tag: str) -> bool:
        """True when added, False when the device had it already."""
        async with self.db.transaction() as tx:
            device_id = await tx.fetchval(_DEVICE_ID, oui, serial_number)
            if device_id is None:
                raise DeviceNotFound(f"no device {oui}-{serial_number}")
            if await tx.fetchval(
                "SELECT 1 FROM device_tags WHERE device_id = $1 AND tag = $2", device_id, tag
            ):
                return False
            try:
                await tx.execute(
                    "INSERT INTO device_tags (device_id, tag) VALUES ($1, $2)", device_id, tag
                )
            except UniqueViolation:
                return False
        return True

    async def remove_tag(self, oui: str, serial_number: str, tag: str) -> bool:
        removed = await self.db.execute(
            "DELETE FROM device_tags WHERE tag = $3 AND device_id IN"
            " (SELECT id FROM devices WHERE oui = $1 AND serial_number = $2)",
            oui,
            serial_number,
            tag,
        )
        return removed > 0

    async def tags_of(self, oui: str, serial_number: str) -> list[str]:
        rows = await self.db.fetch(
            "SELECT t.tag FROM device_tags t JOIN devices d ON d.id = t.device_id"
            " WHERE d.oui = $1 AND d.serial_number = $2 ORDER BY t.tag",
            oui,
            serial_number,
        )
        return [r["tag"] for r in rows]

    async def tags_of_many(
        self, devices: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[str]]:
        """Tags of a page of devices, in one query per 500 devices."""
        out: dict[tuple[str, str], list[str]] = {key: [] for key in devices}
        serials = sorted({serial for _, serial in devices})
        for start in range(0, len(serials), 500):
            chunk = serials[start : start + 500]
            marks = ", ".join(f"${i + 1}" for i in range(len(chunk)))
            sql = _TAGS_OF_SERIALS.replace("{marks}", marks)  # placeholders only
            rows = await self.db.fetch(sql, *chunk)
            for row in rows:
                key = (row["oui"], row["serial_number"])
                if key in out:
                    out[key].append(row["tag"])
        return out
