"""`EmbeddedProfileSource.cached`: the quiet check's profile lookup, from memory alone.

It must never read the store (a quiet session has no I/O for its profile), and when it
answers it must answer what `fetch` would: otherwise a quiet session checks a device's
config against another profile than the general path would push.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping
from typing import Any

import pytest

from traceacs.profiles.document import profile_to_document
from traceacs.profiles.embedded import EmbeddedProfileSource, InMemoryProfileDocumentStore
from traceacs.profiles.source import ProfileNotFound
from traceacs.provisioning.profile import ServiceProfile

MAX_AGE = 10.0


class CountingStore:
    """An in-memory store that counts every read; ``profile_generation`` as the SQL
    repository keeps it (counts writes)."""

    def __init__(self) -> None:
        self.inner = InMemoryProfileDocumentStore()
        self.reads = 0

    @property
    def profile_generation(self) -> int:
        return self.inner.profile_generation

    async def get_profile_document(self, name: str) -> tuple[dict[str, Any], str] | None:
        self.reads += 1
        return await self.inner.get_profile_document(name)

    async def put_profile_document(
        self, name: str, document: Mapping[str, Any], version: str
    ) -> None:
        await self.inner.put_profile_document(name, document, version)

    async def list_profile_documents(self) -> list[tuple[str, str]]:
        self.reads += 1
        return await self.inner.list_profile_documents()

    async def delete_profile_document(self, name: str) -> bool:
        return await self.inner.delete_profile_document(name)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def document(name: str, version: str, ssid: str = "Net") -> dict[str, Any]:
    profile = ServiceProfile(name=name, services=("internet",), version=version)
    return profile_to_document(profile) | {
        "wifi": {"ssid": ssid, "passphrase": "cached-test-passphrase", "security": "WPA2-Personal"}
    }


async def stocked() -> tuple[CountingStore, Clock, EmbeddedProfileSource]:
    store, clock = CountingStore(), Clock()
    await store.put_profile_document("plan-a", document("plan-a", "1"), "1")
    await store.put_profile_document("plan-b", document("plan-b", "4", "B"), "4")
    await store.put_profile_document("customer:C-VIP", document("customer:C-VIP", "7", "V"), "7")
    return store, clock, EmbeddedProfileSource(store, max_age=MAX_AGE, clock=clock)


def cached_without_reads(
    store: CountingStore, source: EmbeddedProfileSource, customer: str, plan: str
) -> ServiceProfile | None:
    reads = store.reads
    answer = source.cached(customer, plan)
    assert store.reads == reads, "cached() read the store"
    return answer


async def test_nothing_fetched_yet_nothing_known() -> None:
    store, _, source = await stocked()
    assert cached_without_reads(store, source, "C-1", "plan-a") is None
    assert store.reads == 0


async def test_answers_what_fetch_returned_while_fresh_without_reading() -> None:
    store, clock, source = await stocked()
    fetched = await source.fetch("C-1", "plan-a")
    reads = store.reads
    for _ in range(3):
        clock.now += MAX_AGE / 4
        assert cached_without_reads(store, source, "C-1", "plan-a") is fetched
    assert store.reads == reads
    assert fetched.name == "plan-a"


async def test_once_aged_it_answers_none_and_a_fetch_makes_it_fresh_again() -> None:
    store, clock, source = await stocked()
    await source.fetch("C-1", "plan-a")
    clock.now += MAX_AGE
    assert cached_without_reads(store, source, "C-1", "plan-a") is None
    fetched = await source.fetch("C-1", "plan-a")
    assert cached_without_reads(store, source, "C-1", "plan-a") is fetched


async def test_a_write_through_the_store_makes_it_answer_none_at_once() -> None:
    store, _, source = await stocked()
    await source.fetch("C-1", "plan-a")
    assert cached_without_reads(store, source, "C-1", "plan-a") is not None
    # a write to any profile: the cached one may be stale (profile_generation moved)
    await store.put_profile_document("plan-a", document("plan-a", "2", "New"), "2")
    assert cached_without_reads(store, source, "C-1", "plan-a") is None
    fetched = await source.fetch("C-1", "plan-a")
    assert fetched.version == "2"
    assert cached_without_reads(store, source, "C-1", "plan-a") is fetched
    await store.delete_profile_document("plan-b")
    assert cached_without_reads(store, source, "C-1", "plan-a") is None


async def test_a_customer_known_absent_gets_the_plan_profile() -> None:
    store, _, source = await stocked()
    plan_a = await source.fetch("C-1", "plan-a")
    # C-2 was never fetched: its customer name is known absent from the listed names
    assert cached_without_reads(store, source, "C-2", "plan-a") is plan_a
    assert await source.fetch("C-2", "plan-a") is plan_a


async def test_a_customer_profile_wins_and_is_never_guessed() -> None:
    store, _, source = await stocked()
    await source.fetch("C-1", "plan-a")  # lists the names, caches plan-a
    # C-VIP has a profile of its own, not read yet: memory cannot tell what it holds
    assert cached_without_reads(store, source, "C-VIP", "plan-a") is None
    vip = await source.fetch("C-VIP", "plan-a")
    assert vip.name == "customer:C-VIP"
    assert cached_without_reads(store, source, "C-VIP", "plan-a") is vip
    assert cached_without_reads(store, source, "C-VIP", "plan-b") is vip
    # plan-b stored but never read: None, not plan-a's profile nor a guess
    assert cached_without_reads(store, source, "C-1", "plan-b") is None


async def test_no_profile_at_all_is_none_for_fetch_to_report() -> None:
    store, _, source = await stocked()
    await source.fetch("C-1", "plan-a")
    with pytest.raises(ProfileNotFound):
        await source.fetch("C-1", "no-such-plan")
    assert cached_without_reads(store, source, "C-1", "no-such-plan") is None
    assert cached_without_reads(store, source, "", "") is None


async def test_max_age_zero_never_answers() -> None:
    store = CountingStore()
    await store.put_profile_document("plan-a", document("plan-a", "1"), "1")
    source = EmbeddedProfileSource(store, max_age=0.0, clock=Clock())
    assert (await source.fetch("C-1", "plan-a")).name == "plan-a"
    assert cached_without_reads(store, source, "C-1", "plan-a") is None
    assert cached_without_reads(store, source, "", "plan-a") is None


async def test_whenever_it_answers_it_agrees_with_fetch() -> None:
    """Random interleavings of fetches, clock moves, writes and cached() calls."""
    rng = random.Random(5)
    store, clock, source = await stocked()
    customers = ["C-1", "C-2", "C-VIP", "C-NEW", ""]
    plans = ["plan-a", "plan-b", "plan-c", ""]
    answered = 0
    for step in range(600):
        customer, plan = rng.choice(customers), rng.choice(plans)
        roll = rng.random()
        if roll < 0.35:
            with contextlib.suppress(ProfileNotFound):
                await source.fetch(customer, plan)
        elif roll < 0.45:
            clock.now += rng.uniform(0, MAX_AGE / 2)
        elif roll < 0.5:
            name = rng.choice(["plan-a", "plan-c", "customer:C-NEW"])
            await store.put_profile_document(name, document(name, str(step)), str(step))
        else:
            answer = cached_without_reads(store, source, customer, plan)
            if answer is None:
                continue
            answered += 1
            truth = await EmbeddedProfileSource(store).fetch(customer, plan)  # uncached
            assert (answer.name, answer.version) == (truth.name, truth.version)
            assert answer == truth
    assert answered > 50  # the check above is not vacuous
