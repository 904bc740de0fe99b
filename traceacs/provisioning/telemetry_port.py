"""The port through which the provisioning workflow reports to telemetry.

The workflow never imports OpenTelemetry (layer rule): it records a `SessionTrace`
while the CWMP session runs and calls this port at a few well-defined moments. The
telemetry package supplies the real adapter; `NoOpProvisioningTelemetry` serves tests
and "telemetry off".

Metrics that describe *this process* (active sessions, RPC round trips, informs) are
reported live; everything about the provisioning as a whole (spans, result, step and
total durations, mismatches) is handed over once, in `session_finished`, so a session
that moved between ACS processes is still exported as one trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from traceacs.provisioning.results import Result
from traceacs.provisioning.session_trace import SessionTrace

KNOWN_RESULTS: tuple[str, ...] = (
    Result.SUCCESS,
    Result.UNKNOWN_DEVICE,
    Result.NO_PROFILE,
    Result.CONFIG_PUSH_FAILED,
    Result.VERIFICATION_FAILED,
)
"""The seed's result classes; new failure classes are plain new strings (the
``result`` attribute of ``cpe.provision.count`` is open-ended on purpose)."""

PROVISION_STEPS: tuple[str, ...] = (
    "authenticate",
    "fetch_profile",
    "firmware",
    "push_config",
    "verify",
)
"""The step names: the ``step`` attribute and the ``cpe.provision.<step>`` spans (the
seed's four, plus ``firmware``, which runs only when a model's target firmware differs
from the version the CPE reports)."""


@dataclass(frozen=True, slots=True)
class ProvisioningOutcome:
    """The summary of one provisioning run, for the metrics.

    ``step_durations_ms`` holds every step that *ran*, including the one that failed
    (the seed skipped durations on failure paths; we do not). ``model`` and
    ``service_plan`` may be ``""`` when unknown (e.g. ``unknown_device``). The serial
    number is deliberately absent: it belongs on spans only, never on metric labels.
    """

    result: str
    model: str
    service_plan: str
    total_duration_ms: float
    step_durations_ms: Mapping[str, float] = field(default_factory=dict)
    verify_mismatches: int = 0
    fault_code: int | None = None


class ProvisioningTelemetry(Protocol):
    """What the workflow and the session layer tell telemetry, and when."""

    def session_started(self) -> None:
        """This process begins holding a CWMP session (new, or resumed from the store)."""
        ...

    def session_released(self) -> None:
        """This process stops holding a session that will continue elsewhere."""
        ...

    def session_finished(self, trace: SessionTrace, outcome: ProvisioningOutcome | None) -> None:
        """The session ended here: export its trace and, if it provisioned, its metrics.

        ``outcome`` is ``None`` for a session that ran no provisioning (e.g. a quiet
        periodic inform). Must not raise: telemetry failures never break a session.
        """
        ...

    def rpc_finished(self, method: str, duration_s: float, fault_code: int | None) -> None:
        """One ACS->CPE RPC round trip finished (``fault_code`` when the CPE faulted)."""
        ...

    def inform_received(self, event_codes: Sequence[str]) -> None:
        """An Inform arrived carrying these event codes (e.g. ``"2 PERIODIC"``)."""
        ...

    def task_finished(self, name: str, result: str, duration_ms: float | None) -> None:
        """A device task reached an outcome (``result``: done, failed, retry,
        interrupted, waiting); ``duration_ms`` from its start in this session, None
        when it was finished by a later TransferComplete. No device identity here."""
        ...


@runtime_checkable
class QuietTraceSampling(Protocol):
    """A telemetry port that can tell, before a quiet periodic session's trace is
    recorded, whether it will be kept (`QuietSession` records it only then; without
    this, it records every one and `session_finished` decides)."""

    def samples_quiet_trace(self, trace_id: str) -> bool:
        """Whether the trace of a quiet periodic session with this id is kept. When it
        is not, the session's end is told by `session_released` alone."""
        ...


class NoOpProvisioningTelemetry:
    """Telemetry switched off: every call does nothing."""

    def session_started(self) -> None:
        return None

    def session_released(self) -> None:
        return None

    def samples_quiet_trace(self, trace_id: str) -> bool:
        return False

    def session_finished(self, trace: SessionTrace, outcome: ProvisioningOutcome | None) -> None:
        return None

    def rpc_finished(self, method: str, duration_s: float, fault_code: int | None) -> None:
        return None

    def inform_received(self, event_codes: Sequence[str]) -> None:
        return None

    def task_finished(self, name: str, result: str, duration_ms: float | None) -> None:
        return None
