"""The embedded source: file import (YAML and JSON, all-or-nothing) and lookup precedence."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from traceacs.profiles.document import profile_from_document
from traceacs.profiles.embedded import (
    EmbeddedProfileSource,
    ImportedProfile,
    InMemoryProfileDocumentStore,
    ProfileDocumentStore,
    ProfileImportError,
    import_profiles,
    load_profile_file,
)
from traceacs.profiles.source import ProfileNotFound, ProfileSource, ProfileSourceUnavailable

WIFI_KEY = "sesame-open-up-42"

YAML_FILE = f"""
profiles:
  - name: fiber-100
    version: "3"
    services: [internet]
    wifi:
      ssid: Home
      passphrase: {WIFI_KEY}
      bands: [2.4GHz, 5GHz]
    vlans: {{internet: 100}}
  - name: triple-play
    services: [internet, voip, iptv]
    vlans: {{internet: 100, voip: 200, iptv: 300}}
    voip_lines:
      - {{registrar: sip.example, proxy: sip.example, user: "1001", password: pw-1001}}
    iptv: {{multicast_vlan: 300, igmp_version: 3}}
  - name: "customer:C-42"
    version: "1"
    services: [internet]
    vlans: {{internet: 101}}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_yaml_import_then_fetch_by_plan(tmp_path: Path) -> None:
    store = InMemoryProfileDocumentStore()
    results = await import_profiles(store, write(tmp_path, "p.yaml", YAML_FILE))
    assert results == [
        ImportedProfile("fiber-100", "3", "created"),
        ImportedProfile("triple-play", "1", "created"),  # no version in file: assigned
        ImportedProfile("customer:C-42", "1", "created"),
    ]
    assert await store.list_profile_documents() == [
        ("customer:C-42", "1"),
        ("fiber-100", "3"),
        ("triple-play", "1"),
    ]
    source: ProfileSource = EmbeddedProfileSource(store)
    profile = await source.fetch("C-7", "fiber-100")
    assert profile.name == "fiber-100"
    assert profile.version == "3"
    assert profile.wifi is not None
    assert profile.wifi.passphrase == WIFI_KEY
    assert (await source.fetch("C-7", "triple-play")).voip_lines[0].user == "1001"


async def test_customer_profile_wins_over_plan_profile(tmp_path: Path) -> None:
    store = InMemoryProfileDocumentStore()
    await import_profiles(store, write(tmp_path, "p.yaml", YAML_FILE))
    source = EmbeddedProfileSource(store)
    special = await source.fetch("C-42", "fiber-100")
    assert special.name == "customer:C-42"
    assert special.vlans.internet == 101
    # Without a per-customer profile the plan's applies; with neither, not found.
    assert (await source.fetch("C-43", "fiber-100")).name == "fiber-100"
    assert (await source.fetch("C-42", "no-such-plan")).name == "customer:C-42"
    with pytest.raises(ProfileNotFound) as info:
        await source.fetch("C-43", "no-such-plan")
    assert (info.value.customer_id, info.value.service_plan) == ("C-43", "no-such-plan")


async def test_json_import_accepts_a_plain_list(tmp_path: Path) -> None:
    documents = [
        {"name": "plan-a", "version": 5, "services": ["internet"]},
        {"name": "plan-b", "services": ["internet"], "wifi": {"ssid": "x", "security": "None"}},
    ]
    store = InMemoryProfileDocumentStore()
    path = write(tmp_path, "p.json", json.dumps(documents))
    assert [p.name for p in load_profile_file(path)] == ["plan-a", "plan-b"]
    results = await import_profiles(store, path)
    assert [(r.name, r.version) for r in results] == [("plan-a", "5"), ("plan-b", "1")]
    assert (await EmbeddedProfileSource(store).fetch("c", "plan-a")).version == "5"


async def test_import_is_all_or_nothing_and_reports_every_document(tmp_path: Path) -> None:
    bad = YAML_FILE.replace("internet: 101", "internet: 9000").replace(
        "bands: [2.4GHz, 5GHz]", "bands: [2.4GHz, 7GHz]"
    )
    bad += "  - name: fiber-100\n    services: [internet]\n"
    store = InMemoryProfileDocumentStore()
    with pytest.raises(ProfileImportError) as info:
        await import_profiles(store, write(tmp_path, "p.yaml", bad))
    assert info.value.problems == (
        "profiles[0] 'fiber-100': wifi.bands[1]: '7GHz' is not one of 2.4GHz, 5GHz, 6GHz",
        "profiles[2] 'customer:C-42': vlans.internet: 9000 is out of range 1-4094",
        "profiles[3] 'fiber-100': name: same name as profiles[0]",
    )
    assert "nothing imported" in str(info.value)
    assert WIFI_KEY not in str(info.value)
    assert await store.list_profile_documents() == []  # the valid document was not written


