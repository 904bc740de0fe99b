"""The embedded source's profile cache: fewer store reads, writes never missed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from traceacs.profiles.document import profile_to_document
from traceacs.profiles.embedded import EmbeddedProfileSource, InMemoryProfileDocumentStore
from traceacs.profiles.source import ProfileNotFound
from traceacs.provisioning.profile import ServiceProfile


class CountingStore:
    """Counts reads; without ``profile_generation`` (like a store in another process)."""

    def __init__(self) -> None:
        self.inner = InMemoryProfileDocumentStore()
        self.reads: list[str] = []
        self.lists = 0

    async def get_profile_document(self, name: str) -> tuple[dict[str, Any], str] | None:
        self.reads.append(name)
        return await self.inner.get_profile_document(name)

    async def put_profile_document(
        self, name: str, document: Mapping[str, Any], version: str
    ) -> None:
        await self.inner.put_profile_document(name, document, version)

    async def list_profile_documents(self) -> list[tuple[str, str]]:
        self.lists += 1
        return await self.inner.list_profile_documents()

    async def delete_profile_document(self, name: str) -> bool:
        return await self.inner.delete_profile_document(name)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def plan(version: str) -> dict[str, Any]:
    return profile_to_document(ServiceProfile(name="plan", services=("internet",), version=version))


async def test_within_max_age_the_store_is_read_once_per_name() -> None:
    store = CountingStore()
    await store.put_profile_document("plan", plan("1"), "1")
    source = EmbeddedProfileSource(store, max_age=1.0, clock=Clock())
    for _ in range(3):
        assert (await source.fetch("C-1", "plan")).version == "1"
    # the customer profile is absent from the listed names: never read
    assert store.reads == ["plan"]
    assert store.lists == 1


async def test_absent_names_cost_no_read_and_a_new_one_is_seen_after_max_age() -> None:
    store, clock = CountingStore(), Clock()
    await store.put_profile_document("plan", plan("1"), "1")
    source = EmbeddedProfileSource(store, max_age=1.0, clock=clock)
    for n in range(50):  # many customers without a profile of their own
        assert (await source.fetch(f"C-{n}", "plan")).version == "1"
    assert store.reads == ["plan"]
    await store.put_profile_document("customer:C-7", plan("9"), "9")  # counts no writes
    assert (await source.fetch("C-7", "plan")).version == "1"
    clock.now += 1.1
    assert (await source.fetch("C-7", "plan")).version == "9"
    assert store.lists == 2


async def test_without_max_age_every_fetch_reads_the_store() -> None:
    store = CountingStore()
    await store.put_profile_document("plan", plan("1"), "1")
    source = EmbeddedProfileSource(store)
    await source.fetch("", "plan")
    await source.fetch("", "plan")
    assert store.reads == ["plan", "plan"]


async def test_a_write_behind_the_sources_back_is_seen_after_max_age() -> None:
    store, clock = CountingStore(), Clock()
    await store.put_profile_document("plan", plan("1"), "1")
    source = EmbeddedProfileSource(store, max_age=1.0, clock=clock)
    assert (await source.fetch("", "plan")).version == "1"
    await store.put_profile_document("plan", plan("2"), "2")  # store counts no writes
    clock.now += 0.5
    assert (await source.fetch("", "plan")).version == "1"
    clock.now += 0.6
    assert (await source.fetch("", "plan")).version == "2"


async def test_a_write_through_a_counting_store_is_seen_at_once() -> None:
    store = InMemoryProfileDocumentStore()
    await store.put_profile_document("plan", plan("1"), "1")
    source = EmbeddedProfileSource(store, max_age=3600.0, clock=Clock())
    assert (await source.fetch("C-9", "plan")).version == "1"
    await store.put_profile_document("customer:C-9", plan("7"), "7")
    assert (await source.fetch("C-9", "plan")).version == "7"
    await store.delete_profile_document("customer:C-9")
    await store.delete_profile_document("plan")
    with pytest.raises(ProfileNotFound):
        await source.fetch("C-9", "plan")
