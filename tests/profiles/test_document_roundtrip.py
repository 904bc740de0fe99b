"""Property: every valid profile survives document form, JSON and YAML unchanged."""

from __future__ import annotations

import json

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from traceacs.profiles.document import profile_from_document, profile_to_document
from traceacs.provisioning.profile import (
    SERVICES,
    WIFI_BANDS,
    WIFI_SECURITY_MODES,
    ExtraParameter,
    FirmwareTarget,
    IptvConfig,
    ServiceProfile,
    VlanConfig,
    VoipLine,
    WifiConfig,
)

vlan_ids = st.integers(min_value=1, max_value=4094)
# any character a profile may hold: all but NUL (refused, as PostgreSQL cannot store it)
NO_NUL = st.characters(codec="utf-8", exclude_characters="\x00")
texts = st.text(NO_NUL, min_size=1, max_size=20).filter(lambda s: s.strip() != "")
passphrases = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=8, max_size=63
)
ssids = st.text(NO_NUL, min_size=1, max_size=32).filter(
    lambda s: s.strip() != "" and len(s.encode("utf-8")) <= 32
)

file_names = st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9_-]{0,12}(\.bin)?", fullmatch=True)


@st.composite
def profiles(draw: st.DrawFn) -> ServiceProfile:
    services = tuple(draw(st.lists(st.sampled_from(SERVICES), unique=True)))
    security = draw(st.sampled_from(WIFI_SECURITY_MODES))
    wifi = draw(
        st.none()
        | st.builds(
            WifiConfig,
            ssid=ssids,
            passphrase=passphrases,
            security=st.just(security),
            bands=st.lists(st.sampled_from(WIFI_BANDS), min_size=1, unique=True).map(tuple),
        )
    )
    lines: tuple[VoipLine, ...] = ()
    if "voip" in services:
        line = st.builds(
            VoipLine,
            registrar=texts,
            proxy=st.text(NO_NUL, max_size=10),
            user=texts,
            password=texts,
        )
        lines = tuple(draw(st.lists(line, min_size=1, max_size=2)))
    iptv = None
    if "iptv" in services:
        iptv = IptvConfig(
            multicast_vlan=draw(vlan_ids),
            igmp_enabled=draw(st.booleans()),
            igmp_version=draw(st.sampled_from([1, 2, 3])),
        )
    optional_vlan = st.none() | vlan_ids
    extras = draw(
        st.lists(
            st.builds(
                ExtraParameter,
                name=st.from_regex(r"Device\.[A-Za-z]{1,8}\.[A-Za-z]{1,8}", fullmatch=True),
                value=st.text(NO_NUL, max_size=10),
                xsd_type=st.just("string"),
            ),
            max_size=2,
        )
    )
    return ServiceProfile(
        name=draw(texts),
        services=services,
        wifi=wifi,
        vlans=VlanConfig(draw(optional_vlan), draw(optional_vlan), draw(optional_vlan)),
        voip_lines=lines,
        iptv=iptv,
        extra_parameters=tuple(extras),
        target_firmware=draw(st.none() | texts),
        firmware=tuple(
            FirmwareTarget(model, draw(texts), draw(file_names))
            for model in sorted(draw(st.lists(texts, max_size=3, unique=True)))
        ),
        version=draw(st.text(NO_NUL, max_size=8)),
    )


@settings(max_examples=150, deadline=None)
@given(profiles())
def test_every_valid_profile_round_trips(profile: ServiceProfile) -> None:
    document = profile_to_document(profile)
    assert profile_from_document(document) == profile
    assert profile_from_document(json.loads(json.dumps(document))) == profile
    assert profile_from_document(yaml.safe_load(yaml.safe_dump(document))) == profile
