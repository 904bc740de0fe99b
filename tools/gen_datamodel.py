"""Generate the compact data-model tables shipped in ``traceacs/datamodel/``.

Why: the config builder must check every parameter name and xsd type it emits against
the device's data model before anything is pushed, but the Broadband Forum XML is 5 MB
and lives outside the package (``../shared/cwmp/data-models/``). This script reduces
each full model to the facts the ACS needs and writes them, gzipped and
deterministically, into the package, where ``traceacs.datamodel`` loads them. Nothing
at run time reads the XML.

Usage (from the repository root)::

    .venv/bin/python -m tools.gen_datamodel [--source DIR] [--out DIR]

Defaults: ``--source ../shared/cwmp/data-models`` (relative to the repo root) and
``--out traceacs/datamodel``. It writes ``tr181.json.gz`` (from
``tr-181-2-17-0-cwmp-full.xml``) and ``tr098.json.gz`` (from ``tr-098-1-8-0-full.xml``).
``tests/datamodel/test_generated_tables.py`` regenerates in memory and compares, so a
change here or in the XML without re-running the script fails the suite.

What a table holds (JSON, gzip with mtime 0 so the bytes are reproducible)::

    {"format": 1, "root": "Device.", "model": "Device:2.17", "spec": "urn:...",
     "sources": ["tr-181-2-17-0-cwmp-full.xml", "TR-104 VoiceService supplement"],
     "objects": [[path, multi_instance, writable], ...],       # sorted by path
     "parameters": [[path, xsd_type, flags], ...]}             # sorted by path

Paths use ``{i}`` for instance numbers (``Device.WiFi.SSID.{i}.SSID``). ``xsd_type`` is
the type CWMP puts on the wire: named dataTypes (``IPAddress``, ``StatsCounter64``,
``Alias``...) are resolved through their ``base`` chain to the primitive, and a
``<list/>`` of anything is a comma-separated ``string``. ``decimal`` (used by a few
TR-181 parameters) has no narrower CWMP type and is kept as ``decimal``. ``flags`` is a
string: ``w`` writable (``readWrite`` or ``writeOnceReadOnly``), ``h`` hidden (the CPE
reads it back as an empty string: ``secured``/``hidden`` syntax, or a description that
says "When read, this parameter returns an empty string"). An object is writable when
its access is ``readWrite`` (for a multi-instance object: AddObject/DeleteObject work).

The TR-104 supplement: both models leave ``Services.VoiceService`` to TR-104, which is
not among the shared XML files. Real CPEs (see the Huawei dump in
``../shared/cwmp/sample-device``) implement it, and the config builder needs its SIP
parameters, so the handful of TR-104 parameters the builder uses are declared below
(``_TR104_V2`` for TR-181's ``Device.Services.VoiceService.{i}.``, ``_TR104_V1`` for
TR-098's ``InternetGatewayDevice.Services.VoiceService.{i}.``) with their TR-104 names,
types and access, and merged into the tables.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

FORMAT_VERSION = 1

#: output file name -> (source XML file name, root object name)
MODELS: Mapping[str, tuple[str, str]] = {
    "tr181.json.gz": ("tr-181-2-17-0-cwmp-full.xml", "Device."),
    "tr098.json.gz": ("tr-098-1-8-0-full.xml", "InternetGatewayDevice."),
}

#: the primitive types a parameter's syntax may use directly
_PRIMITIVES = frozenset(
    {
        "string",
        "int",
        "unsignedInt",
        "long",
        "unsignedLong",
        "boolean",
        "dateTime",
        "base64",
        "hexBinary",
        "decimal",
    }
)

_EMPTY_ON_READ = re.compile(r"when\s+read,\s+this\s+parameter\s+returns\s+an\s+empty", re.I)

# --------------------------------------------------------------- TR-104 supplement
# (relative path under the VoiceService.{i}. object, xsd type, writable, hidden)
# Objects below are (relative path, writable); all of them are multi-instance tables.

_SupplementParam = tuple[str, str, bool, bool]

_TR104_V2_OBJECTS: tuple[tuple[str, bool], ...] = (
    ("", False),
    ("SIP.", False),
    ("SIP.Client.{i}.", True),
    ("SIP.Network.{i}.", True),
    ("CallControl.", False),
    ("CallControl.Line.{i}.", True),
)
_TR104_V2: tuple[_SupplementParam, ...] = (
    ("SIP.Client.{i}.Enable", "boolean", True, False),
    ("SIP.Client.{i}.Network", "string", True, False),
    ("SIP.Client.{i}.RegisterURI", "string", True, False),
    ("SIP.Client.{i}.AuthUserName", "string", True, False),
    ("SIP.Client.{i}.AuthPassword", "string", True, True),
    ("SIP.Client.{i}.Status", "string", False, False),
    ("SIP.Network.{i}.Enable", "boolean", True, False),
    ("SIP.Network.{i}.ProxyServer", "string", True, False),
    ("SIP.Network.{i}.ProxyServerPort", "unsignedInt", True, False),
    ("SIP.Network.{i}.RegistrarServer", "string", True, False),
    ("SIP.Network.{i}.RegistrarServerPort", "unsignedInt", True, False),
    ("SIP.Network.{i}.UserAgentDomain", "string", True, False),
    ("SIP.Network.{i}.VLANIDMark", "int", True, False),
    ("CallControl.Line.{i}.Enable", "boolean", True, False),
    ("CallControl.Line.{i}.DirectoryNumber", "string", True, False),
    ("CallControl.Line.{i}.Provider", "string", True, False),
    ("CallControl.Line.{i}.Status", "string", False, False),
)
_TR104_V1_OBJECTS: tuple[tuple[str, bool], ...] = (
    ("", False),
    ("VoiceProfile.{i}.", True),
    ("VoiceProfile.{i}.SIP.", False),
    ("VoiceProfile.{i}.Line.{i}.", True),
    ("VoiceProfile.{i}.Line.{i}.SIP.", False),
)
_TR104_V1: tuple[_SupplementParam, ...] = (
    ("VoiceProfile.{i}.Enable", "string", True, False),
    ("VoiceProfile.{i}.SIP.ProxyServer", "string", True, False),
    ("VoiceProfile.{i}.SIP.ProxyServerPort", "unsignedInt", True, False),
    ("VoiceProfile.{i}.SIP.RegistrarServer", "string", True, False),
    ("VoiceProfile.{i}.SIP.RegistrarServerPort", "unsignedInt", True, False),
    ("VoiceProfile.{i}.SIP.UserAgentDomain", "string", True, False),
    ("VoiceProfile.{i}.SIP.VLANIDMark", "int", True, False),
    ("VoiceProfile.{i}.Line.{i}.Enable", "string", True, False),
    ("VoiceProfile.{i}.Line.{i}.DirectoryNumber", "string", True, False),
    ("VoiceProfile.{i}.Line.{i}.Status", "string", False, False),
    ("VoiceProfile.{i}.Line.{i}.SIP.AuthUserName", "string", True, False),
    ("VoiceProfile.{i}.Line.{i}.SIP.AuthPassword", "string", True, True),
    ("VoiceProfile.{i}.Line.{i}.SIP.URI", "string", True, False),
)
SUPPLEMENTS: Mapping[str, tuple[tuple[tuple[str, bool], ...], tuple[_SupplementParam, ...]]] = {
    "Device.": (_TR104_V2_OBJECTS, _TR104_V2),
    "InternetGatewayDevice.": (_TR104_V1_OBJECTS, _TR104_V1),
}
SUPPLEMENT_SOURCE = "TR-104 VoiceService supplement (tools/gen_datamodel.py)"


@dataclass(frozen=True, slots=True)
class _Param:
    path: str
    xsd_type: str
    writable: bool
    hidden: bool

    def row(self) -> list[str]:
        flags = ("w" if self.writable else "") + ("h" if self.hidden else "")
        return [self.path, self.xsd_type, flags]


def _children(element: etree._Element) -> Iterable[etree._Element]:
    """Element children only (skip comments and processing instructions)."""
    return (child for child in element if isinstance(child.tag, str))


def _data_type_bases(root: etree._Element) -> dict[str, str]:
    """Map every named dataType to its primitive xsd type, following ``base`` chains."""
    direct: dict[str, str] = {}
    parents: dict[str, str] = {}
    for data_type in root.findall("dataType"):
        name = data_type.get("name", "")
        tags = [child.tag for child in _children(data_type)]
        if "list" in tags:
            direct[name] = "string"
            continue
        primitive = next((str(tag) for tag in tags if tag in _PRIMITIVES), None)
        if primitive is not None:
            direct[name] = primitive
        elif data_type.get("base"):
            parents[name] = data_type.get("base", "")
    resolved = dict(direct)
    for name in parents:
        seen: list[str] = []
        current = name
        while current not in resolved:
            if current in seen or current not in parents:
                raise ValueError(f"dataType {name!r} does not resolve to a primitive")
            seen.append(current)
            current = parents[current]
        resolved[name] = resolved[current]
    return resolved


def _syntax_type(syntax: etree._Element, data_types: Mapping[str, str]) -> str:
    tags = {str(child.tag): child for child in _children(syntax)}
    if "list" in tags:
        return "string"
    for tag in tags:
        if tag in _PRIMITIVES:
            return tag
    if "dataType" in tags:
        # <dataType ref="X"/>, or an inline restriction <dataType base="X">...</dataType>
        ref = tags["dataType"].get("ref") or tags["dataType"].get("base") or ""
        if ref not in data_types:
            raise ValueError(f"unknown dataType ref {ref!r}")
        return data_types[ref]
    raise ValueError(f"syntax without a type: {sorted(tags)}")


def _is_hidden(parameter: etree._Element, syntax: etree._Element) -> bool:
    if syntax.get("secured") == "true" or syntax.get("hidden") == "true":
        return True
    description = parameter.findtext("description") or ""
    return bool(_EMPTY_ON_READ.search(description))


def build_table(xml_path: Path, root_name: str) -> dict[str, object]:
    """Reduce one full BBF data-model XML (plus its TR-104 supplement) to a table."""
    document = etree.parse(str(xml_path)).getroot()
    data_types = _data_type_bases(document)
    model = document.find("model")
    if model is None:
        raise ValueError(f"{xml_path.name}: no <model>")
    objects: dict[str, tuple[bool, bool]] = {}
    params: dict[str, _Param] = {}
    for obj in model.findall("object"):
        obj_path = obj.get("name", "")
        if not obj_path.startswith(root_name):
            raise ValueError(f"{xml_path.name}: object {obj_path!r} outside {root_name}")
        objects[obj_path] = (obj_path.endswith("{i}."), obj.get("access") == "readWrite")
        for parameter in obj.findall("parameter"):
            syntax = parameter.find("syntax")
            if syntax is None:
                raise ValueError(f"{obj_path}{parameter.get('name')}: no syntax")
            path = obj_path + parameter.get("name", "")
            params[path] = _Param(
                path=path,
                xsd_type=_syntax_type(syntax, data_types),
                writable=parameter.get("access") in ("readWrite", "writeOnceReadOnly"),
                hidden=_is_hidden(parameter, syntax),
            )
    sources = [xml_path.name]
    supplement_objects, supplement_params = SUPPLEMENTS[root_name]
    base = root_name + "Services.VoiceService.{i}."
    if any(path.startswith(base) for path in params):
        raise ValueError(f"{xml_path.name} now defines {base}: drop the supplement")
    for rel, writable in supplement_objects:
        path = base + rel
        objects[path] = (path.endswith("{i}."), writable)
    for rel, xsd_type, writable, hidden in supplement_params:
        params[base + rel] = _Param(base + rel, xsd_type, writable, hidden)
    sources.append(SUPPLEMENT_SOURCE)
    return {
        "format": FORMAT_VERSION,
        "root": root_name,
        "model": model.get("name", ""),
        "spec": document.get("spec", ""),
        "sources": sources,
        "objects": [[path, *objects[path]] for path in sorted(objects)],
        "parameters": [params[path].row() for path in sorted(params)],
    }


def encode_table(table: Mapping[str, object]) -> bytes:
    """Deterministic bytes: sorted keys, no whitespace, gzip without a timestamp."""
    raw = json.dumps(table, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return gzip.compress(raw, compresslevel=9, mtime=0)


def generate(source_dir: Path) -> dict[str, bytes]:
    """Output file name -> file bytes, for every model in ``MODELS``."""
    return {
        out_name: encode_table(build_table(source_dir / xml_name, root_name))
        for out_name, (xml_name, root_name) in MODELS.items()
    }


REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "cwmp" / "data-models"
DEFAULT_OUT = REPO_ROOT / "traceacs" / "datamodel"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for name, data in generate(args.source).items():
        target: Path = args.out / name
        target.write_bytes(data)
        print(f"wrote {target} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
