"""The customer's service profile, as the BSS/OSS describes it.

A profile is data-model neutral: it says *what* the customer bought (Wi-Fi, VoIP lines,
VLANs, IPTV), never *which* TR-181 or TR-098 parameter carries it; the config builder
maps it onto the device's data model. Secrets (Wi-Fi passphrase, SIP password) are
kept out of ``repr`` so that a profile printed in a log or an exception leaks nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

Service = Literal["internet", "voip", "iptv"]
WifiBand = Literal["2.4GHz", "5GHz", "6GHz"]
WifiSecurity = Literal["WPA2-Personal", "WPA3-Personal", "WPA2-WPA3-Personal", "None"]

SERVICES: tuple[Service, ...] = ("internet", "voip", "iptv")
WIFI_BANDS: tuple[WifiBand, ...] = ("2.4GHz", "5GHz", "6GHz")
WIFI_SECURITY_MODES: tuple[WifiSecurity, ...] = (
    "WPA2-Personal",
    "WPA3-Personal",
    "WPA2-WPA3-Personal",
    "None",
)


@dataclass(frozen=True, slots=True)
class WifiConfig:
    ssid: str
    passphrase: str = field(repr=False)
    security: WifiSecurity = "WPA2-Personal"
    bands: tuple[WifiBand, ...] = ("2.4GHz", "5GHz")


@dataclass(frozen=True, slots=True)
class VlanConfig:
    """802.1Q VLAN ids per service; ``None`` means untagged / not used."""

    internet: int | None = None
    voip: int | None = None
    iptv: int | None = None


@dataclass(frozen=True, slots=True)
class VoipLine:
    registrar: str
    proxy: str
    user: str
    password: str = field(repr=False)
    directory_number: str = ""


@dataclass(frozen=True, slots=True)
class IptvConfig:
    multicast_vlan: int
    igmp_enabled: bool = True
    igmp_version: int = 3


@dataclass(frozen=True, slots=True)
class ExtraParameter:
    """A raw parameter the BSS wants set as is (name in the device's own data model)."""

    name: str
    value: str
    xsd_type: str = "string"


@dataclass(frozen=True, slots=True)
class FirmwareTarget:
    """The firmware every CPE of one model (its ProductClass) must run.

    ``file`` names the image in the ACS's file store; provisioning sends it with a
    Download when the Inform's SoftwareVersion differs from ``version``.
    """

    product_class: str
    version: str
    file: str


@dataclass(frozen=True, slots=True)
class ServiceProfile:
    """What one customer's CPE must be configured with.

    ``name`` identifies the profile (usually the service plan); ``version`` is an opaque
    revision from the BSS that changes whenever the profile does.
    """

    name: str
    services: tuple[Service, ...]
    wifi: WifiConfig | None = None
    vlans: VlanConfig = field(default_factory=VlanConfig)
    voip_lines: tuple[VoipLine, ...] = ()
    iptv: IptvConfig | None = None
    extra_parameters: tuple[ExtraParameter, ...] = ()
    target_firmware: str | None = None
    firmware: tuple[FirmwareTarget, ...] = ()
    """Target firmware per model (a tuple, not a dict, so the profile stays hashable)."""
    version: str = ""
    _hash: int = field(init=False, repr=False, compare=False, default=0)
    """The hash, computed at its first use and kept (0: not yet): a profile is a key of
    the config cache (`traceacs.provisioning.config_cache`), looked up at every inform,
    and hashing it afresh walks every nested field."""

    _parameter_count: int = field(init=False, repr=False, compare=False, default=-1)
    """`parameter_count`, computed at its first use and kept (-1: not yet): every
    session's fetch_profile span carries it, and a profile serves many sessions."""

    @property
    def parameter_count(self) -> int:
        """How many settings the profile carries (the seed's ``cpe.profile.parameter_count``)."""
        count = self._parameter_count
        if count < 0:
            count = len(self.services) + len(self.extra_parameters)
            if self.wifi is not None:
                count += 3 + len(self.wifi.bands)
            vlans = self.vlans
            count += sum(v is not None for v in (vlans.internet, vlans.voip, vlans.iptv))
            count += 4 * len(self.voip_lines)
            if self.iptv is not None:
                count += 3
            object.__setattr__(self, "_parameter_count", count)
        return count

    def __hash__(self) -> int:
        cached = self._hash
        if not cached:
            cached = hash(tuple(getattr(self, name) for name in _COMPARED_FIELDS)) or 1
            object.__setattr__(self, "_hash", cached)
        return cached

    def firmware_for(self, product_class: str) -> FirmwareTarget | None:
        """The target firmware of ``product_class``, if the profile sets one."""
        return next((f for f in self.firmware if f.product_class == product_class), None)

    @property
    def wifi_bands(self) -> tuple[WifiBand, ...]:
        return self.wifi.bands if self.wifi else ()

    @property
    def has_voip(self) -> bool:
        return "voip" in self.services

    @property
    def has_iptv(self) -> bool:
        return "iptv" in self.services


_COMPARED_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(ServiceProfile) if f.compare
)
"""The fields `ServiceProfile.__eq__` compares, hence those its hash covers."""
