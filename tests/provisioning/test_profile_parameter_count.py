"""``cpe.profile.parameter_count``: counted once per profile, always the seed's count."""

from __future__ import annotations

import dataclasses

import pytest

from tests.provisioning.config_profiles import full_profile, wpa2_profile
from traceacs.provisioning.profile import (
    ExtraParameter,
    ServiceProfile,
    VlanConfig,
    WifiConfig,
)
from traceacs.provisioning.workflow import profile_parameter_count


def reference_count(profile: ServiceProfile) -> int:
    """The count as the workflow computed it at every fetch_profile before caching."""
    count = len(profile.services) + len(profile.extra_parameters)
    if profile.wifi is not None:
        count += 3 + len(profile.wifi.bands)
    count += sum(
        v is not None for v in (profile.vlans.internet, profile.vlans.voip, profile.vlans.iptv)
    )
    count += 4 * len(profile.voip_lines)
    if profile.iptv is not None:
        count += 3
    return count


BARE = ServiceProfile(name="bare", services=("internet",))


@pytest.mark.parametrize(
    "profile",
    [
        BARE,
        full_profile(),
        wpa2_profile(),
        dataclasses.replace(BARE, wifi=WifiConfig("net", "key-0123456789")),
        dataclasses.replace(
            BARE,
            vlans=VlanConfig(internet=7),
            extra_parameters=(ExtraParameter("Device.X_Vendor.Knob", "1"),),
        ),
    ],
    ids=["bare", "full", "wpa2", "wifi", "vlan-extra"],
)
def test_count_matches_the_reference_and_stays(profile: ServiceProfile) -> None:
    expected = reference_count(profile)
    assert profile_parameter_count(profile) == expected
    assert profile_parameter_count(profile) == expected  # the kept value


def test_a_changed_copy_is_counted_afresh() -> None:
    """`dataclasses.replace` makes a new profile: its count is its own, not the kept one."""
    profile = full_profile()
    assert profile_parameter_count(profile) == reference_count(profile)
    fewer = dataclasses.replace(profile, voip_lines=(), iptv=None)
    assert profile_parameter_count(fewer) == reference_count(fewer)
    assert profile_parameter_count(fewer) == profile_parameter_count(profile) - 4 * 2 - 3


def test_the_kept_count_takes_no_part_in_equality_or_hash() -> None:
    counted, fresh = full_profile(), full_profile()
    profile_parameter_count(counted)
    assert counted == fresh
    assert hash(counted) == hash(fresh)
