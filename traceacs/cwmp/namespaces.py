"""XML namespace URIs of SOAP 1.1 and CWMP, and the CWMP version <-> namespace map.

CWMP 1.2, 1.3 and 1.4 share the ``cwmp-1-2`` namespace: the version a peer speaks is
not visible in the namespace beyond 1.2, which is why 1.4 added the
``SupportedCWMPVersions`` / ``UseCWMPVersion`` headers. Some agents nevertheless send
``cwmp-1-3`` / ``cwmp-1-4`` namespaces; the parser accepts them and the ACS answers in
whatever namespace the CPE used.
"""

from __future__ import annotations

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

CWMP_1_0 = "urn:dslforum-org:cwmp-1-0"
CWMP_1_1 = "urn:dslforum-org:cwmp-1-1"
CWMP_1_2 = "urn:dslforum-org:cwmp-1-2"
CWMP_1_3 = "urn:dslforum-org:cwmp-1-3"
"""Not a namespace of any published schema, but seen from CPEs in the wild."""
CWMP_1_4 = "urn:dslforum-org:cwmp-1-4"
"""Not a namespace of any published schema, but seen from CPEs in the wild."""

STANDARD_CWMP_NAMESPACES: tuple[str, ...] = (CWMP_1_0, CWMP_1_1, CWMP_1_2)
"""The namespaces the Broadband Forum schemas define."""

CWMP_NAMESPACES: frozenset[str] = frozenset((CWMP_1_0, CWMP_1_1, CWMP_1_2, CWMP_1_3, CWMP_1_4))
"""Every cwmp namespace the parser accepts."""

CWMP_VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3", "1.4")

_NAMESPACE_BY_VERSION: dict[str, str] = {
    "1.0": CWMP_1_0,
    "1.1": CWMP_1_1,
    "1.2": CWMP_1_2,
    "1.3": CWMP_1_2,
    "1.4": CWMP_1_2,
}

_VERSION_BY_NAMESPACE: dict[str, str] = {
    CWMP_1_0: "1.0",
    CWMP_1_1: "1.1",
    CWMP_1_2: "1.2",
    CWMP_1_3: "1.3",
    CWMP_1_4: "1.4",
}


def namespace_for_version(version: str) -> str:
    """The namespace to speak CWMP ``version`` in ("1.3" and "1.4" -> ``cwmp-1-2``)."""
    try:
        return _NAMESPACE_BY_VERSION[version.strip()]
    except KeyError:
        raise ValueError(f"unknown CWMP version {version!r}") from None


def version_for_namespace(namespace: str) -> str:
    """The lowest CWMP version a namespace implies ("1.2" for ``cwmp-1-2``)."""
    try:
        return _VERSION_BY_NAMESPACE[namespace]
    except KeyError:
        raise ValueError(f"not a CWMP namespace: {namespace!r}") from None


def is_cwmp_namespace(namespace: str | None) -> bool:
    return namespace in CWMP_NAMESPACES


def parse_supported_versions(header: str) -> tuple[str, ...]:
    """Split a ``SupportedCWMPVersions`` header ("1.0,1.1,1.2") into known versions."""
    seen = (v.strip() for v in header.split(","))
    return tuple(v for v in seen if v in _NAMESPACE_BY_VERSION)


def highest_common_version(
    supported: str, acs_versions: tuple[str, ...] = CWMP_VERSIONS
) -> str | None:
    """The highest version in a ``SupportedCWMPVersions`` header the ACS also speaks."""
    common = [v for v in parse_supported_versions(supported) if v in acs_versions]
    if not common:
        return None
    return max(common, key=lambda v: tuple(int(p) for p in v.split(".")))
