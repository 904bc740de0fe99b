"""The embedded source on the real inventory store (SQLite), not only the in-memory one.

This pins the contract between ``ProfileDocumentStore`` and the storage repository:
the same method names and shapes, secrets stored and read back intact.
"""

from __future__ import annotations

from pathlib import Path

from traceacs.profiles.embedded import (
    EmbeddedProfileSource,
    ProfileDocumentStore,
    import_profiles,
)
from traceacs.storage.open import open_repository
from traceacs.storage.repository import SqlDeviceRepository

YAML_FILE = """
- name: fiber-100
  services: [internet, voip]
  wifi: {ssid: Home, passphrase: stored-wifi-key-1}
  voip_lines: [{registrar: sip.example, user: "1001", password: stored-sip-pw}]
- name: "customer:C-9"
  version: "4"
  services: [internet]
"""


async def test_import_and_fetch_through_the_sqlite_repository(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(YAML_FILE, encoding="utf-8")
    repository = await open_repository(str(tmp_path / "inventory.db"))
    try:
        store: ProfileDocumentStore = repository
        await import_profiles(store, path)
        assert await store.list_profile_documents() == [("customer:C-9", "4"), ("fiber-100", "1")]
        source = EmbeddedProfileSource(store)
        plan = await source.fetch("C-1", "fiber-100")
        assert plan.wifi is not None
        assert plan.wifi.passphrase == "stored-wifi-key-1"
        assert plan.voip_lines[0].password == "stored-sip-pw"
        assert (await source.fetch("C-9", "fiber-100")).version == "4"
        again = await import_profiles(store, path)
        assert [r.status for r in again] == ["unchanged", "unchanged"]
    finally:
        await repository.close()


async def test_repository_counts_profile_writes(tmp_path: Path) -> None:
    """A caching source on the repository relies on this counter to see writes at once."""
    repo = await open_repository(str(tmp_path / "inventory.db"))
    try:
        assert isinstance(repo, SqlDeviceRepository)
        before = repo.profile_generation
        await repo.put_profile_document("plan", {"name": "plan", "services": ["internet"]}, "1")
        await repo.delete_profile_document("plan")
        assert repo.profile_generation == before + 2
    finally:
        await repo.close()
