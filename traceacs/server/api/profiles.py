"""``/api/profiles``: the embedded profile source (documents in TraceACS's database).

Documents use the format of `traceacs.profiles.document`. Secrets are masked on every
GET; a client that PUTs back a document it read may leave the mask in place and the
stored secret is kept (any other mask is refused, so the mask itself never becomes a
Wi-Fi passphrase).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import yaml
from aiohttp import web

from traceacs.profiles.document import ProfileDocumentError, profile_from_document
from traceacs.profiles.embedded import (
    ImportedProfile,
    ProfileImportError,
    import_documents,
    parse_profile_documents,
)
from traceacs.server.api import params
from traceacs.server.api.context import context_of
from traceacs.server.api.errors import ApiError, bad_request, not_found
from traceacs.server.api.middleware import set_audit_target
from traceacs.server.api.views import MASK, masked_profile, restore_masked_secrets

YAML_TYPES: Final = frozenset(
    {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}
)


def _imported_view(item: ImportedProfile) -> dict[str, Any]:
    return {"name": item.name, "version": item.version, "status": item.status}


async def list_profiles(request: web.Request) -> web.Response:
    stored = await context_of(request).profiles.list_profile_documents()
    return web.json_response({"items": [{"name": n, "version": v} for n, v in stored]})


async def get_profile(request: web.Request) -> web.Response:
    name = params.path(request, "name")
    entry = await context_of(request).profiles.get_profile_document(name)
    if entry is None:
        raise not_found(f"no profile named {name!r}")
    document, version = entry
    return web.json_response({**masked_profile(document), "name": name, "version": version})


async def _unmask(request: web.Request, document: Any, where: str) -> Any:
    name = document.get("name") if isinstance(document, Mapping) else None
    stored = None
    if isinstance(name, str):
        entry = await context_of(request).profiles.get_profile_document(name)
        stored = entry[0] if entry is not None else None
    restored, missing = restore_masked_secrets(document, stored)
    if missing:
        raise bad_request(
            f"{where}: {', '.join(missing)} hold the mask {MASK!r} but no secret is stored"
            " for them; send the real value",
        )
    return restored


async def put_profile(request: web.Request) -> web.Response:
    name = params.path(request, "name")
    document = await params.json_body(request)
    if not isinstance(document, dict):
        raise bad_request("a profile document must be a JSON object")
    if document.setdefault("name", name) != name:
        raise bad_request(f"the document's name must match the path ({name!r})")
    document = await _unmask(request, document, name)
    try:
        profile = profile_from_document(document)
    except ProfileDocumentError as exc:
        raise bad_request(
            f"invalid profile: {exc}", problems=[str(p) for p in exc.problems]
        ) from None
    [result] = await _import(request, [profile])
    return web.json_response(
        _imported_view(result), status=201 if result.status == "created" else 200
    )


async def delete_profile(request: web.Request) -> web.Response:
    name = params.path(request, "name")
    if not await context_of(request).profiles.delete_profile_document(name):
        raise not_found(f"no profile named {name!r}")
    return web.Response(status=204)


async def import_profiles(request: web.Request) -> web.Response:
    """Several documents (a list or ``{"profiles": [...]}``) as JSON or YAML, all or none."""
    kind = params.media_type(request)
    raw = await request.read()
    if kind == "application/json":
        content = params.decode_json(raw)
    elif kind in YAML_TYPES:
        try:
            content = params.refuse_nul(yaml.safe_load(raw.decode("utf-8-sig")))
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            # a YAML error quotes the offending line, which may hold a passphrase
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise bad_request(f"invalid YAML{where}") from None
    else:
        raise ApiError(415, "send profiles as application/json or application/yaml")
    if isinstance(content, Mapping) and isinstance(content.get("profiles"), list):
        content = {
            **content,
            "profiles": [
                await _unmask(request, d, f"profiles[{i}]")
                for i, d in enumerate(content["profiles"])
            ],
        }
    elif isinstance(content, list):
        content = [await _unmask(request, d, f"profiles[{i}]") for i, d in enumerate(content)]
    elif isinstance(content, Mapping):
        content = await _unmask(request, content, "profile")
    try:
        profiles = parse_profile_documents(content, "upload")
    except ProfileImportError as exc:
        raise bad_request(
            "nothing imported: invalid profiles", problems=list(exc.problems)
        ) from None
    results = await _import(request, profiles)
    return web.json_response({"items": [_imported_view(r) for r in results]})


async def _import(request: web.Request, profiles: list[Any]) -> list[ImportedProfile]:
    set_audit_target(request, ", ".join(p.name for p in profiles))
    try:
        return await import_documents(context_of(request).profiles, profiles, "upload")
    except ProfileImportError as exc:
        raise ApiError(503, "the profile store failed; nothing was changed") from exc
