"""The desired-config cache: identical (profile, target) pairs are built once."""

from __future__ import annotations

import dataclasses

import pytest

from traceacs.provisioning.config_builder import build_config
from traceacs.provisioning.config_cache import ConfigCache
from traceacs.provisioning.config_types import ConfigBuildError, ConfigTarget, DesiredConfig
from traceacs.provisioning.profile import ExtraParameter, ServiceProfile, WifiConfig

PROFILE = ServiceProfile(
    name="basic", services=("internet",), wifi=WifiConfig("Home", "correct horse"), version="1"
)
TR181 = ConfigTarget("Device.", "00D09E", "RG")


class CountingBuilder:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, profile: ServiceProfile, target: ConfigTarget) -> DesiredConfig:
        self.calls += 1
        return build_config(profile, target)


def test_same_profile_and_target_build_once() -> None:
    builder = CountingBuilder()
    cache = ConfigCache(builder)
    first = cache.get(PROFILE, TR181)
    again = cache.get(dataclasses.replace(PROFILE), ConfigTarget("Device.", "00D09E", "RG"))
    assert again is first
    assert builder.calls == 1
    assert (cache.hits, cache.misses) == (1, 1)


def test_any_change_to_profile_or_target_rebuilds() -> None:
    builder = CountingBuilder()
    cache = ConfigCache(builder)
    base = cache.get(PROFILE, TR181)
    renamed = cache.get(
        dataclasses.replace(PROFILE, wifi=WifiConfig("Renamed", "correct horse")), TR181
    )
    tr098 = cache.get(PROFILE, ConfigTarget("InternetGatewayDevice.", "00D09E", "RG"))
    assert builder.calls == 3
    assert renamed.parameter_key != base.parameter_key
    assert tr098.data_model_root == "InternetGatewayDevice."


def test_least_recently_used_entry_is_evicted() -> None:
    builder = CountingBuilder()
    cache = ConfigCache(builder, max_entries=2)
    profiles = [dataclasses.replace(PROFILE, version=str(n)) for n in range(3)]
    cache.get(profiles[0], TR181)
    cache.get(profiles[1], TR181)
    cache.get(profiles[0], TR181)  # profiles[0] is now the most recent
    cache.get(profiles[2], TR181)  # evicts profiles[1]
    assert len(cache) == 2
    cache.get(profiles[0], TR181)
    assert builder.calls == 3
    cache.get(profiles[1], TR181)
    assert builder.calls == 4


def test_build_errors_are_not_cached() -> None:
    builder = CountingBuilder()
    cache = ConfigCache(builder)
    bad = dataclasses.replace(
        PROFILE, extra_parameters=(ExtraParameter("Device.No.Such.Parameter", "1"),)
    )
    for _ in range(2):
        with pytest.raises(ConfigBuildError):
            cache.get(bad, TR181)
    assert builder.calls == 2
    assert len(cache) == 0


def test_a_config_is_known_by_target_and_parameter_key_until_evicted() -> None:
    cache = ConfigCache(CountingBuilder(), max_entries=1)
    config = cache.get(PROFILE, TR181)
    assert cache.known(TR181, config.parameter_key) == (PROFILE, config)
    assert cache.known(ConfigTarget("Device.", "00D09E", "Other"), config.parameter_key) is None
    renamed = dataclasses.replace(PROFILE, wifi=WifiConfig("Renamed", "correct horse"))
    cache.get(renamed, TR181)  # evicts the first config
    assert cache.known(TR181, config.parameter_key) is None


def test_an_equal_profile_read_afresh_takes_over_the_entry() -> None:
    """The profile source re-reads a profile when its own cache ages out: the entry is
    then keyed by the new (equal) object, still the same config, never rebuilt."""
    builder = CountingBuilder()
    cache = ConfigCache(builder)
    config = cache.get(PROFILE, TR181)
    fresh = dataclasses.replace(PROFILE)
    assert fresh == PROFILE
    assert fresh is not PROFILE
    assert cache.get(fresh, TR181) is config
    known = cache.known(TR181, config.parameter_key)
    assert known is not None
    assert known[0] is fresh
    assert cache.get(fresh, TR181) is config
    assert cache.get(PROFILE, TR181) is config  # and back: still equal, still cached
    assert builder.calls == 1
    assert (cache.hits, cache.misses) == (3, 1)
    assert len(cache) == 1


def test_taking_over_an_entry_makes_it_the_most_recent() -> None:
    builder = CountingBuilder()
    cache = ConfigCache(builder, max_entries=2)
    other = dataclasses.replace(PROFILE, version="2")
    cache.get(PROFILE, TR181)
    cache.get(other, TR181)
    cache.get(dataclasses.replace(PROFILE), TR181)  # PROFILE's entry, now the most recent
    cache.get(dataclasses.replace(PROFILE, version="3"), TR181)  # evicts `other`
    assert builder.calls == 3
    cache.get(PROFILE, TR181)
    assert builder.calls == 3
    cache.get(other, TR181)
    assert builder.calls == 4


def test_a_target_is_matched_by_every_one_of_its_fields() -> None:
    """The cache keys a target by its fields: an equal target built afresh hits; one
    differing in any single field (model root, OUI, product class) has its own entry."""
    builder = CountingBuilder()
    cache = ConfigCache(builder)
    first = cache.get(PROFILE, TR181)
    assert cache.get(PROFILE, ConfigTarget("Device.", "00D09E", "RG")) is first
    others = [
        ConfigTarget("InternetGatewayDevice.", "00D09E", "RG"),
        ConfigTarget("Device.", "00D09F", "RG"),
        ConfigTarget("Device.", "00D09E", "RG2"),
    ]
    for target in others:
        config = cache.get(PROFILE, target)
        assert config.data_model_root == target.data_model_root
        assert cache.known(target, config.parameter_key) == (PROFILE, config)
    assert builder.calls == 4
    assert len(cache) == 4
