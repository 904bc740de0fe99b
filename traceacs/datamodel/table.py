"""The data-model tables: which parameters a TR-181 or TR-098 device has, typed.

Why a table and not the XML: the config builder checks every name and xsd type it emits
before a single value is pushed, on the provisioning path, so lookups must be a dict
hit. ``tools/gen_datamodel.py`` reduces the Broadband Forum XML (plus the TR-104
VoiceService parameters the builder uses) to ``tr181.json.gz`` / ``tr098.json.gz``
beside this module; this module loads them once per process.

Concrete names carry instance numbers (``Device.WiFi.SSID.3.SSID``); the table stores
templates (``Device.WiFi.SSID.{i}.SSID``). `DataModel.lookup` turns the first into the
second by replacing every all-digit path segment, which is exact for BBF models: a
numeric segment is always an instance number there.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final, Literal, cast, get_args

DataModelRoot = Literal["Device.", "InternetGatewayDevice."]
DATA_MODEL_ROOTS: Final[tuple[DataModelRoot, ...]] = get_args(DataModelRoot)

TABLE_FILES: Final[dict[DataModelRoot, str]] = {
    "Device.": "tr181.json.gz",
    "InternetGatewayDevice.": "tr098.json.gz",
}
TABLE_FORMAT: Final = 1

_INSTANCE = re.compile(r"\.\d+(?=\.|$)")


def template_of(name: str) -> str:
    """``Device.WiFi.SSID.3.SSID`` -> ``Device.WiFi.SSID.{i}.SSID`` (objects too)."""
    return _INSTANCE.sub(".{i}", name)


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    """One parameter of the model.

    ``xsd_type`` is what CWMP puts on the wire (no ``xsd:`` prefix). ``hidden``: the
    CPE reads it back as an empty string (passwords, keys), so a GetParameterValues
    cannot verify it and its value is a secret.
    """

    path_template: str
    xsd_type: str
    writable: bool
    hidden: bool


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    """One object of the model; ``path_template`` ends with a dot.

    ``multi_instance``: a table (``...{i}.``). ``writable``: for a table, the ACS may
    AddObject/DeleteObject its instances.
    """

    path_template: str
    multi_instance: bool
    writable: bool


class DataModel:
    """A loaded table: parameter and object specs keyed by path template."""

    __slots__ = ("model_name", "objects", "parameters", "root", "sources", "spec")

    def __init__(
        self,
        *,
        root: DataModelRoot,
        model_name: str,
        spec: str,
        sources: tuple[str, ...],
        parameters: dict[str, ParameterSpec],
        objects: dict[str, ObjectSpec],
    ) -> None:
        self.root: Final = root
        self.model_name: Final = model_name
        self.spec: Final = spec
        self.sources: Final = sources
        self.parameters: Final = parameters
        self.objects: Final = objects

    def __repr__(self) -> str:
        return (
            f"DataModel({self.model_name!r}, parameters={len(self.parameters)}, "
            f"objects={len(self.objects)})"
        )

    def lookup(self, name: str) -> ParameterSpec | None:
        """The spec of a concrete or template parameter name, or ``None`` if unknown."""
        spec = self.parameters.get(name)
        if spec is None:
            spec = self.parameters.get(template_of(name))
        return spec

    def lookup_object(self, path: str) -> ObjectSpec | None:
        """The spec of a concrete or template object path (ending with a dot)."""
        spec = self.objects.get(path)
        if spec is None:
            spec = self.objects.get(template_of(path))
        return spec


def _parse(root: DataModelRoot, raw: bytes) -> DataModel:
    table = json.loads(gzip.decompress(raw))
    if table.get("format") != TABLE_FORMAT or table.get("root") != root:
        raise ValueError(f"data-model table for {root} has an unexpected format or root")
    parameters = {
        path: ParameterSpec(path, xsd_type, "w" in flags, "h" in flags)
        for path, xsd_type, flags in cast(list[list[str]], table["parameters"])
    }
    objects = {
        path: ObjectSpec(path, multi, writable)
        for path, multi, writable in cast(list[tuple[str, bool, bool]], table["objects"])
    }
    return DataModel(
        root=root,
        model_name=str(table["model"]),
        spec=str(table["spec"]),
        sources=tuple(table["sources"]),
        parameters=parameters,
        objects=objects,
    )


def load_data_model(root: DataModelRoot) -> DataModel:
    """The packaged table for ``root`` (loaded once per process, then shared)."""
    if root not in TABLE_FILES:
        raise ValueError(f"unknown data-model root {root!r}; expected one of {DATA_MODEL_ROOTS}")
    return _load(root)


@cache
def _load(root: DataModelRoot) -> DataModel:
    # behind a typed wrapper: functools.cache would erase the Literal parameter type
    raw = resources.files("traceacs.datamodel").joinpath(TABLE_FILES[root]).read_bytes()
    return _parse(root, raw)
