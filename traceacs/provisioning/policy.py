"""What an Inform asks of the ACS: provision now, check for drift, or nothing.

Pure decisions on stored facts and the Inform's event codes, with time passed in:
- ``0 BOOTSTRAP`` (new or factory-reset device): provision.
- a device never provisioned, or one an operator asked to re-provision: provision.
- a failed device: provision again once its retry backoff has passed.
- a provisioned device whose reported ParameterKey differs from the one we pushed
  (someone or something changed its config): provision.
- ``1 BOOT`` / ``2 PERIODIC`` / anything else on a provisioned device: check, i.e.
  fetch the profile and push only if the resulting config differs from what was
  pushed last (a profile changed in the BSS reaches the device at its next inform).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from traceacs.cwmp.events import BOOTSTRAP
from traceacs.provisioning.device import ProvisioningState
from traceacs.provisioning.results import Result


class Plan(enum.Enum):
    PROVISION = "provision"
    CHECK = "check"
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff between failed attempts.

    The first failure is retried at the very next inform (it is often transient: a
    dropped connection, a CPE that rebooted mid-session); after that the wait doubles
    from ``base_seconds`` up to ``max_seconds``, so a device that keeps failing does
    not cost a full provisioning at every periodic inform.
    """

    base_seconds: float = 60.0
    max_seconds: float = 3600.0

    not_failures: tuple[str, ...] = (Result.EXPIRED, Result.SESSION_ABANDONED)
    """Attempt results that do not count toward the backoff: the attempt was cut short,
    the device did not fail it. ``expired``: its session died with the ACS process (a
    new Inform superseded it, or the stale-attempt sweep ended it); ``session_abandoned``:
    the CPE rebooted or dropped its connection mid-session and started over."""

    def delay(self, consecutive_failures: int) -> float:
        if consecutive_failures <= 1:
            return 0.0
        return min(self.max_seconds, self.base_seconds * 2.0 ** (consecutive_failures - 2))


class PlanFacts(Protocol):
    """What `plan_for_inform` reads of a device: a `Device`, or the `InformedDevice` a
    quiet periodic check read."""

    @property
    def state(self) -> ProvisioningState: ...

    @property
    def updated_at(self) -> float: ...

    @property
    def parameter_key(self) -> str | None: ...


def plan_for_inform(
    device: PlanFacts,
    event_codes: Sequence[str],
    reported_parameter_key: str | None,
    *,
    now: float,
    consecutive_failures: int = 0,
    retry: RetryPolicy | None = None,
    last_failure_at: float | None = None,
) -> Plan:
    """``last_failure_at`` is when the last failed attempt ended; the backoff counts
    from it (the device's ``updated_at`` moves at every inform, so it cannot)."""
    if BOOTSTRAP in event_codes:
        return Plan.PROVISION
    if device.state in (ProvisioningState.NEW, ProvisioningState.PROVISIONING):
        return Plan.PROVISION
    if device.state is ProvisioningState.FAILED:
        backoff = (retry or RetryPolicy()).delay(consecutive_failures)
        since = device.updated_at if last_failure_at is None else last_failure_at
        ready = now - since >= backoff
        return Plan.PROVISION if ready else Plan.WAIT
    if (
        reported_parameter_key is not None
        and device.parameter_key is not None
        and reported_parameter_key != device.parameter_key
    ):
        return Plan.PROVISION
    return Plan.CHECK
