"""The seed's provisioning workflow, driving CWMP's inverted RPCs.

The seed writes provisioning as straight-line code; on the wire the CPE opens every
HTTP request, so an RPC travels in the ACS's answer and its result arrives with the
CPE's next POST (DESIGN.md section 1). The steps are therefore written as the session
hands them control:

    on_inform          authenticate against the inventory, decide what to do
    next_acs_request   fetch_profile, build the config, push_config (SetParameterValues)
    on_cpe_response    SetParameterValues result -> verify (GetParameterValues, ALL
                       pushed parameters) -> mark provisioned or failed
    on_session_end     close the attempt and the trace whatever ended the session

Each step is a span of the session's `SessionTrace` (``cpe.provision.<step>`` under
the root ``cpe.inform``, each RPC a ``cwmp.rpc <Method>`` child of its step), and every
attempt is a row in the repository. Failures carry the seed's messages; durations are
recorded on failure paths too. Secrets never leave the `DesiredConfig`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from traceacs.cwmp import messages as m
from traceacs.cwmp.events import BOOT, BOOTSTRAP
from traceacs.cwmp.faults import REQUEST_DENIED, RETRY_REQUEST, make_fault
from traceacs.profiles.source import ProfileNotFound, ProfileSource, ProfileSourceUnavailable
from traceacs.provisioning.config_builder import build_config
from traceacs.provisioning.config_cache import ConfigCache
from traceacs.provisioning.config_types import ConfigBuildError, ConfigTarget, DesiredConfig
from traceacs.provisioning.cr_credentials import (
    credential_parameters,
    credentials_for,
    profile_sets_credentials,
)
from traceacs.provisioning.device import DATA_MODEL_ROOTS, Device, InformFacts, ProvisioningState
from traceacs.provisioning.policy import Plan, RetryPolicy, plan_for_inform
from traceacs.provisioning.profile import ServiceProfile
from traceacs.provisioning.repository import (
    AttemptFilter,
    AttemptInProgress,
    DeviceRepository,
    RepositoryError,
    StorageUnavailable,
)
from traceacs.provisioning.results import Result
from traceacs.provisioning.session_handler import (
    SessionEndReason,
    SessionHandler,
    default_cpe_answer,
)
from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.provisioning.telemetry_port import (
    NoOpProvisioningTelemetry,
    ProvisioningOutcome,
    ProvisioningTelemetry,
)
from traceacs.provisioning.trace_recorder import RandomIds, TraceRecorder, to_ns
from traceacs.provisioning.vendor_overrides import VendorOverrides
from traceacs.provisioning.verify import find_mismatches

log = logging.getLogger("traceacs.provisioning")

UNKNOWN_DEVICE_FAULT = "Device not registered"


class Step(enum.StrEnum):
    AUTHENTICATE = "authenticate"
    FETCH_PROFILE = "fetch_profile"
    PUSH_CONFIG = "push_config"
    VERIFY = "verify"


@dataclass(frozen=True, slots=True)
class WorkflowSettings:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    key_secret: bytes | None = field(default=None, repr=False)
    overrides: VendorOverrides | None = None

    def build_config(self, profile: ServiceProfile, target: ConfigTarget) -> DesiredConfig:
        """The config builder with these settings' vendor overrides and key secret."""
        return build_config(profile, target, overrides=self.overrides, key_secret=self.key_secret)


