"""The provisioning side of a quiet periodic session: nothing to send, a trace at its end.

`check_quiet` decided at the Inform that the session has nothing to do (the device is
provisioned and its config unchanged). What is left is what the general workflow
records for such a session, and nothing else: the session and the Inform counted at
the start, and at the end the session's trace, the root ``cpe.inform`` with the
``authenticate`` and ``fetch_profile`` steps the check performed, handed to telemetry,
whose sampler keeps the configured share of quiet periodic sessions and drops the
rest. The span names and attributes come from the same functions the workflow uses
(`traceacs.provisioning.quiet_check`, `traceacs.provisioning.steps`);
``tests/provisioning/test_quiet_session.py`` holds the two paths' traces equal.

Where sessions are shared by several ACS processes (`--session-store database`), the
record is written down after the Inform (`QuietSession.snapshot`: the Inform as the CPE
sent it, the device facts the check read, the step times; never the profile, which
holds secrets) and the process that gets the empty POST rebuilds it
(`QuietSession.resumed`) to end it there, with the same trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from traceacs.cwmp import messages as m
from traceacs.provisioning.device import InformedDevice, ProvisioningState
from traceacs.provisioning.quiet_check import (
    QuietVerdict,
    device_step_attributes,
    inform_root_attributes,
    reported_values,
)
from traceacs.provisioning.session_handler import SessionEndReason
from traceacs.provisioning.session_snapshot import (
    Json,
    SnapshotError,
    inform_from_json,
    inform_to_json,
)
from traceacs.provisioning.session_trace import SessionTrace
from traceacs.provisioning.steps import STEP_SPAN_NAMES, Step
from traceacs.provisioning.telemetry_port import (
    ProvisioningOutcome,
    ProvisioningTelemetry,
    QuietTraceSampling,
)
from traceacs.provisioning.trace_recorder import RandomIds, TraceRecorder, to_ns

log = logging.getLogger("traceacs.provisioning")


def log_session_end(
    session_id: str,
    inform: m.Inform | None,
    outcome: ProvisioningOutcome | None,
    duration_ms: float,
    reason: SessionEndReason,
) -> None:
    """The provisioning handler's DEBUG line at a session's end (both paths)."""
    if log.isEnabledFor(logging.DEBUG):  # its arguments cost more than the check
        log.debug(
            "session %s device=%r events=%r result=%s duration_ms=%.1f end=%s",
            session_id,
            inform.device_id.serial_number if inform else "-",
            ",".join(inform.event_codes) if inform else "-",
            outcome.result if outcome else "none",
            duration_ms if inform else 0.0,
            reason,
        )


@dataclass(frozen=True, slots=True)
class QuietFacts:
    """What a quiet session's trace reports of its check: the device facts it read, the
    profile's parameter count (never the profile: its config holds secrets) and when
    the inventory read and the check ended. Plain data, written down as JSON when the
    session moves to another process."""

    device: InformedDevice
    parameter_count: int
    recorded_at: float
    checked_at: float

    @classmethod
    def of(cls, verdict: QuietVerdict) -> QuietFacts:
        assert verdict.device is not None
        assert verdict.profile is not None
        return cls(
            verdict.device,
            verdict.profile.parameter_count,
            verdict.recorded_at,
            verdict.checked_at,
        )

    def to_json(self) -> Json:
        device = self.device
        return {
            "device": {
                "state": device.state.value,
                "parameter_key": device.parameter_key,
                "customer_id": device.customer_id,
                "service_plan": device.service_plan,
                "location_id": device.location_id,
                "updated_at": device.updated_at,
                "queued_tasks": device.queued_tasks,
            },
            "parameter_count": self.parameter_count,
            "recorded_at": self.recorded_at,
            "checked_at": self.checked_at,
        }

    @classmethod
    def from_json(cls, data: Json) -> QuietFacts:
        """Raises KeyError, TypeError or ValueError on data `to_json` did not write."""
        device = data["device"]
        return cls(
            InformedDevice(
                state=ProvisioningState(device["state"]),
                parameter_key=device["parameter_key"],
                customer_id=str(device["customer_id"]),
                service_plan=str(device["service_plan"]),
                location_id=str(device["location_id"]),
                updated_at=float(device["updated_at"]),
                queued_tasks=bool(device["queued_tasks"]),
            ),
            int(data["parameter_count"]),
            float(data["recorded_at"]),
            float(data["checked_at"]),
        )


class QuietSession:
    """A quiet periodic session's provisioning record (see the module docstring).

    Counts the session and its Inform when created; `end` records its trace, `release`
    uncounts the session when it goes the general way after all (the general
    handler counts it again).
    """

    __slots__ = (
        "_asked",
        "_codes",
        "_ended",
        "_facts",
        "_ids",
        "_inform",
        "_sampling",
        "_session_id",
        "_started_at",
        "_telemetry",
    )

    def __init__(
        self,
        session_id: str,
        inform: m.Inform,
        codes: tuple[str, ...],
        facts: QuietFacts,
        started_at: float,
        *,
        telemetry: ProvisioningTelemetry,
        sampling: QuietTraceSampling | None,
        ids: RandomIds,
        inform_counted: bool = False,
    ) -> None:
        """``inform_counted``: the Inform was counted by the process that received it
        (a record `resumed` elsewhere counts the session only)."""
        self._session_id = session_id
        self._inform = inform
        self._codes = codes
        self._facts = facts
        self._started_at = started_at
        self._telemetry = telemetry
        self._sampling = sampling
        """``telemetry`` when it can tell up front whether the trace is kept."""
        self._ids = ids
        self._ended = False
        self._asked = False
        telemetry.session_started()
        if not inform_counted:
            telemetry.inform_received(codes)

    @property
    def inform(self) -> m.Inform:
        return self._inform

    @property
    def started_at(self) -> float:
        return self._started_at

    def snapshot(self) -> Json:
        """The record between the Inform and the empty POST, for another ACS process
        (JSON-ready; no secrets)."""
        return {
            "inform": inform_to_json(self._inform),
            "codes": list(self._codes),
            "started_at": self._started_at,
            "asked": self._asked,
            **self._facts.to_json(),
        }

    @classmethod
    def resumed(
        cls,
        session_id: str,
        state: Json,
        *,
        telemetry: ProvisioningTelemetry,
        sampling: QuietTraceSampling | None,
        ids: RandomIds,
    ) -> QuietSession:
        """The record `snapshot` wrote, in this or another process (`SnapshotError` if
        it cannot be read)."""
        try:
            inform = inform_from_json(state["inform"])
            if inform is None:
                raise SnapshotError("a quiet session's snapshot without its Inform")
            codes = tuple(str(code) for code in state["codes"])
            facts = QuietFacts.from_json(state)
            started_at = float(state["started_at"])
            asked = bool(state["asked"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"unreadable quiet session snapshot: {exc!r}") from None
        record = cls(
            session_id,
            inform,
            codes,
            facts,
            started_at,
            telemetry=telemetry,
            sampling=sampling,
            ids=ids,
            inform_counted=True,
        )
        record._asked = asked
        return record

    def asked(self) -> None:
        """The CPE's empty POST came: the session asked what to send (the general path
        runs its ``fetch_profile`` step there, so the trace has that step only from
        here; a session cut short before it has none)."""
        self._asked = True

    def release(self) -> None:
        """The session goes on as a general one: uncount it here (not its Inform)."""
        if not self._ended:
            self._ended = True
            self._telemetry.session_released()

    def end(self, reason: SessionEndReason, now: float) -> None:
        """The session ended (``reason``): its trace to telemetry, when kept."""
        if self._ended:
            return
        self._ended = True
        trace_id = self._ids.new_trace_id()
        sampling = self._sampling
        if sampling is not None and not sampling.samples_quiet_trace(trace_id):
            self._telemetry.session_released()  # the session ends here, its trace unkept
        else:
            self._finish_traced(trace_id, now)
        log_session_end(
            self._session_id, self._inform, None, (now - self._started_at) * 1000, reason
        )

    def _finish_traced(self, trace_id: str, now: float) -> None:
        """The trace the general path records for a quiet session, to telemetry."""
        started_at, facts = self._started_at, self._facts
        trace = SessionTrace(trace_id=trace_id)
        spans = TraceRecorder(trace, self._ids)
        root = spans.start(
            "cpe.inform",
            started_at,
            attributes=inform_root_attributes(
                self._inform, reported_values(self._inform), self._codes, self._session_id
            ),
        )
        authenticate = spans.start(
            STEP_SPAN_NAMES[Step.AUTHENTICATE],
            started_at,
            parent=root,
            attributes=device_step_attributes(facts.device),
        )
        authenticate.end(to_ns(facts.recorded_at))
        if self._asked:
            fetch = spans.start(
                STEP_SPAN_NAMES[Step.FETCH_PROFILE],
                facts.recorded_at,
                parent=root,
                attributes={"cpe.profile.parameter_count": facts.parameter_count},
            )
            fetch.end(to_ns(facts.checked_at))
        root.end(to_ns(now))
        self._telemetry.session_finished(trace, None)
