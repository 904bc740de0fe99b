"""Failure injection: which simulated CPE misbehaves, and how, decided from a seed.

A fleet is asked for failures as percentages (``unknown=2%,spv_fault=3%``) or per device.
Failures are exclusive (a CPE has at most one, so that each produces the provisioning
result it is meant to), quirks combine freely with anything. The assignment depends
only on the fleet size, the spec and the seed, so the same command reproduces the same
misbehaving serial numbers.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Failure(StrEnum):
    """Failures that make provisioning end in a specific non-success result."""

    UNKNOWN = "unknown"
    """Serial not written to the inventory: the ACS must answer unknown_device."""
    NO_PROFILE = "no_profile"
    """In the inventory with a service plan that has no profile."""
    SPV_FAULT = "spv_fault"
    """SetParameterValues answered with 9003 and one 9005/9007/9008 per parameter."""
    SPV_INTERNAL = "spv_internal"
    """SetParameterValues answered with a plain 9002 internal error."""
    MISMATCH = "mismatch"
    """SetParameterValues claims success but some values are silently not applied."""
    SLOW = "slow"
    """Every POST waits ``FaultPlan.slow_seconds`` before it is sent."""
    DROP = "drop"
    """The connection is dropped mid-session (after the first ACS request)."""
    CRASH = "crash"
    """The CPE reboots mid-session (after the first ACS request), then comes back."""
    FIRMWARE_CORRUPT = "firmware_corrupt"
    """A firmware image is fetched but fails its integrity check: TransferComplete 9018."""
    FIRMWARE_TIMEOUT = "firmware_timeout"
    """A firmware Download is accepted and never completes (no TransferComplete)."""
    FIRMWARE_WRONG_VERSION = "firmware_wrong_version"
    """A firmware upgrade reports success but the CPE boots its old version again."""


class Quirk(StrEnum):
    """Protocol quirks of real CPEs (``QUIRKS.md``); sessions still complete."""

    SOAP_PREFIX = "quirk_prefix"
    """``SOAP-ENV:`` / ``soapenv:`` / ``soap_env:`` prefixes instead of the codec's."""
    BOOLEAN_AS_1 = "quirk_bool"
    """Booleans reported as ``1``/``0``."""
    NO_CWMP_ID = "quirk_no_id"
    """No ``cwmp:ID`` header at all."""
    NO_COOKIES = "quirk_no_cookie"
    """Ignores Set-Cookie: every POST comes without the session cookie."""
    NEW_CONNECTION = "quirk_new_conn"
    """Opens a new TCP connection for every POST of the session."""
    CHUNKED_EMPTY_POST = "quirk_chunked"
    """Sends the empty POST with ``Transfer-Encoding: chunked`` and no body."""


FAILURES: tuple[Failure, ...] = tuple(Failure)
QUIRKS: tuple[Quirk, ...] = tuple(Quirk)
SPV_PARAMETER_FAULTS: tuple[int, ...] = (9005, 9007, 9008)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """How one CPE misbehaves. ``NO_FAULTS`` is the well-behaved CPE (shared)."""

    failure: Failure | None = None
    quirks: frozenset[Quirk] = frozenset()
    spv_fault_code: int = 9007
    """The per-parameter code SPV_FAULT uses."""
    slow_seconds: float = 2.0
    soap_prefix: str = "SOAP-ENV"

    def has(self, quirk: Quirk) -> bool:
        return quirk in self.quirks


NO_FAULTS = FaultPlan()

_PREFIXES = ("SOAP-ENV", "soapenv", "soap_env")


class FailSpecError(ValueError):
    """A ``--fail`` specification that cannot be understood."""


def parse_fail_spec(spec: str) -> dict[str, float]:
    """``"unknown=2%,spv_fault=0.03,quirk_bool=5%"`` -> ``{"unknown": 0.02, ...}``."""
    known = {f.value for f in Failure} | {q.value for q in Quirk}
    result: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or name not in known:
            raise FailSpecError(f"unknown failure {name!r}; known: {', '.join(sorted(known))}")
        raw = raw.strip()
        try:
            share = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
        except ValueError:
            raise FailSpecError(f"bad share {raw!r} for {name}") from None
        if not 0 <= share <= 1:
            raise FailSpecError(f"share for {name} must be within 0-100%")
        result[name] = share
    if sum(v for k, v in result.items() if k in {f.value for f in Failure}) > 1:
        raise FailSpecError("failure shares add up to more than 100%")
    return result


def assign_faults(count: int, shares: Mapping[str, float], seed: int) -> list[FaultPlan]:
    """One `FaultPlan` per CPE index: exactly ``round(count * share)`` CPEs per entry."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test fleets, not secrets
    order = list(range(count))
    rng.shuffle(order)
    failure_of: dict[int, Failure] = {}
    cursor = 0
    for failure in Failure:
        n = round(count * shares.get(failure.value, 0.0))
        for index in order[cursor : cursor + n]:
            failure_of[index] = failure
        cursor += n
    quirks_of: dict[int, set[Quirk]] = {}
    for quirk in Quirk:
        n = round(count * shares.get(quirk.value, 0.0))
        for index in rng.sample(range(count), n):
            quirks_of.setdefault(index, set()).add(quirk)
    plans: list[FaultPlan] = []
    for index in range(count):
        assigned = failure_of.get(index)
        quirks = frozenset(quirks_of.get(index, ()))
        if assigned is None and not quirks:
            plans.append(NO_FAULTS)
            continue
        plans.append(
            FaultPlan(
                failure=assigned,
                quirks=quirks,
                spv_fault_code=SPV_PARAMETER_FAULTS[index % len(SPV_PARAMETER_FAULTS)],
                soap_prefix=_PREFIXES[index % len(_PREFIXES)],
            )
        )
    return plans