@dataclass(slots=True)
class _Failure:
    result: str
    step: Step
    message: str
    fault_code: int | None = None
    fault_string: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class ProvisioningSession:
    """The ACS side of one CWMP session (a `SessionHandler`)."""

    def __init__(
        self,
        session_id: str,
        repository: DeviceRepository,
        profiles: ProfileSource,
        telemetry: ProvisioningTelemetry,
        ids: RandomIds,
        settings: WorkflowSettings,
        clock: Callable[[], float] | None = None,
        configs: ConfigCache | None = None,
    ) -> None:
        self._configs = configs or ConfigCache(settings.build_config)
        self._clock = clock or _frozen_clock
        self._call_start = (0.0, 0.0)
        self._repo = repository
        self._profiles = profiles
        self._telemetry = telemetry
        self._settings = settings
        self._session_id = session_id
        self._trace = SessionTrace(trace_id=ids.new_trace_id())
        self._spans = TraceRecorder(self._trace, ids)
        self._root: SpanRecord | None = None
        self._started_at = 0.0
        self._inform: m.Inform | None = None
        self._device: Device | None = None
        self._plan = Plan.WAIT
        self._attempt_id: int | None = None
        self._step: Step | None = None
        self._step_span: SpanRecord | None = None
        self._step_durations: dict[str, float] = {}
        self._rpc: tuple[m.Message, SpanRecord, float] | None = None
        self._next_request: m.Message | None = None
        self._config: DesiredConfig | None = None
        self._profile: ServiceProfile | None = None
        self._outcome: ProvisioningOutcome | None = None
        self._mismatches = 0
        self._ended = False
        telemetry.session_started()

    @property
    def trace(self) -> SessionTrace:
        """The session's trace, shared with other handlers of the same session (tasks)."""
        return self._trace

    @property
    def root_span(self) -> SpanRecord | None:
        """The ``cpe.inform`` root, once the Inform arrived."""
        return self._root

    # ------------------------------------------------------------------ step 1

    async def on_inform(self, inform: m.Inform, now: float) -> m.InformResponse | m.CwmpFault:
        self._mark(now)
        self._inform, self._started_at = inform, now
        device_id = inform.device_id
        self._telemetry.inform_received(inform.event_codes)
        self._root = self._spans.start(
            "cpe.inform",
            now,
            attributes={
                "cpe.serial_number": device_id.serial_number,
                "cpe.oui": device_id.oui,
                "cpe.manufacturer": device_id.manufacturer,
                "cpe.model": device_id.product_class,
                "cpe.firmware_version": _reported(inform, "SoftwareVersion") or "",
                "cpe.event_codes": ",".join(inform.event_codes),
                "cwmp.session.id": self._session_id,
            },
        )
        self._begin(Step.AUTHENTICATE, now)
        try:
            device = await self._repo.record_inform(
                device_id.oui, device_id.serial_number, now, _inform_facts(inform)
            )
        except RepositoryError as exc:
            return self._refuse_storage(exc, self._now())
        now = self._now()
        if device is None:
            self._fail(
                _Failure(Result.UNKNOWN_DEVICE, Step.AUTHENTICATE, "Device not in inventory"), now
            )
            return make_fault(REQUEST_DENIED, UNKNOWN_DEVICE_FAULT)
        self._device = device
        assert self._step_span is not None
        self._step_span.attributes.update(
            {
                "cpe.customer_id": device.customer_id,
                "cpe.service_plan": device.service_plan,
                "cpe.location_id": device.location_id,
            }
        )
        self._finish_step(now)
        try:
            self._plan = plan_for_inform(
                device,
                inform.event_codes,
                _reported(inform, "ManagementServer.ParameterKey"),
                now=now,
                consecutive_failures=await self._consecutive_failures(device),
                retry=self._settings.retry,
            )
            if self._plan is Plan.PROVISION:
                await self._start_attempt(now)
        except AttemptInProgress:
            # Another ACS process is provisioning this device right now: retry later.
            self._plan = Plan.WAIT
            return make_fault(RETRY_REQUEST, "Provisioning already in progress")
        except RepositoryError as exc:
            return self._refuse_storage(exc, now)
        return m.InformResponse(max_envelopes=1)

    # ------------------------------------------------------------- steps 2 and 3

    async def next_acs_request(self, now: float) -> m.Message | None:
        self._mark(now)
        if self._next_request is not None:
            request, self._next_request = self._next_request, None
            return self._send(request, now)
        if self._plan is Plan.WAIT or self._rpc is not None or self._step is not None:
            return None
        if self._config is not None:  # config pushed and verified: nothing more to do
            return None
        profile = await self._fetch_profile(now)
        if profile is None:
            return None
        now = self._now()
        config = self._build_config(profile)
        if isinstance(config, _Failure):
            await self._fail_attempt(config, now)
            return None
        if self._plan is Plan.CHECK and not self._config_changed(config):
            self._discard_step()  # a quiet check: nothing pushed, no attempt
            return None
        if self._attempt_id is None:
            try:
                await self._start_attempt(now)
            except (AttemptInProgress, RepositoryError):
                self._discard_step()
                return None
        assert self._step_span is not None
        self._config = config
        self._step_span.attributes.update(
            {
                "cpe.config.param_count": len(config.parameters),
                "cpe.config.has_voip": profile.has_voip,
                "cpe.config.has_iptv": profile.has_iptv,
                "cpe.config.wifi_bands": tuple(profile.wifi_bands),
            }
        )
        self._trace.changed_something = True
        parameters = config.parameters + await self._connection_request_credentials(config)
        return self._send(
            m.SetParameterValues(parameters, parameter_key=config.parameter_key),
            self._now(),
        )

    async def _connection_request_credentials(
        self, config: DesiredConfig
    ) -> tuple[m.ParameterValueStruct, ...]:
        """The device's own connection-request credentials, pushed with its config
        (`traceacs.provisioning.cr_credentials`); new ones are stored first."""
        assert self._device is not None
        if profile_sets_credentials(config):
            return ()
        credentials, new = credentials_for(self._device)
        if new:
            identity = self._device.identity
            try:
                await self._repo.set_connection_request_credentials(
                    identity.oui,
                    identity.serial_number,
                    credentials.username,
                    credentials.password,
                    self._now(),
                )
            except RepositoryError as exc:
                # Not stored: do not hand the CPE a password the ACS would not know.
                log.warning(
                    "connection-request credentials not stored (%s); not pushed",
                    type(exc).__name__,
                )
                return ()
        return credential_parameters(config, credentials)

    async def _fetch_profile(self, now: float) -> ServiceProfile | None:
        assert self._device is not None
        self._begin(Step.FETCH_PROFILE, now)
        try:
            profile = await self._profiles.fetch(
                self._device.customer_id, self._device.service_plan
            )
        except ProfileNotFound:
            await self._fail_attempt(
                _Failure(Result.NO_PROFILE, Step.FETCH_PROFILE, "No service profile found"),
                self._now(),
            )
            return None
        except ProfileSourceUnavailable as exc:
            await self._fail_attempt(
                _Failure(
                    Result.BSS_UNAVAILABLE,
                    Step.FETCH_PROFILE,
                    f"Service profile source unavailable ({exc.kind})",
                    details={"bss_error": exc.kind},
                ),
                self._now(),
            )
            return None
        assert self._step_span is not None
        self._step_span.attributes["cpe.profile.parameter_count"] = profile_parameter_count(profile)
        self._profile = profile
        now = self._now()
        self._finish_step(now)
        self._begin(Step.PUSH_CONFIG, now)
        return profile

    def _build_config(self, profile: ServiceProfile) -> DesiredConfig | _Failure:
        assert self._inform is not None
        try:
            return self._configs.get(profile, ConfigTarget.from_inform(self._inform))
        except ConfigBuildError as exc:
            return _Failure(Result.CONFIG_INVALID, Step.PUSH_CONFIG, f"Config build failed: {exc}")

    def _config_changed(self, config: DesiredConfig) -> bool:
        assert self._device is not None
        assert self._inform is not None
        reported = _reported(self._inform, "ManagementServer.ParameterKey")
        if self._device.parameter_key != config.parameter_key:
            return True
        return reported is not None and reported != config.parameter_key

    # ------------------------------------------------------------- steps 3 to 6

    async def on_cpe_response(self, response: m.Message, now: float) -> None:
        self._mark(now)
        if self._rpc is None:
            return
        request, rpc_span, sent_at = self._rpc
        self._rpc = None
        fault = response if isinstance(response, m.CwmpFault) else None
        self._telemetry.rpc_finished(
            request.method, max(0.0, now - sent_at), fault.fault_code if fault else None
        )
        if fault is not None:
            rpc_span.attributes["cwmp.fault_code"] = fault.fault_code
            rpc_span.attributes["cwmp.fault_string"] = fault.fault_string
            rpc_span.end(to_ns(now), error=f"{request.method} fault {fault.fault_code}")
        else:
            rpc_span.end(to_ns(now))

        if isinstance(request, m.SetParameterValues):
            await self._after_push(response, fault, now)
        elif isinstance(request, m.GetParameterValues):
            await self._after_verify(response, fault, now)

    async def _after_push(self, response: m.Message, fault: m.CwmpFault | None, now: float) -> None:
        assert self._config is not None
        assert self._step_span is not None
        if fault is not None:
            self._step_span.attributes["cpe.fault_code"] = fault.fault_code
            await self._fail_attempt(
                _Failure(
                    Result.CONFIG_PUSH_FAILED,
                    Step.PUSH_CONFIG,
                    f"SetParameterValues fault: {fault.fault_string}",
                    fault_code=fault.fault_code,
                    fault_string=fault.fault_string,
                    details={
                        "parameter_faults": [
                            {"name": f.parameter_name, "fault_code": f.fault_code}
                            for f in fault.set_parameter_values_faults
                        ]
                    },
                ),
                now,
            )
            return
        if not isinstance(response, m.SetParameterValuesResponse):
            await self._fail_unexpected(response, Step.PUSH_CONFIG, now)
            return
        self._finish_step(now)
        self._begin(Step.VERIFY, now)
        self._next_request = m.GetParameterValues(tuple(p.name for p in self._config.verifiable()))

    async def _after_verify(
        self, response: m.Message, fault: m.CwmpFault | None, now: float
    ) -> None:
        assert self._config is not None
        assert self._step_span is not None
        if fault is not None:
            self._step_span.attributes["cpe.fault_code"] = fault.fault_code
            await self._fail_attempt(
                _Failure(
                    Result.VERIFICATION_FAILED,
                    Step.VERIFY,
                    f"GetParameterValues fault: {fault.fault_string}",
                    fault_code=fault.fault_code,
                    fault_string=fault.fault_string,
                ),
                now,
            )
            return
        if not isinstance(response, m.GetParameterValuesResponse):
            await self._fail_unexpected(response, Step.VERIFY, now)
            return
        mismatches = find_mismatches(self._config.verifiable(), response.parameters)
        self._mismatches = len(mismatches)
        self._step_span.attributes["cpe.verify.mismatches"] = len(mismatches)
        await self._save_last_values(response.parameters, now)
        now = self._now()
        if mismatches:
            self._step_span.attributes["cpe.verify.mismatched_parameters"] = mismatches
            await self._fail_attempt(
                _Failure(
                    Result.VERIFICATION_FAILED,
                    Step.VERIFY,
                    "Config verification failed",
                    details={"mismatched_parameters": list(mismatches)},
                ),
                now,
            )
            return
        self._finish_step(now)
        await self._finish_attempt(Result.SUCCESS, now)

    # ------------------------------------------------------------------ others

    async def on_cpe_request(self, request: m.Message, now: float) -> m.Message:
        return default_cpe_answer(request)

    async def on_session_end(self, reason: SessionEndReason, now: float) -> None:
        self._mark(now)
        if self._ended:
            return
        self._ended = True
        if self._step is not None and self._attempt_id is not None:
            await self._fail_attempt(
                _Failure(
                    f"session_{reason}" if reason != "completed" else Result.SESSION_ABORTED,
                    self._step,
                    f"CWMP session ended ({reason}) during {self._step.value}",
                ),
                now,
            )
        if self._rpc is not None:
            self._rpc[1].end(to_ns(now), error=f"no response ({reason})")
        for span in self._trace.spans:
            if span.end_ns is None and span is not self._root:
                span.end(to_ns(now))
        if self._root is not None:
            if self._outcome is not None and self._outcome.result != Result.SUCCESS:
                self._root.attributes["cpe.provision.result"] = self._outcome.result
                self._root.end(to_ns(now), error=self._failure_message)
            else:
                if self._outcome is not None:
                    self._root.attributes["cpe.provision.result"] = self._outcome.result
                self._root.end(to_ns(now))
            self._telemetry.session_finished(self._trace, self._outcome)
        log.debug(
            "session %s device=%r events=%r result=%s duration_ms=%.1f end=%s",
            self._session_id,
            self._inform.device_id.serial_number if self._inform else "-",
            ",".join(self._inform.event_codes) if self._inform else "-",
            self._outcome.result if self._outcome else "none",
            (now - self._started_at) * 1000 if self._inform else 0.0,
            reason,
        )

    # ------------------------------------------------------------------ helpers

    _failure_message = ""

    def _mark(self, now: float) -> None:
        """Remember when this call began, so `_now` can tell time after awaits."""
        self._call_start = (now, self._clock())

    def _now(self) -> float:
        """The time now: the call's ``now`` plus what the injected clock measured since."""
        base, started = self._call_start
        return base + (self._clock() - started)

    def _begin(self, step: Step, now: float) -> None:
        self._step = step
        self._step_span = self._spans.start(f"cpe.provision.{step.value}", now, parent=self._root)

    def _finish_step(self, now: float, error: str | None = None) -> None:
        if self._step is None or self._step_span is None:
            return
        self._step_span.end(to_ns(now), error=error)
        self._step_durations[self._step.value] = self._step_span.duration_ms
        self._step, self._step_span = None, None

    def _discard_step(self) -> None:
        """Drop an open step span that turned out to do nothing (a quiet check)."""
        if self._step_span is not None:
            self._trace.spans.remove(self._step_span)
        self._step, self._step_span = None, None

    def _send(self, request: m.Message, now: float) -> m.Message:
        parent = self._step_span or self._root
        span = self._spans.start(
            f"cwmp.rpc {request.method}",
            now,
            parent=parent,
            attributes={"cwmp.rpc.method": request.method},
        )
        self._rpc = (request, span, now)
        return request

    def _fail(self, failure: _Failure, now: float) -> None:
        """Mark the current step failed and remember the outcome (no storage I/O)."""
        if self._step_span is not None and failure.fault_code is not None:
            self._step_span.attributes["cpe.fault_code"] = failure.fault_code
        self._finish_step(now, error=failure.message)
        self._trace.failed = True
        self._trace.changed_something = True
        self._failure_message = failure.message
        self._outcome = self._make_outcome(failure.result, now, failure.fault_code)

    async def _fail_attempt(self, failure: _Failure, now: float) -> None:
        self._fail(failure, now)
        if self._attempt_id is None:
            return
        attempt_id, self._attempt_id = self._attempt_id, None
        try:
            await self._repo.finish_attempt(
                attempt_id,
                now,
                failure.result,
                failing_step=failure.step.value,
                fault_code=failure.fault_code,
                fault_string=failure.fault_string,
                details=failure.details,
                failure_reason=failure.message,
            )
        except RepositoryError as exc:
            # The attempt stays open and expires later; nothing is half-written.
            log.warning("could not record the failed attempt: %s", type(exc).__name__)

    async def _fail_unexpected(self, response: m.Message, step: Step, now: float) -> None:
        await self._fail_attempt(
            _Failure(
                Result.PROTOCOL_ERROR,
                step,
                f"Unexpected {response.method or type(response).__name__} from the CPE",
            ),
            now,
        )

    async def _finish_attempt(self, result: str, now: float) -> None:
        self._outcome = self._make_outcome(result, now, None)
        if self._attempt_id is None:
            return
        attempt_id, self._attempt_id = self._attempt_id, None
        assert self._config is not None
        try:
            await self._repo.finish_attempt(
                attempt_id,
                now,
                result,
                parameter_key=self._config.parameter_key,
                profile_version=self._profile.version if self._profile else None,
            )
        except RepositoryError as exc:
            log.warning("could not record the finished attempt: %s", type(exc).__name__)

    async def _start_attempt(self, now: float) -> None:
        assert self._device is not None
        self._attempt_id = await self._repo.start_attempt(
            self._device, self._started_at, self._trace.trace_id
        )
        self._trace.changed_something = True

    async def _consecutive_failures(self, device: Device) -> int:
        if device.state is not ProvisioningState.FAILED:
            return 0
        attempts = await self._repo.list_attempts(
            AttemptFilter(oui=device.oui, serial_number=device.serial_number), limit=8
        )
        count = 0
        for attempt in attempts:
            if attempt.result in (None, Result.SUCCESS):
                break
            count += 1
        return count

    async def _save_last_values(
        self, reported: tuple[m.ParameterValueStruct, ...], now: float
    ) -> None:
        assert self._device is not None
        assert self._config is not None
        secret = self._config.secret_names
        values = {p.name: str(p.value) for p in reported if p.name not in secret}
        try:
            await self._repo.save_last_values(
                self._device.oui, self._device.serial_number, values, now
            )
        except RepositoryError as exc:
            log.warning("could not save the values read: %s", type(exc).__name__)

    def _refuse_storage(self, exc: RepositoryError, now: float) -> m.CwmpFault:
        """The inventory cannot be used: ask the CPE to retry (fault 8005)."""
        reason = "Inventory unavailable" if isinstance(exc, StorageUnavailable) else "Storage error"
        self._finish_step(now, error=reason)
        self._trace.failed = True
        self._failure_message = reason
        self._plan = Plan.WAIT
        return make_fault(RETRY_REQUEST, reason)

    def _make_outcome(self, result: str, now: float, fault_code: int | None) -> ProvisioningOutcome:
        device, inform = self._device, self._inform
        return ProvisioningOutcome(
            result=result,
            model=inform.device_id.product_class if inform else "",
            service_plan=device.service_plan if device else "",
            total_duration_ms=(now - self._started_at) * 1000,
            step_durations_ms=dict(self._step_durations),
            verify_mismatches=self._mismatches,
            fault_code=fault_code,
        )


