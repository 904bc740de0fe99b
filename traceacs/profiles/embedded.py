"""The embedded profile source: profiles kept in TraceACS's own database.

For operators without an HTTP BSS: profiles are imported from YAML/JSON files
(``traceacs profiles import``) into a :class:`ProfileDocumentStore` (the inventory
repository implements it) and looked up per customer, falling back to the plan:
a profile named ``customer:{customer_id}`` wins over the one named after the plan, so
one customer's special setup never needs a plan of its own.

Import is all-or-nothing: every document is validated before anything is written, and
all problems are reported at once (with the document's index and name, never a secret).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

from traceacs.profiles.document import (
    ProfileDocumentError,
    profile_from_document,
    profile_to_document,
)
from traceacs.profiles.source import ProfileNotFound, ProfileSourceUnavailable
from traceacs.provisioning.profile import ServiceProfile

__all__ = [
    "CUSTOMER_PROFILE_PREFIX",
    "EmbeddedProfileSource",
    "ImportedProfile",
    "InMemoryProfileDocumentStore",
    "ProfileDocumentStore",
    "ProfileImportError",
    "customer_profile_name",
    "import_documents",
    "import_profiles",
    "load_profile_file",
    "parse_profile_documents",
]

log = logging.getLogger(__name__)

CUSTOMER_PROFILE_PREFIX = "customer:"


def customer_profile_name(customer_id: str) -> str:
    """The name of the profile that applies to one customer only."""
    return f"{CUSTOMER_PROFILE_PREFIX}{customer_id}"


class ProfileDocumentStore(Protocol):
    """Where profile documents live (same method names as the inventory repository)."""

    async def get_profile_document(self, name: str) -> tuple[dict[str, Any], str] | None: ...

    async def put_profile_document(
        self, name: str, document: Mapping[str, Any], version: str
    ) -> None: ...

    async def list_profile_documents(self) -> list[tuple[str, str]]: ...

    async def delete_profile_document(self, name: str) -> bool: ...


class InMemoryProfileDocumentStore:
    """A :class:`ProfileDocumentStore` in a dict, for tests and throwaway setups."""

    def __init__(self) -> None:
        self._documents: dict[str, tuple[dict[str, Any], str]] = {}
        self.profile_generation = 0
        """Counts writes, so a caching `EmbeddedProfileSource` sees them at once."""

    def __repr__(self) -> str:
        return f"InMemoryProfileDocumentStore({len(self._documents)} documents)"

    async def get_profile_document(self, name: str) -> tuple[dict[str, Any], str] | None:
        entry = self._documents.get(name)
        return None if entry is None else (copy.deepcopy(entry[0]), entry[1])

    async def put_profile_document(
        self, name: str, document: Mapping[str, Any], version: str
    ) -> None:
        self._documents[name] = (copy.deepcopy(dict(document)), version)
        self.profile_generation += 1

    async def list_profile_documents(self) -> list[tuple[str, str]]:
        return [(name, entry[1]) for name, entry in sorted(self._documents.items())]

    async def delete_profile_document(self, name: str) -> bool:
        self.profile_generation += 1
        return self._documents.pop(name, None) is not None


class EmbeddedProfileSource:
    """A :class:`~traceacs.profiles.source.ProfileSource` reading a document store.

    With ``max_age`` > 0 the decoded profiles (and the names found absent) are kept
    for that many seconds: a quiet periodic inform otherwise costs two store reads
    (``customer:{id}``, then the plan) and a document decode. The names of all stored
    profiles are listed once per ``max_age`` too (when there are at most
    ``_MAX_NAME_SET``), so a name that is not stored, typically the
    ``customer:{id}`` of a customer without a profile of their own, costs no read: in
    a large fleet each customer's name comes up once per inform period, always past
    its cache entry's age. A write through a store that counts its writes
    (``profile_generation``, as the SQL repository and the in-memory store do) drops
    the cache at once; a write by another process (the CLI while ``serve`` runs) is
    seen within ``max_age``.
    """

    def __init__(
        self,
        store: ProfileDocumentStore,
        *,
        max_age: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._max_age = max_age
        self._clock = clock
        self._cached: dict[str, tuple[float, ServiceProfile | None]] = {}
        self._generation: object = None
        self._names: frozenset[str] | None = None
        """Every stored profile name (None: not listed, or too many to keep)."""
        self._names_at = float("-inf")

    def __repr__(self) -> str:
        return f"EmbeddedProfileSource({self._store!r})"

    async def fetch(self, customer_id: str, service_plan: str) -> ServiceProfile:
        names = []
        if customer_id:
            names.append(customer_profile_name(customer_id))
        if service_plan:
            names.append(service_plan)
        for name in names:
            profile = await self._profile(name)
            if profile is not None:
                return profile
        raise ProfileNotFound(customer_id, service_plan)

    def cached(self, customer_id: str, service_plan: str) -> ServiceProfile | None:
        """The profile `fetch` would return, answered from memory alone (the quiet
        periodic check, `traceacs.provisioning.quiet_check.MemoryProfiles`); None when
        telling needs a read (a name not cached within ``max_age``, a write since) or
        when there is no profile (`fetch` reports that)."""
        if self._max_age <= 0:
            return None
        if getattr(self._store, "profile_generation", None) != self._generation:
            return None
        now = self._clock()
        names = self._names if now - self._names_at < self._max_age else None
        for name in (customer_profile_name(customer_id) if customer_id else "", service_plan):
            if not name:
                continue
            entry = self._cached.get(name)
            if entry is not None and now - entry[0] < self._max_age:
                if entry[1] is not None:
                    return entry[1]
                continue  # known absent
            if names is None or name in names:
                return None  # stored, or not known to be absent: a read would tell
        return None

    async def _profile(self, name: str) -> ServiceProfile | None:
        """The profile stored under ``name`` (None: no such document)."""
        if self._max_age <= 0:
            return await self._read(name)
        now = self._clock()
        generation = getattr(self._store, "profile_generation", None)
        if generation != self._generation:
            self._cached.clear()
            self._names, self._names_at = None, float("-inf")
            self._generation = generation
        entry = self._cached.get(name)
        if entry is not None and now - entry[0] < self._max_age:
            return entry[1]
        names = await self._stored_names(now, generation)
        profile = None if names is not None and name not in names else await self._read(name)
        if getattr(self._store, "profile_generation", None) == generation:
            if len(self._cached) >= _MAX_CACHED_PROFILES:
                self._cached.clear()  # a crude bound: profiles are few, customers many
            self._cached[name] = (now, profile)
        return profile

    async def _stored_names(self, now: float, generation: object) -> frozenset[str] | None:
        """The stored profile names, listed at most once per ``max_age``; None when
        they cannot be listed (each name is then read on its own)."""
        if now - self._names_at < self._max_age:
            return self._names
        try:
            listed = await self._store.list_profile_documents()
        except Exception:  # the read of the name itself reports the store's failure
            return None
        if getattr(self._store, "profile_generation", None) != generation:
            return None  # written meanwhile: the list may be stale
        self._names_at = now
        self._names = frozenset(n for n, _ in listed) if len(listed) <= _MAX_NAME_SET else None
        return self._names

    async def _read(self, name: str) -> ServiceProfile | None:
        try:
            entry = await self._store.get_profile_document(name)
        except Exception as exc:
            # The driver's message may quote values; the type is enough to act on.
            raise ProfileSourceUnavailable(
                "store", f"profile store failed reading {name!r}: {type(exc).__name__}"
            ) from None
        if entry is None:
            return None
        document, version = entry
        try:
            profile = profile_from_document(document)
        except ProfileDocumentError as exc:
            raise ProfileSourceUnavailable(
                "invalid_profile", f"stored profile {name!r} is invalid: {exc}"
            ) from None
        return dataclasses.replace(profile, version=version)


_MAX_CACHED_PROFILES = 100_000
_MAX_NAME_SET = 10_000
"""With more stored profiles than this, absent names are read one by one."""


# -- loading and importing -------------------------------------------------------------


class ProfileImportError(ValueError):
    """Nothing was imported; ``problems`` lists every reason (secret-free)."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems: tuple[str, ...] = tuple(problems)
        count = len(self.problems)
        listing = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"{source}: nothing imported, {count} problem{'s' if count != 1 else ''}:\n{listing}"
        )