async def test_duplicate_names_in_one_file_are_rejected(tmp_path: Path) -> None:
    text = "- {name: a, services: [internet]}\n- {name: a, services: [internet, voip]}\n"
    with pytest.raises(ProfileImportError) as info:
        load_profile_file(write(tmp_path, "p.yml", text))
    # The second one is invalid for its own reason too; both are reported.
    assert info.value.problems == (
        "profiles[1] 'a': name: same name as profiles[0]",
        "profiles[1] 'a': voip_lines: is required (at least one line) when services include voip",
    )


@pytest.mark.parametrize(
    ("filename", "text", "expected"),
    [
        ("p.json", '{"profiles": [', "invalid JSON at line 1 column"),
        ("p.yaml", f"- name: a\n  wifi: {{passphrase: {WIFI_KEY}\n", "invalid YAML at line"),
        ("p.yaml", "just a string", 'expected a list of profiles or {"profiles": [...]}'),
        ("p.yaml", "profiles: []\nextra: 1\n", "unknown top-level field(s): extra"),
        ("p.yaml", "[]", "the file holds no profiles"),
    ],
)
def test_unreadable_files_are_explained(
    tmp_path: Path, filename: str, text: str, expected: str
) -> None:
    with pytest.raises(ProfileImportError) as info:
        load_profile_file(write(tmp_path, filename, text))
    (problem,) = info.value.problems
    assert problem.startswith(expected)
    assert WIFI_KEY not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileImportError, match="cannot read file"):
        load_profile_file(tmp_path / "absent.yaml")


async def test_reimport_keeps_versions_of_unchanged_profiles(tmp_path: Path) -> None:
    store = InMemoryProfileDocumentStore()
    path = write(tmp_path, "p.yaml", YAML_FILE)
    await import_profiles(store, path)
    again = await import_profiles(store, path)
    assert [r.status for r in again] == ["unchanged", "unchanged", "unchanged"]
    assert [r.version for r in again] == ["3", "1", "1"]

    changed = YAML_FILE.replace("pw-1001", "pw-changed")  # only a secret changes
    after = await import_profiles(store, write(tmp_path, "p.yaml", changed))
    assert after[1] == ImportedProfile("triple-play", "2", "updated")
    assert (await EmbeddedProfileSource(store).fetch("x", "triple-play")).version == "2"


class FlakyStore(InMemoryProfileDocumentStore):
    """Fails the n-th write (or every read), to check rollback and error mapping."""

    def __init__(self, fail_on_put: int | None = None, fail_reads: bool = False) -> None:
        super().__init__()
        self.fail_on_put = fail_on_put
        self.fail_reads = fail_reads
        self.puts = 0

    async def put_profile_document(
        self, name: str, document: Mapping[str, Any], version: str
    ) -> None:
        self.puts += 1
        if self.puts == self.fail_on_put:
            raise ConnectionError(f"db down while writing {document}")
        await super().put_profile_document(name, document, version)

    async def get_profile_document(self, name: str) -> tuple[dict[str, Any], str] | None:
        if self.fail_reads:
            raise ConnectionError("db down")
        return await super().get_profile_document(name)


async def test_store_failure_mid_import_rolls_back(tmp_path: Path) -> None:
    store = FlakyStore()
    await store.put_profile_document("fiber-100", {"name": "fiber-100", "services": []}, "old")
    store.fail_on_put = store.puts + 3  # the third write of the import fails
    with pytest.raises(ProfileImportError) as info:
        await import_profiles(store, write(tmp_path, "p.yaml", YAML_FILE))
    assert info.value.problems == ("profile store failed: ConnectionError; changes rolled back",)
    assert WIFI_KEY not in str(info.value)
    assert await store.list_profile_documents() == [("fiber-100", "old")]


async def test_store_failure_on_fetch_is_unavailable_not_not_found() -> None:
    store: ProfileDocumentStore = FlakyStore(fail_reads=True)
    with pytest.raises(ProfileSourceUnavailable) as info:
        await EmbeddedProfileSource(store).fetch("c", "plan")
    assert info.value.kind == "store"


async def test_invalid_stored_document_is_unavailable() -> None:
    store = InMemoryProfileDocumentStore()
    await store.put_profile_document(
        "plan", {"name": "plan", "services": ["internet"], "wifi": {"ssid": "x"}}, "1"
    )
    with pytest.raises(ProfileSourceUnavailable) as info:
        await EmbeddedProfileSource(store).fetch("c", "plan")
    assert info.value.kind == "invalid_profile"
    assert "wifi.passphrase: is required" in str(info.value)


async def test_stored_version_is_authoritative() -> None:
    store = InMemoryProfileDocumentStore()
    document = {"name": "plan", "version": "doc-v", "services": ["internet"]}
    await store.put_profile_document("plan", document, "store-v")
    assert profile_from_document(document).version == "doc-v"
    assert (await EmbeddedProfileSource(store).fetch("c", "plan")).version == "store-v"
