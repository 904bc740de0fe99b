"""The seed's provisioning workflow, driving CWMP's inverted RPCs.

The seed writes provisioning as straight-line code; on the wire the CPE opens every
HTTP request, so an RPC travels in the ACS's answer and its result arrives with the
CPE's next POST (DESIGN.md section 1). The steps are therefore written as the session
hands them control:

    on_inform          authenticate against the inventory, decide what to do
    next_acs_request   fetch_profile, firmware (Download, when the model's target
                       firmware differs from the reported one), build the config,
                       push_config (SetParameterValues)
    on_cpe_response    SetParameterValues result -> verify (GetParameterValues, ALL
                       pushed parameters) -> mark provisioned or failed
    on_session_end     close the attempt and the trace whatever ended the session

The firmware step spans sessions: once the CPE accepts the Download, the attempt stays
open in the database (`DeviceRepository.wait_for_cpe`, with a deadline) and the session
ends. The CPE fetches the image, reboots and informs "1 BOOT" + "7 TRANSFER COMPLETE"
with its TransferComplete: that session adopts the open attempt, judges the transfer
(fault code, then the version the Inform reports) and goes on with push_config and
verify. No TransferComplete before the deadline fails the attempt ``firmware_failed``
(at the device's next inform, or by stale-attempt expiry).

Each step is a span of the session's `SessionTrace` (``cpe.provision.<step>`` under
the root ``cpe.inform``, each RPC a ``cwmp.rpc <Method>`` child of its step), and every
attempt is a row in the repository. Failures carry the seed's messages; durations are
recorded on failure paths too. Secrets never leave the `DesiredConfig`.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from traceacs.cwmp import messages as m
from traceacs.cwmp.events import TRANSFER_COMPLETE
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
from traceacs.provisioning.device import (
    Device,
    ProvisioningAttempt,
    ProvisioningState,
)
from traceacs.provisioning.firmware import (
    DEFAULT_FIRMWARE_TIMEOUT,
    FirmwareFiles,
    FirmwareTransfer,
    FirmwareVerdict,
    command_key_for,
    download_for,
    judge_transfer,
    needs_upgrade,
)
from traceacs.provisioning.policy import Plan, RetryPolicy, plan_for_inform
from traceacs.provisioning.profile import ServiceProfile
from traceacs.provisioning.quiet_check import (
    NOT_QUIET,
    PARAMETER_KEY,
    SOFTWARE_VERSION,
    MemoryProfiles,
    QuietVerdict,
    check_quiet,
    config_changed,
    device_step_attributes,
    inform_facts,
    inform_root_attributes,
    reported_values,
)
from traceacs.provisioning.quiet_session import QuietFacts, QuietSession, log_session_end
from traceacs.provisioning.repository import (
    AttemptFilter,
    AttemptInProgress,
    AttemptNotFound,
    DeviceRepository,
    RepositoryError,
    StorageUnavailable,
)
from traceacs.provisioning.results import Result
from traceacs.provisioning.rpc_outcome import close_rpc
from traceacs.provisioning.session_handler import (
    INFORM_ACCEPTED,
    SessionEndReason,
    SessionHandler,
    default_cpe_answer,
)
from traceacs.provisioning.session_snapshot import (
    Json,
    SnapshotError,
    find_span,
    inform_from_json,
    inform_to_json,
    span_id_of,
    trace_from_json,
    trace_to_json,
)
from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.provisioning.steps import STEP_SPAN_NAMES, Step
from traceacs.provisioning.telemetry_port import (
    NoOpProvisioningTelemetry,
    ProvisioningOutcome,
    ProvisioningTelemetry,
    QuietTraceSampling,
)
from traceacs.provisioning.trace_recorder import RandomIds, TraceRecorder, to_ns
from traceacs.provisioning.vendor_overrides import VendorOverrides
from traceacs.provisioning.verify import find_mismatches
from traceacs.provisioning.workflow_snapshot import (
    PendingRpc,
    ProvisioningSnapshot,
    device_from_json,
    device_to_json,
    outcome_from_json,
    outcome_to_json,
    transfer_complete_from_json,
    transfer_complete_to_json,
)

log = logging.getLogger("traceacs.provisioning")

UNKNOWN_DEVICE_FAULT = "Device not registered"


@dataclass(frozen=True, slots=True)
class WorkflowSettings:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    key_secret: bytes | None = field(default=None, repr=False)
    overrides: VendorOverrides | None = None
    firmware_timeout: float = DEFAULT_FIRMWARE_TIMEOUT
    """Seconds a CPE has, from the accepted Download, to report its TransferComplete."""

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
        firmware_files: FirmwareFiles | None = None,
    ) -> None:
        self._firmware_files = firmware_files
        # `is None`, not `or`: an empty cache is falsy (it has a length) and must be shared.
        self._configs = configs if configs is not None else ConfigCache(settings.build_config)
        self._clock = clock or _frozen_clock
        self._call_start = (0.0, 0.0)
        self._repo = repository
        self._profiles = profiles
        self._telemetry = telemetry
        self._settings = settings
        self._session_id = session_id
        self._ids = ids
        self._trace = SessionTrace(trace_id=ids.new_trace_id())
        self._spans = TraceRecorder(self._trace, ids)
        self._root: SpanRecord | None = None
        self._started_at = 0.0
        self._inform: m.Inform | None = None
        self._reports: dict[str, str] = {}
        self._reports_of: m.Inform | None = None
        """The Inform ``_reports`` were read from (`_report`)."""
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
        self._transfer: FirmwareTransfer | None = None
        """The firmware transfer of the open attempt (sent now, or adopted from its row)."""
        self._transfer_complete: m.TransferComplete | None = None
        self._attempt_started_at: float | None = None
        """Start of an attempt adopted from an earlier session (a firmware wait)."""
        self._inform_counted = False
        """The Inform was counted before this handler saw it (`inform_counted`)."""
        telemetry.session_started()

    @property
    def trace(self) -> SessionTrace:
        """The session's trace, shared with other handlers of the same session (tasks)."""
        return self._trace

    @property
    def queued_tasks(self) -> bool | None:
        """Whether the inventory read at the Inform saw tasks queued for the device
        (None: unknown); the task handler of the same session skips its queue's read
        when False."""
        return None if self._device is None else self._device.queued_tasks

    @property
    def root_span(self) -> SpanRecord | None:
        """The ``cpe.inform`` root, once the Inform arrived."""
        return self._root

    def inform_counted(self) -> None:
        """The Inform of this session was counted already (`telemetry.inform_received`):
        a quiet session turned general (`traceacs.tasks.quiet_first`)."""
        self._inform_counted = True

    # ------------------------------------------------------------------ step 1

    async def on_inform(self, inform: m.Inform, now: float) -> m.InformResponse | m.CwmpFault:
        self._mark(now)
        self._inform, self._started_at = inform, now
        device_id = inform.device_id
        codes = inform.event_codes  # a property building a tuple: read once
        reports = self._reports_for(inform)
        if not self._inform_counted:
            self._telemetry.inform_received(codes)
        self._root = self._spans.start(
            "cpe.inform",
            now,
            attributes=inform_root_attributes(inform, reports, codes, self._session_id),
        )
        self._begin(Step.AUTHENTICATE, now)
        try:
            device = await self._repo.record_inform(
                device_id.oui, device_id.serial_number, now, inform_facts(inform, reports, codes)
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
        self._step_span.attributes.update(device_step_attributes(device))
        self._finish_step(now)
        if device.state is ProvisioningState.PROVISIONING:
            try:
                if await self._resume_firmware(device, inform, now):
                    return INFORM_ACCEPTED
            except RepositoryError as exc:
                return self._refuse_storage(exc, now)
        try:
            failures, last_failure_at = await self._consecutive_failures(device)
            self._plan = plan_for_inform(
                device,
                codes,
                self._report(PARAMETER_KEY),
                now=now,
                consecutive_failures=failures,
                retry=self._settings.retry,
                last_failure_at=last_failure_at,
            )
            if self._plan is Plan.PROVISION:
                await self._start_attempt(now)
        except AttemptInProgress:
            # Another ACS process is provisioning this device right now: retry later.
            self._plan = Plan.WAIT
            return make_fault(RETRY_REQUEST, "Provisioning already in progress")
        except RepositoryError as exc:
            return self._refuse_storage(exc, now)
        return INFORM_ACCEPTED

    # ------------------------------------------------------------- steps 2 and 3

    async def next_acs_request(self, now: float) -> m.Message | None:
        self._mark(now)
        if self._next_request is not None:
            request, self._next_request = self._next_request, None
            return self._send(request, now)
        if self._plan is Plan.WAIT or self._rpc is not None or self._step is not None:
            return None
        if self._config is not None or self._profile is not None:  # done for this session
            return None
        profile = await self._fetch_profile(now)
        if profile is None:
            return None
        firmware = await self._firmware(profile, self._now())
        if firmware is not None:
            return None if firmware is _Halt.STOP else self._send(firmware, self._now())
        return await self._push(profile, self._now())

    async def _push(self, profile: ServiceProfile, now: float) -> m.Message | None:
        """Step push_config: build the device's config and send it (unless unchanged).

        A quiet check (config unchanged, no attempt) opens no step span at all: the
        span would be discarded, and most periodic informs are quiet.
        """
        config = self._build_config(profile)
        if (
            self._plan is Plan.CHECK
            and self._attempt_id is None
            and not isinstance(config, _Failure)
            and not self._config_changed(config)
        ):
            return None  # a quiet check: nothing pushed, no attempt
        self._begin(Step.PUSH_CONFIG, now)
        if isinstance(config, _Failure):
            await self._fail_attempt(config, now)
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
        device = self._device
        try:
            password = device.open_connection_request_password()
        except RepositoryError as exc:
            log.warning("connection-request credentials not opened (%s)", type(exc).__name__)
            return ()
        if password:
            device = dataclasses.replace(
                device,
                connection_request_password=password,
                sealed_connection_request_password=None,
            )
        else:
            # A device resumed from a session snapshot carries no secrets: read the
            # inventory before deciding the device has no credentials of its own.
            try:
                device = await self._repo.get_device(device.oui, device.serial_number) or device
            except RepositoryError as exc:
                log.warning("connection-request credentials not read (%s)", type(exc).__name__)
                return ()
        credentials, new = credentials_for(device)
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
        self._finish_step(self._now())
        return profile

    # ------------------------------------------------------------------ firmware

    async def _firmware(self, profile: ServiceProfile, now: float) -> m.Message | _Halt | None:
        """Step firmware: judge an adopted transfer, or start an upgrade when needed.

        Returns the Download to send, `_Halt.STOP` when the session has nothing more to do
        (failed, or waiting for the CPE), or None to go on with push_config.
        """
        assert self._inform is not None
        reported = self._report(SOFTWARE_VERSION)
        if self._transfer is not None:
            verdict = self._judge_transfer(self._transfer, reported, now)
            if verdict is not None:
                await self._fail_firmware(verdict, self._now())
                return _Halt.STOP
            self._end_judged(self._now())
            return None
        target = profile.firmware_for(self._inform.device_id.product_class)
        if target is None or not needs_upgrade(target, reported):
            return None
        if self._attempt_id is None:
            try:
                await self._start_attempt(now)
            except (AttemptInProgress, RepositoryError):
                return _Halt.STOP
        assert self._attempt_id is not None
        self._begin(Step.FIRMWARE, now)
        assert self._step_span is not None
        self._step_span.attributes.update(
            {
                "cpe.firmware.phase": "download",
                "cpe.firmware.current_version": reported or "",
                "cpe.firmware.target_version": target.version,
                "cpe.firmware.file": target.file,
            }
        )
        self._trace.changed_something = True
        found = (
            await self._firmware_files.download(target.file, now) if self._firmware_files else None
        )
        now = self._now()
        if found is None:
            await self._fail_attempt(
                _Failure(
                    Result.FIRMWARE_FAILED,
                    Step.FIRMWARE,
                    f"firmware image {target.file!r} is not in the file store"
                    " (or the ACS has no URL CPEs can fetch it from)",
                ),
                now,
            )
            return _Halt.STOP
        url, size = found
        key = command_key_for(self._attempt_id)
        self._transfer = FirmwareTransfer(
            command_key=key,
            file=target.file,
            file_size=size,
            target_version=target.version,
            from_version=reported or "",
            sent_at=now,
            timeout_s=self._settings.firmware_timeout,
        )
        self._step_span.attributes.update(
            {"cpe.firmware.file_size": size, "cpe.firmware.command_key": key}
        )
        return download_for(key, url, size)

    def _judge_transfer(
        self, transfer: FirmwareTransfer, reported: str | None, now: float
    ) -> FirmwareVerdict | None:
        """Open the firmware step of a session that reports on an earlier Download."""
        self._begin(Step.FIRMWARE, now)
        assert self._step_span is not None
        self._step_span.attributes.update(
            {
                "cpe.firmware.phase": "transfer_complete",
                "cpe.firmware.current_version": reported or "",
                "cpe.firmware.target_version": transfer.target_version,
                "cpe.firmware.file": transfer.file,
                "cpe.firmware.command_key": transfer.command_key,
                "cpe.firmware.transfer_seconds": round(max(0.0, now - transfer.sent_at), 3),
            }
        )
        done = self._transfer_complete
        if done is None:
            return FirmwareVerdict("the CPE rebooted without reporting its firmware download")
        return judge_transfer(transfer, done, reported)

    def _end_judged(self, now: float) -> None:
        """The transfer worked: close the step (timed from the Download) and go on."""
        assert self._transfer is not None
        self._finish_step(now)
        self._step_durations[Step.FIRMWARE.value] = (now - self._transfer.sent_at) * 1000

    async def _after_download(
        self, response: m.Message, fault: m.CwmpFault | None, now: float
    ) -> None:
        assert self._transfer is not None
        assert self._step_span is not None
        transfer = self._transfer
        if fault is not None:
            await self._fail_firmware(
                FirmwareVerdict(
                    f"Download refused: fault {fault.fault_code} ({fault.fault_string})",
                    fault.fault_code,
                    fault.fault_string,
                ),
                now,
            )
            return
        if not isinstance(response, m.DownloadResponse):
            await self._fail_unexpected(response, Step.FIRMWARE, now)
            return
        if response.status == 0:  # fetched and applied already: no TransferComplete follows
            self._step_span.attributes["cpe.firmware.phase"] = "applied"
            self._end_judged(now)
            assert self._profile is not None
            self._next_request = await self._push(self._profile, now)
            return
        assert self._attempt_id is not None
        try:
            await self._repo.wait_for_cpe(
                self._attempt_id,
                step=Step.FIRMWARE.value,
                deadline=transfer.deadline,
                timeout_result=Result.FIRMWARE_FAILED,
                timeout_reason=transfer.timeout_reason(),
                details=transfer.to_details(),
            )
        except RepositoryError as exc:
            log.warning("could not record the firmware transfer: %s", type(exc).__name__)
            await self._fail_firmware(FirmwareVerdict("could not record the Download"), now)
            return
        self._step_span.attributes["cpe.firmware.phase"] = "downloading"
        self._finish_step(now)
        if self._root is not None:  # the trace's summary: not a result yet
            self._root.attributes["cpe.provision.result"] = IN_PROGRESS
        # The attempt stays open in the database, waiting for the CPE's TransferComplete.
        self._attempt_id = None
        self._plan = Plan.WAIT

    async def _resume_firmware(self, device: Device, inform: m.Inform, now: float) -> bool:
        """A device with an attempt waiting for its firmware transfer informs.

        True when that attempt decides the session: reporting on the transfer (adopted:
        the firmware step runs once the profile is fetched), timed out (failed here),
        or still transferring (nothing to do). False when no such attempt is open.
        """
        attempts = await self._repo.list_attempts(
            AttemptFilter(oui=device.oui, serial_number=device.serial_number, in_progress=True),
            limit=1,
        )
        attempt = attempts[0] if attempts else None
        transfer = _waiting_transfer(attempt)
        if attempt is None or transfer is None:
            return False
        self._attempt_id, self._transfer = attempt.id, transfer
        self._attempt_started_at = attempt.started_at
        if attempt.trace_id:
            assert self._root is not None
            self._root.attributes["cpe.firmware.started_trace_id"] = attempt.trace_id
        if TRANSFER_COMPLETE in inform.event_codes:  # judged even if late: it did report
            self._plan = Plan.PROVISION
            self._trace.changed_something = True
            return True
        if now > transfer.deadline:
            self._begin(Step.FIRMWARE, now)
            assert self._step_span is not None
            self._step_span.attributes.update(
                {
                    "cpe.firmware.phase": "timed_out",
                    "cpe.firmware.target_version": transfer.target_version,
                    "cpe.firmware.file": transfer.file,
                }
            )
            await self._fail_firmware(FirmwareVerdict(transfer.timeout_reason()), now)
            self._plan = Plan.WAIT
            return True
        self._attempt_id, self._transfer, self._attempt_started_at = None, None, None
        self._plan = Plan.WAIT  # still fetching or flashing: its TransferComplete comes later
        return True

    async def _fail_firmware(self, verdict: FirmwareVerdict, now: float) -> None:
        await self._fail_attempt(
            _Failure(
                Result.FIRMWARE_FAILED,
                Step.FIRMWARE,
                verdict.message,
                fault_code=verdict.fault_code,
                fault_string=verdict.fault_string,
                details=self._transfer.to_details() if self._transfer else {},
            ),
            now,
        )

    def _build_config(self, profile: ServiceProfile) -> DesiredConfig | _Failure:
        assert self._inform is not None
        try:
            return self._configs.get(profile, ConfigTarget.from_inform(self._inform))
        except ConfigBuildError as exc:
            return _Failure(Result.CONFIG_INVALID, Step.PUSH_CONFIG, f"Config build failed: {exc}")

    def _config_changed(self, config: DesiredConfig) -> bool:
        assert self._device is not None
        return config_changed(
            self._device.parameter_key, config.parameter_key, self._report(PARAMETER_KEY)
        )

    # ------------------------------------------------------------- steps 3 to 6

    async def on_cpe_response(self, response: m.Message, now: float) -> None:
        self._mark(now)
        if self._rpc is None:
            return
        request, rpc_span, sent_at = self._rpc
        self._rpc = None
        fault = close_rpc(self._telemetry, request, rpc_span, sent_at, response, now)

        if isinstance(request, m.Download):
            await self._after_download(response, fault, now)
        elif isinstance(request, m.SetParameterValues):
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
        # Stored with the attempt's end, in its transaction (one commit, not two).
        values = self._values_to_save(response.parameters)
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
                last_values=values,
            )
            return
        self._finish_step(now)
        await self._finish_attempt(Result.SUCCESS, now, last_values=values)

    # ------------------------------------------------------------------ others

    async def on_cpe_request(self, request: m.Message, now: float) -> m.Message:
        transfer = self._transfer
        if (
            isinstance(request, m.TransferComplete)
            and transfer is not None
            and request.command_key == transfer.command_key
        ):
            self._transfer_complete = request  # judged in step firmware, after fetch_profile
        return default_cpe_answer(request)

    async def on_session_end(self, reason: SessionEndReason, now: float) -> None:
        self._mark(now)
        if self._ended:
            return
        self._ended = True
        # An attempt adopted for its transfer report and not judged yet (the session
        # died before its empty POST) ends too: the CPE was told its TransferComplete
        # arrived and will not send it again, so waiting on would only fail it as a
        # download timeout later, however the upgrade went.
        step = self._step or (Step.FIRMWARE if self._transfer is not None else None)
        if step is not None and self._attempt_id is not None:
            await self._fail_attempt(
                _Failure(
                    f"session_{reason}" if reason != "completed" else Result.SESSION_ABORTED,
                    step,
                    f"CWMP session ended ({reason}) during {step.value}",
                    details=self._transfer.to_details() if self._transfer is not None else {},
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
        log_session_end(
            self._session_id, self._inform, self._outcome, (now - self._started_at) * 1000, reason
        )

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> Json:
        """The state between two POSTs, for another ACS process (`ProvisioningSnapshot`)."""
        if self._next_request is not None:
            raise SnapshotError("a request is queued but not sent")
        rpc = None
        if self._rpc is not None:
            request, span, sent_at = self._rpc
            rpc = PendingRpc(request.method, span.span_id, sent_at)
        return ProvisioningSnapshot(
            trace=trace_to_json(self._trace),
            root_span_id=span_id_of(self._root),
            started_at=self._started_at,
            inform=inform_to_json(self._inform),
            device=device_to_json(self._device),
            plan=self._plan.value,
            attempt_id=self._attempt_id,
            step=self._step.value if self._step is not None else None,
            step_span_id=span_id_of(self._step_span),
            step_durations=dict(self._step_durations),
            rpc=rpc,
            config_key=self._config.parameter_key if self._config is not None else None,
            has_profile=self._profile is not None,
            profile_version=self._profile.version if self._profile is not None else None,
            outcome=outcome_to_json(self._outcome),
            mismatches=self._mismatches,
            ended=self._ended,
            failure_message=self._failure_message,
            transfer=self._transfer.to_details() if self._transfer is not None else None,
            transfer_complete=transfer_complete_to_json(self._transfer_complete),
            attempt_started_at=self._attempt_started_at,
        ).to_json()

    def release(self) -> None:
        """This process stops holding the session (it goes on in another process)."""
        self._telemetry.session_released()

    async def resume(self, state: Json) -> None:
        """Take over the state `snapshot` wrote (in this or another process).

        The profile is fetched again and the config rebuilt (secrets are never in a
        snapshot); a profile whose config changed meanwhile raises `SnapshotError`.
        """
        snap = ProvisioningSnapshot.from_json(state)
        trace = trace_from_json(snap.trace)
        self._trace = trace
        self._spans = TraceRecorder(trace, self._ids)
        self._root = find_span(trace, snap.root_span_id)
        self._started_at = snap.started_at
        self._inform = inform_from_json(snap.inform)
        self._device = device_from_json(snap.device)
        try:
            self._plan = Plan(snap.plan)
            self._step = Step(snap.step) if snap.step is not None else None
        except ValueError as exc:
            raise SnapshotError(str(exc)) from None
        self._attempt_id = snap.attempt_id
        self._step_span = find_span(trace, snap.step_span_id)
        self._step_durations = dict(snap.step_durations)
        self._outcome = outcome_from_json(snap.outcome)
        self._mismatches = snap.mismatches
        self._ended = snap.ended
        self._failure_message = snap.failure_message
        self._transfer = _transfer_from_json(snap.transfer)
        self._transfer_complete = transfer_complete_from_json(snap.transfer_complete)
        self._attempt_started_at = snap.attempt_started_at
        if snap.has_profile or snap.config_key is not None:
            await self._resume_config(snap.config_key, snap.profile_version)
        self._rpc = None
        if snap.rpc is not None:
            span = find_span(trace, snap.rpc.span_id)
            assert span is not None
            self._rpc = (self._pending_request(snap.rpc.method), span, snap.rpc.sent_at)

    async def _resume_config(self, config_key: str | None, version: str | None) -> None:
        if self._device is None or self._inform is None:
            raise SnapshotError("a profile without a device in the snapshot")
        if config_key is not None:
            try:
                known = self._configs.known(ConfigTarget.from_inform(self._inform), config_key)
            except ConfigBuildError:
                known = None
            if known is not None and known[0].version == version:
                self._profile, self._config = known  # built here before: no fetch
                return
        try:
            profile = await self._profiles.fetch(
                self._device.customer_id, self._device.service_plan
            )
        except (ProfileNotFound, ProfileSourceUnavailable) as exc:
            raise SnapshotError(f"profile unavailable on resume ({type(exc).__name__})") from None
        self._profile = profile
        if config_key is None:
            return
        config = self._build_config(profile)
        if isinstance(config, _Failure) or config.parameter_key != config_key:
            raise SnapshotError("the desired config changed while the session was paused")
        self._config = config

    def _pending_request(self, method: str) -> m.Message:
        """The RPC the CPE is answering, rebuilt from the config (no secrets stored)."""
        config = self._config
        if config is not None and self._step is Step.PUSH_CONFIG and method == "SetParameterValues":
            return m.SetParameterValues(config.parameters, parameter_key=config.parameter_key)
        if config is not None and self._step is Step.VERIFY and method == "GetParameterValues":
            return m.GetParameterValues(tuple(p.name for p in config.verifiable()))
        transfer = self._transfer
        if transfer is not None and self._step is Step.FIRMWARE and method == "Download":
            # Without its URL (it carries a file token): only the answer's type matters.
            return download_for(transfer.command_key, "", transfer.file_size)
        raise SnapshotError(f"cannot resume a pending {method} in step {self._step}")

    # ------------------------------------------------------------------ helpers

    _failure_message = ""

    def _report(self, suffix: str) -> str | None:
        """The value the Inform reported for ``suffix`` (`reported_values`)."""
        inform = self._inform
        if inform is None:
            return None
        return self._reports_for(inform).get(suffix)

    def _reports_for(self, inform: m.Inform) -> dict[str, str]:
        if self._reports_of is not inform:
            self._reports, self._reports_of = reported_values(inform), inform
        return self._reports

    def _mark(self, now: float) -> None:
        """Remember when this call began, so `_now` can tell time after awaits."""
        self._call_start = (now, self._clock())

    def _now(self) -> float:
        """The time now: the call's ``now`` plus what the injected clock measured since."""
        base, started = self._call_start
        return base + (self._clock() - started)

    def _begin(self, step: Step, now: float) -> None:
        self._step = step
        self._step_span = self._spans.start(STEP_SPAN_NAMES[step], now, parent=self._root)

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

    async def _fail_attempt(
        self, failure: _Failure, now: float, *, last_values: Mapping[str, str] | None = None
    ) -> None:
        """``last_values``: read from the device, stored with the attempt's end."""
        self._fail(failure, now)
        if self._attempt_id is None:
            if last_values is not None:
                await self._save_last_values(last_values, now)
            return
        attempt_id, self._attempt_id = self._attempt_id, None
        finish = functools.partial(
            self._repo.finish_attempt,
            attempt_id,
            now,
            failure.result,
            failing_step=failure.step.value,
            fault_code=failure.fault_code,
            fault_string=failure.fault_string,
            details=failure.details,
            failure_reason=failure.message,
        )
        # On failure the attempt stays open and expires later; nothing is half-written.
        await self._store_end(finish, last_values, now, "could not record the failed attempt")

    async def _store_end(
        self,
        finish: Callable[..., Awaitable[object]],
        last_values: Mapping[str, str] | None,
        now: float,
        failed: str,
    ) -> None:
        """Finish the attempt with the values read stored in the same transaction.

        When that transaction fails (a full disk: the values are the larger write), the
        values and the result are written apart, as two transactions, so a result that
        fits is not lost with values that do not.
        """
        try:
            await finish(last_values=last_values)
            return
        except AttemptNotFound as exc:  # the values were stored; the attempt was closed
            log.warning("%s: %s", failed, type(exc).__name__)
            return
        except RepositoryError as exc:
            if last_values is None:
                log.warning("%s: %s", failed, type(exc).__name__)
                return
        await self._save_last_values(last_values, now)
        try:
            await finish()
        except RepositoryError as exc:
            log.warning("%s: %s", failed, type(exc).__name__)

    async def _fail_unexpected(self, response: m.Message, step: Step, now: float) -> None:
        await self._fail_attempt(
            _Failure(
                Result.PROTOCOL_ERROR,
                step,
                f"Unexpected {response.method or type(response).__name__} from the CPE",
            ),
            now,
        )

    async def _finish_attempt(
        self, result: str, now: float, *, last_values: Mapping[str, str] | None = None
    ) -> None:
        """``last_values``: read from the device, stored with the attempt's end."""
        self._outcome = self._make_outcome(result, now, None)
        if self._attempt_id is None:
            if last_values is not None:
                await self._save_last_values(last_values, now)
            return
        attempt_id, self._attempt_id = self._attempt_id, None
        assert self._config is not None
        finish = functools.partial(
            self._repo.finish_attempt,
            attempt_id,
            now,
            result,
            details=self._transfer.to_details() if self._transfer else None,
            parameter_key=self._config.parameter_key,
            profile_version=self._profile.version if self._profile else None,
        )
        await self._store_end(finish, last_values, now, "could not record the finished attempt")

    async def _start_attempt(self, now: float) -> None:
        assert self._device is not None
        # This Inform began a new session of the device, so an attempt it left open
        # earlier (its ACS process was killed mid-session) is dead: supersede it.
        self._attempt_id = await self._repo.start_attempt(
            self._device,
            self._started_at,
            self._trace.trace_id,
            supersede_before=self._started_at,
        )
        self._trace.changed_something = True

    async def _consecutive_failures(self, device: Device) -> tuple[int, float | None]:
        """How many attempts failed in a row, and when the last of them ended; attempts
        cut short (`RetryPolicy.not_failures`) neither count nor end the run."""
        if device.state is not ProvisioningState.FAILED:
            return 0, None
        attempts = await self._repo.list_attempts(
            AttemptFilter(
                oui=device.oui,
                serial_number=device.serial_number,
                exclude_results=self._settings.retry.not_failures,
            ),
            limit=8,
        )
        count = 0
        for attempt in attempts:
            if attempt.result in (None, Result.SUCCESS):
                break
            count += 1
        return count, attempts[0].ended_at if count else None

    def _values_to_save(self, reported: tuple[m.ParameterValueStruct, ...]) -> dict[str, str]:
        """The values read from the device worth keeping: all but the config's secrets."""
        assert self._config is not None
        secret = self._config.secret_names
        return {p.name: str(p.value) for p in reported if p.name not in secret}

    async def _save_last_values(self, values: Mapping[str, str], now: float) -> None:
        assert self._device is not None
        try:
            await self._repo.save_last_values(
                self._device.oui, self._device.serial_number, values, now
            )
        except RepositoryError as exc:
            log.warning("could not save the values read: %s", type(exc).__name__)

    def _refuse_storage(self, exc: RepositoryError, now: float) -> m.CwmpFault:
        """The inventory cannot be used: ask the CPE to retry (fault 8005)."""
        reason = "Inventory unavailable" if isinstance(exc, StorageUnavailable) else "Storage error"
        # The adapters' messages name the cause (SQLITE_FULL, connection refused, ...)
        # and never carry credentials: the operator needs the cause, the CPE does not.
        log.warning("%s, answered 8005 (retry later): %s", reason.lower(), exc)
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
            total_duration_ms=(now - (self._attempt_started_at or self._started_at)) * 1000,
            step_durations_ms=dict(self._step_durations),
            verify_mismatches=self._mismatches,
            fault_code=fault_code,
        )


# ---------------------------------------------------------------------------- support


IN_PROGRESS: Final = "in_progress"
"""The root's ``cpe.provision.result`` of a session that left its attempt waiting."""


class _Halt(enum.Enum):
    STOP = "stop"
    """`_firmware`'s "nothing more this session" (failed, or waiting for the CPE)."""


def _waiting_transfer(attempt: ProvisioningAttempt | None) -> FirmwareTransfer | None:
    if attempt is None or attempt.waiting_step != Step.FIRMWARE.value:
        return None
    return FirmwareTransfer.from_details(dict(attempt.details))


def _transfer_from_json(data: Json | None) -> FirmwareTransfer | None:
    if data is None:
        return None
    transfer = FirmwareTransfer.from_details(data)
    if transfer is None:
        raise SnapshotError("unreadable firmware transfer in a snapshot")
    return transfer


def _frozen_clock() -> float:
    """No clock injected: time stands still within one call (steps take 0 ms)."""
    return 0.0


def profile_parameter_count(profile: ServiceProfile) -> int:
    """How many settings the profile carries (the seed's ``cpe.profile.parameter_count``;
    counted once per profile object, `ServiceProfile.parameter_count`)."""
    return profile.parameter_count


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
        firmware_files: FirmwareFiles | None = None,
    ) -> None:
        self._clock = clock or _frozen_clock
        self._firmware_files = firmware_files
        self._repository = repository
        self._profiles = profiles
        self._telemetry = telemetry or NoOpProvisioningTelemetry()
        self._ids = ids or RandomIds()
        self._settings = settings or WorkflowSettings()
        self._configs = ConfigCache(self._settings.build_config)
        self._memory_profiles = profiles if isinstance(profiles, MemoryProfiles) else None
        """The profile source when it is local (memory, the store): quiet checks need it."""
        self._quiet_sampling = (
            self._telemetry if isinstance(self._telemetry, QuietTraceSampling) else None
        )

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
            self._firmware_files,
        )

    async def check_quiet(
        self, inform: m.Inform, codes: tuple[str, ...], now: float
    ) -> QuietVerdict:
        """`check_quiet` with this factory's store, profiles, configs, retry policy and
        clock; never quiet with a profile source that is not local (a BSS)."""
        profiles = self._memory_profiles
        if profiles is None:
            return NOT_QUIET
        return await check_quiet(
            inform,
            codes,
            now,
            repository=self._repository,
            profiles=profiles,
            configs=self._configs,
            retry=self._settings.retry,
            clock=self._clock,
        )

    def quiet_session(
        self,
        session_id: str,
        inform: m.Inform,
        codes: tuple[str, ...],
        verdict: QuietVerdict,
        started_at: float,
    ) -> QuietSession:
        """The record of a session `check_quiet` found quiet."""
        return QuietSession(
            session_id,
            inform,
            codes,
            QuietFacts.of(verdict),
            started_at,
            telemetry=self._telemetry,
            sampling=self._quiet_sampling,
            ids=self._ids,
        )

    def resumed_quiet_session(self, session_id: str, state: Json) -> QuietSession:
        """The record of a quiet session another process (or this one) wrote down."""
        return QuietSession.resumed(
            session_id,
            state,
            telemetry=self._telemetry,
            sampling=self._quiet_sampling,
            ids=self._ids,
        )

    def session_after_check(self, session_id: str, *, inform_counted: bool) -> ProvisioningSession:
        """A general session for an Inform the quiet check has seen: its Inform already
        counted when ``inform_counted`` (a quiet session turned general)."""
        session = self.new_session(session_id)
        assert isinstance(session, ProvisioningSession)
        if inform_counted:
            session.inform_counted()
        return session

    async def restore(self, session_id: str, state: Json) -> ProvisioningSession:
        """The session's handler rebuilt from its snapshot (`ResumableHandlerFactory`)."""
        session = self.new_session(session_id)
        assert isinstance(session, ProvisioningSession)
        await session.resume(state)
        return session