# ---------------------------------------------------------------------------- support


def _frozen_clock() -> float:
    """No clock injected: time stands still within one call (steps take 0 ms)."""
    return 0.0


def _reported(inform: m.Inform, suffix: str) -> str | None:
    """The value of the Inform parameter whose name ends with ``.suffix``."""
    for parameter in inform.parameters:
        if parameter.name.endswith("." + suffix):
            return str(parameter.value)
    return None


def _inform_facts(inform: m.Inform) -> InformFacts:
    root = next(
        (r for r in DATA_MODEL_ROOTS for p in inform.parameters if p.name.startswith(r)),
        None,
    )
    return InformFacts(
        manufacturer=inform.device_id.manufacturer,
        model=inform.device_id.product_class,
        firmware_version=_reported(inform, "SoftwareVersion"),
        data_model_root=root,
        connection_request_url=_reported(inform, "ConnectionRequestURL"),
        is_boot=any(code in (BOOT, BOOTSTRAP) for code in inform.event_codes),
    )


def profile_parameter_count(profile: ServiceProfile) -> int:
    """How many settings the profile carries (the seed's ``cpe.profile.parameter_count``)."""
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


class ProvisioningHandlerFactory:
    """Creates a `ProvisioningSession` per CWMP session (a `SessionHandlerFactory`)."""

    def __init__(
        self,
        repository: DeviceRepository,
        profiles: ProfileSource,
        telemetry: ProvisioningTelemetry | None = None,
        *,
        ids: RandomIds | None = None,
        settings: WorkflowSettings | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._clock = clock or _frozen_clock
        self._repository = repository
        self._profiles = profiles
        self._telemetry = telemetry or NoOpProvisioningTelemetry()
        self._ids = ids or RandomIds()
        self._settings = settings or WorkflowSettings()
        self._configs = ConfigCache(self._settings.build_config)

    def new_session(self, session_id: str) -> SessionHandler:
        return ProvisioningSession(
            session_id,
            self._repository,
            self._profiles,
            self._telemetry,
            self._ids,
            self._settings,
            self._clock,
            self._configs,
        )
