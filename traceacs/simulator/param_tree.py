"""Simulated CPE parameter trees: one shared default tree, one small overlay per CPE.

10,000 simulated CPEs must fit in one process under 100 MB, while each carries a tree of
several hundred parameters. So the default tree of a data model (generated into
``data/*.json`` by ``tools/gen_sim_trees.py``) is loaded once and never mutated, and a
`ParamTree` holds only what differs on its CPE: changed values, added and deleted
instances, next instance numbers and attributes (copy-on-write; an untouched CPE costs
a handful of empty slots).

Default values of the form ``"$name"`` (``$serial_number``, ``$connection_request_url``,
...) stand for per-CPE identity values; the CPE resolves them when it reads a value.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Literal

from traceacs.cwmp.messages import ParamValue

DataModel = Literal["tr181", "tr098"]
DATA_MODELS: tuple[DataModel, ...] = ("tr181", "tr098")
ROOTS: dict[DataModel, str] = {"tr181": "Device.", "tr098": "InternetGatewayDevice."}

_INTEGER_TYPES = frozenset({"int", "unsignedInt", "long", "unsignedLong"})
_UNSIGNED = frozenset({"unsignedInt", "unsignedLong"})
_INT_LIMITS = {
    "int": (-(2**31), 2**31 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "long": (-(2**63), 2**63 - 1),
    "unsignedLong": (0, 2**64 - 1),
}

INVALID_NAME = 9005
INVALID_TYPE = 9006
INVALID_VALUE = 9007
NOT_WRITABLE = 9008


@dataclass(frozen=True, slots=True)
class ParamDef:
    """One parameter of the default tree: type, access, default and constraints.

    ``minimum``/``maximum`` bound an integer's value or a string's length; ``hidden``
    parameters (passwords, keys) read back as an empty string, as TR-069 requires.
    """

    name: str
    xsd_type: str
    writable: bool
    default: ParamValue
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] | None = None
    hidden: bool = False

    def check(self, value: ParamValue, xsd_type: str) -> int:
        """0 if ``value`` (sent as ``xsd_type``) may be set here, else 9006 or 9007."""
        if self.xsd_type in _INTEGER_TYPES:
            if xsd_type not in _INTEGER_TYPES or isinstance(value, bool):
                return INVALID_TYPE
            if not isinstance(value, int):
                return INVALID_TYPE
            low, high = _INT_LIMITS[self.xsd_type]
            if not low <= value <= high:
                return INVALID_VALUE
            if self.minimum is not None and value < self.minimum:
                return INVALID_VALUE
            if self.maximum is not None and value > self.maximum:
                return INVALID_VALUE
            return 0
        if xsd_type != self.xsd_type:
            return INVALID_TYPE
        if self.xsd_type == "boolean":
            return 0 if isinstance(value, bool) else INVALID_TYPE
        if self.xsd_type == "dateTime":
            return 0 if isinstance(value, datetime) else INVALID_TYPE
        if self.xsd_type == "base64":
            return 0 if isinstance(value, bytes) else INVALID_TYPE
        if not isinstance(value, str):
            return INVALID_TYPE
        if self.maximum is not None and len(value) > self.maximum:
            return INVALID_VALUE
        if self.minimum is not None and len(value) < self.minimum:
            return INVALID_VALUE
        if self.enum is not None and value not in self.enum:
            return INVALID_VALUE
        return 0


@dataclass(frozen=True, slots=True)
class TableTemplate:
    """What AddObject creates in a table: the first instance's parameters and objects,
    named relative to the instance (``"SSID"``, ``"Stats.BytesSent"``, ``"Stats."``)."""

    params: Mapping[str, ParamDef]
    objects: tuple[str, ...]


class DefaultTree:
    """The immutable default tree of one data model, shared by every CPE of that model."""

    def __init__(self, root: str, params: list[ParamDef], objects: Mapping[str, bool]) -> None:
        self.root = root
        self.params: Mapping[str, ParamDef] = {p.name: p for p in params}
        self.objects: Mapping[str, bool] = dict(objects)
        """Object path -> whether it is an instance the ACS may delete."""
        self.sorted_names: tuple[str, ...] = tuple(sorted([*self.params, *self.objects]))
        self.tables: Mapping[str, TableTemplate] = self._tables()

    def _tables(self) -> dict[str, TableTemplate]:
        tables: dict[str, TableTemplate] = {}
        for path, deletable in sorted(self.objects.items()):
            if not deletable:
                continue
            table, _, _ = path[:-1].rpartition(".")
            table += "."
            if table in tables:
                continue
            rel_params = {
                name[len(path) :]: replace(p, default=_blank(p.xsd_type))
                for name, p in self.params.items()
                if name.startswith(path)
            }
            rel_objects = tuple(
                o[len(path) :] for o in self.objects if o.startswith(path) and o != path
            )
            tables[table] = TableTemplate(rel_params, rel_objects)
        return tables

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DefaultTree:
        params = []
        for name, xsd, writable, default, cons in data["params"]:
            cons = cons or {}
            enum = cons.get("enum")
            params.append(
                ParamDef(
                    name=name,
                    xsd_type=xsd,
                    writable=bool(writable),
                    default=_typed(xsd, default),
                    minimum=cons.get("min"),
                    maximum=cons.get("max"),
                    enum=tuple(enum) if enum else None,
                    hidden=bool(cons.get("hidden", False)),
                )
            )
        objects = {path: bool(deletable) for path, deletable in data["objects"]}
        return cls(data["root"], params, objects)


def _blank(xsd: str) -> ParamValue:
    """The value a parameter of a freshly added instance starts with."""
    if xsd in _INTEGER_TYPES:
        return 0
    if xsd == "boolean":
        return False
    if xsd == "dateTime":
        return datetime(1, 1, 1, tzinfo=UTC)
    return ""


def _typed(xsd: str, default: Any) -> ParamValue:
    if xsd == "dateTime" and isinstance(default, str) and not default.startswith("$"):
        from traceacs.cwmp.values import parse_datetime

        return parse_datetime(default)
    if isinstance(default, bool | int | str):
        return default
    return str(default)


@cache
def default_tree(model: DataModel) -> DefaultTree:
    """The shared default tree of ``model`` (loaded once per process)."""
    text = resources.files("traceacs.simulator").joinpath(f"data/{model}.json").read_text("utf-8")
    return DefaultTree.from_json(json.loads(text))


class ParamTree:
    """One CPE's view of its tree: the shared defaults plus its own overlay.

    Every mutable part starts as ``None`` and is created on first write, which keeps an
    untouched CPE at the size of an object with six slots.
    """

    __slots__ = ("_added", "_attributes", "_deleted", "_next_instance", "_values", "defaults")

    def __init__(self, defaults: DefaultTree) -> None:
        self.defaults = defaults
        self._values: dict[str, ParamValue] | None = None
        self._added: dict[str, str] | None = None
        """Added instance path -> its table path."""
        self._deleted: set[str] | None = None
        self._next_instance: dict[str, int] | None = None
        self._attributes: dict[str, tuple[int, tuple[str, ...]]] | None = None

    # ------------------------------------------------------------------ lookups

    @property
    def root(self) -> str:
        return self.defaults.root

    def _is_deleted(self, name: str) -> bool:
        return bool(self._deleted) and any(name.startswith(d) for d in self._deleted or ())

    def _added_instance_of(self, name: str) -> tuple[str, str] | None:
        if not self._added:
            return None
        for inst, table in self._added.items():
            if name.startswith(inst):
                return inst, table
        return None

    def lookup(self, name: str) -> ParamDef | None:
        """The definition of parameter ``name`` if this CPE has it."""
        pdef = self.defaults.params.get(name)
        if pdef is not None:
            return None if self._is_deleted(name) else pdef
        found = self._added_instance_of(name)
        if found is None or self._is_deleted(name):
            return None
        inst, table = found
        rel = self.defaults.tables[table].params.get(name[len(inst) :])
        return None if rel is None else replace(rel, name=name)

    def has_object(self, path: str) -> bool:
        if path in self.defaults.objects:
            return not self._is_deleted(path)
        found = self._added_instance_of(path)
        if found is None or self._is_deleted(path):
            return False
        inst, table = found
        return path == inst or path[len(inst) :] in self.defaults.tables[table].objects

    def get(self, name: str) -> ParamValue:
        """The raw value (identity placeholders unresolved); KeyError if absent."""
        if self._values is not None and name in self._values:
            return self._values[name]
        pdef = self.lookup(name)
        if pdef is None:
            raise KeyError(name)
        return pdef.default

    def changed(self) -> Mapping[str, ParamValue]:
        """The overlay: every value set on this CPE."""
        return self._values or {}

    def set_values(self, values: Mapping[str, ParamValue]) -> None:
        """Write already-validated values (the caller checks them all first)."""
        if self._values is None:
            self._values = {}
        for name, value in values.items():
            pdef = self.defaults.params.get(name)
            # keep the shared key object, not the parser's copy of the name
            self._values[pdef.name if pdef is not None else name] = value

    def names_under(self, prefix: str) -> Iterator[str]:
        """Every parameter and object path under ``prefix`` (inclusive), sorted."""
        from bisect import bisect_left

        names = self.defaults.sorted_names
        start = bisect_left(names, prefix)
        out: list[str] = []
        for name in names[start:]:
            if not name.startswith(prefix):
                break
            if not self._is_deleted(name):
                out.append(name)
        for inst, table in (self._added or {}).items():
            if not (inst.startswith(prefix) or prefix.startswith(inst)) or self._is_deleted(inst):
                continue
            tmpl = self.defaults.tables[table]
            for rel in (*tmpl.params, *tmpl.objects, ""):
                full = inst + rel
                if full.startswith(prefix):
                    out.append(full)
        out.sort(key=_natural)
        return iter(out)

    def is_parameter(self, name: str) -> bool:
        return not name.endswith(".")

    # ------------------------------------------------------------- objects

    def add_instance(self, table: str) -> int | None:
        """Create a new instance of ``table``; its number, or None if not a table."""
        if table not in self.defaults.tables or not self.has_object(table):
            return None
        if self._next_instance is None:
            self._next_instance = {}
        number = self._next_instance.get(table)
        if number is None:
            existing = [int(n.rstrip(".").rpartition(".")[2]) for n in self._instances_of(table)]
            number = max(existing, default=0) + 1
        self._next_instance[table] = number + 1
        if self._added is None:
            self._added = {}
        self._added[f"{table}{number}."] = table
        return number

    def _instances_of(self, table: str) -> list[str]:
        found = [
            o
            for o in self.defaults.objects
            if o.startswith(table) and o[len(table) :].rstrip(".").isdigit()
        ]
        return found + [i for i, t in (self._added or {}).items() if t == table]

    def delete_instance(self, path: str) -> bool:
        """Delete an instance (default or added); False if it is not a deletable one."""
        if not self.has_object(path):
            return False
        if self._added is not None and path in self._added:
            del self._added[path]
        elif not self.defaults.objects.get(path, False):
            return False
        if self._deleted is None:
            self._deleted = set()
        self._deleted.add(path)
        if self._values:
            for name in [n for n in self._values if n.startswith(path)]:
                del self._values[name]
        return True

    # ------------------------------------------------------------- attributes

    def attributes(self, name: str) -> tuple[int, tuple[str, ...]]:
        return (self._attributes or {}).get(name, (0, ()))

    def set_attributes(
        self, name: str, notification: int | None, access_list: tuple[str, ...] | None
    ) -> None:
        current = self.attributes(name)
        new = (
            current[0] if notification is None else notification,
            current[1] if access_list is None else access_list,
        )
        if self._attributes is None:
            self._attributes = {}
        self._attributes[name] = new

    # ------------------------------------------------------------- reset

    def reset(self) -> None:
        """Factory reset: drop the whole overlay."""
        self._values = self._added = self._deleted = None
        self._next_instance = self._attributes = None

    def snapshot(self) -> dict[str, Any]:
        """The overlay as plain data (what survives a simulated power cycle on disk)."""
        return {
            "values": {k: _plain(v) for k, v in (self._values or {}).items()},
            "added": dict(self._added or {}),
            "deleted": sorted(self._deleted or ()),
            "next_instance": dict(self._next_instance or {}),
            "attributes": {k: [v[0], list(v[1])] for k, v in (self._attributes or {}).items()},
        }

    def restore(self, snap: Mapping[str, Any]) -> None:
        self.reset()
        self._values = {k: _unplain(v) for k, v in snap["values"].items()} or None
        self._added = dict(snap["added"]) or None
        self._deleted = set(snap["deleted"]) or None
        self._next_instance = dict(snap["next_instance"]) or None
        attrs = {k: (int(v[0]), tuple(v[1])) for k, v in snap["attributes"].items()}
        self._attributes = attrs or None


def _plain(value: ParamValue) -> Any:
    """A JSON-safe form of a value (dateTime and base64 values are tagged)."""
    if isinstance(value, datetime):
        return {"dateTime": value.isoformat()}
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return value


def _unplain(value: Any) -> ParamValue:
    if isinstance(value, dict):
        if "dateTime" in value:
            return datetime.fromisoformat(value["dateTime"])
        return base64.b64decode(value["base64"])
    return value  # type: ignore[no-any-return]


def _natural(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts ``SSID.2.`` before ``SSID.10.``."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in name.split("."))