@dataclass(frozen=True, slots=True)
class ImportedProfile:
    name: str
    version: str
    status: Literal["created", "updated", "unchanged"]


def _read_file(path: Path) -> object:
    """The decoded content of a JSON or YAML file; errors give position, never content."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8"
        raise ProfileImportError(source, [f"cannot read file: {reason}"]) from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileImportError(
                source, [f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # str(exc) quotes the offending line, which may hold a passphrase: leave it out.
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1} column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ProfileImportError(source, [f"invalid YAML{where}: {problem}"]) from None


def parse_profile_documents(content: object, source: str = "<documents>") -> list[ServiceProfile]:
    """Validate decoded content: a list of documents, ``{"profiles": [...]}`` or one document.

    Raises :class:`ProfileImportError` with every problem of every document.
    """
    if isinstance(content, Mapping) and "profiles" in content:
        others = sorted(str(k) for k in content if k != "profiles")
        if others:
            raise ProfileImportError(source, [f"unknown top-level field(s): {', '.join(others)}"])
        content = content["profiles"]
    elif isinstance(content, Mapping):
        content = [content]  # a single profile document
    if not isinstance(content, list):
        raise ProfileImportError(
            source, ['expected a list of profiles or {"profiles": [...]} at the top level']
        )
    problems: list[str] = []
    profiles: list[ServiceProfile] = []
    seen: dict[str, int] = {}
    for i, document in enumerate(content):
        name = document.get("name") if isinstance(document, Mapping) else None
        where = f"profiles[{i}]" + (f" {name!r}" if isinstance(name, str) else "")
        if isinstance(name, str) and name in seen:
            problems.append(f"{where}: name: same name as profiles[{seen[name]}]")
        elif isinstance(name, str):
            seen[name] = i
        try:
            profiles.append(profile_from_document(document))
        except ProfileDocumentError as exc:
            problems.extend(f"{where}: {p}" for p in exc.problems)
    if not content:
        problems.append("the file holds no profiles")
    if problems:
        raise ProfileImportError(source, problems)
    return profiles


def load_profile_file(path: str | Path) -> list[ServiceProfile]:
    """Read and validate a YAML (``.yaml``/``.yml``/other) or JSON (``.json``) profile file."""
    path = Path(path)
    return parse_profile_documents(_read_file(path), str(path))


def _next_version(previous: str | None) -> str:
    """A version different from ``previous``, for documents that carry none.

    Deliberately not a content hash: a hash of a document holding a Wi-Fi key would let
    anyone who sees the version test guesses of that key offline.
    """
    if previous is not None and previous.isdigit():
        return str(int(previous) + 1)
    return "1"


async def import_documents(
    store: ProfileDocumentStore,
    profiles: Sequence[ServiceProfile],
    source: str = "<documents>",
    *,
    on_progress: Callable[[int], None] | None = None,
) -> list[ImportedProfile]:
    """Write already validated profiles; on a store failure, undo what was written.

    A profile without a ``version`` keeps its stored version when unchanged and gets a
    new one when changed, so a profile edited in the file reaches devices.
    ``on_progress(done)`` is called after each profile (the CLI's progress bar).
    """
    previous: dict[str, tuple[dict[str, Any], str] | None] = {}
    written: list[str] = []
    results: list[ImportedProfile] = []
    try:
        for done, profile in enumerate(profiles):
            if on_progress is not None:
                on_progress(done)
            old = await store.get_profile_document(profile.name)
            previous[profile.name] = old
            old_profile = _stored_profile(old)
            version = profile.version
            unchanged = old_profile is not None and _same_content(old_profile, profile)
            if old_profile is not None and unchanged and version in ("", old_profile.version):
                results.append(ImportedProfile(profile.name, old_profile.version, "unchanged"))
                continue
            if not version:
                version = _next_version(old[1] if old is not None else None)
            stored = dataclasses.replace(profile, version=version)
            await store.put_profile_document(profile.name, profile_to_document(stored), version)
            written.append(profile.name)
            results.append(
                ImportedProfile(profile.name, version, "created" if old is None else "updated")
            )
    except Exception as exc:
        await _roll_back(store, written, previous)
        raise ProfileImportError(
            source, [f"profile store failed: {type(exc).__name__}; changes rolled back"]
        ) from None
    for result in results:
        log.info("profile %r %s (version %s)", result.name, result.status, result.version)
    return results


def _stored_profile(entry: tuple[dict[str, Any], str] | None) -> ServiceProfile | None:
    if entry is None:
        return None
    try:
        return dataclasses.replace(profile_from_document(entry[0]), version=entry[1])
    except ProfileDocumentError:
        return None  # an invalid stored document is simply replaced


def _same_content(a: ServiceProfile, b: ServiceProfile) -> bool:
    return dataclasses.replace(a, version="") == dataclasses.replace(b, version="")


async def _roll_back(
    store: ProfileDocumentStore,
    written: list[str],
    previous: Mapping[str, tuple[dict[str, Any], str] | None],
) -> None:
    for name in reversed(written):
        old = previous.get(name)
        try:
            if old is None:
                await store.delete_profile_document(name)
            else:
                await store.put_profile_document(name, old[0], old[1])
        except Exception:
            log.error("could not roll back profile %r after a failed import", name)


async def import_profiles(store: ProfileDocumentStore, path: str | Path) -> list[ImportedProfile]:
    """``traceacs profiles import FILE``: validate the whole file, then write it."""
    profiles = load_profile_file(path)
    return await import_documents(store, profiles, str(path))
