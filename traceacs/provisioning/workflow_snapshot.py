"""`ProvisioningSession`'s state between two POSTs, as one explicit dataclass.

One field per attribute of the workflow that outlives a POST; `to_json` / `from_json`
are plain and total, so a missing or extra key is an error, not a guess. To add a piece
of workflow state (a new step's attributes): add a field here with a default, write it
in `ProvisioningSession.snapshot`, read it in `ProvisioningSession.resume`, and the
round-trip test in tests/provisioning/test_workflow_snapshot.py covers it.

What is deliberately absent:
- the desired config and the service profile: they hold secrets (Wi-Fi keys, VoIP
  passwords). ``config_key`` (the config's ParameterKey, a hash) names the config; the
  resuming process fetches the profile again and rebuilds the config through its
  `ConfigCache`, and refuses to continue if the key no longer matches (the profile
  changed while the session was paused: the next inform provisions the new one). A
  process that built that very config before (same target, ParameterKey and profile
  version) takes it from its cache without fetching: the session then goes on with
  the config it started with, as a session held in memory does;
- the pending RPC itself: only its method, span and send time. The request is rebuilt
  from the config (SetParameterValues, GetParameterValues of the verified names) or
  the firmware transfer (a Download, without its URL: the URL carries a file token);
- device secrets (connection-request password, last values read).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from traceacs.cwmp import messages as m
from traceacs.provisioning.device import Device, DeviceIdentity, ProvisioningState
from traceacs.provisioning.session_snapshot import Json, SnapshotError
from traceacs.provisioning.telemetry_port import ProvisioningOutcome

SNAPSHOT_FORMAT = 1


@dataclass(slots=True)
class PendingRpc:
    """An RPC sent to the CPE and not yet answered: what, under which span, since when."""

    method: str
    span_id: str
    sent_at: float


@dataclass(slots=True)
class ProvisioningSnapshot:
    trace: Json
    root_span_id: str | None = None
    started_at: float = 0.0
    inform: str | None = None
    device: Json | None = None
    plan: str = "wait"
    attempt_id: int | None = None
    step: str | None = None
    step_span_id: str | None = None
    step_durations: dict[str, float] = field(default_factory=dict)
    rpc: PendingRpc | None = None
    config_key: str | None = None
    has_profile: bool = False
    profile_version: str | None = None
    outcome: Json | None = None
    mismatches: int = 0
    ended: bool = False
    failure_message: str = ""
    # the firmware step: the Download accepted (no URL: it carries a file token), the
    # CPE's TransferComplete received this session, an adopted attempt's start
    transfer: Json | None = None
    transfer_complete: Json | None = None
    attempt_started_at: float | None = None

    def to_json(self) -> Json:
        # Shallow on purpose (not `asdict`, which deep-copies the trace: a snapshot is
        # taken at every POST in shared mode); `rpc` is the only nested dataclass.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["rpc"] = asdict(self.rpc) if self.rpc is not None else None
        data["format"] = SNAPSHOT_FORMAT
        return data

    @classmethod
    def from_json(cls, data: Json) -> ProvisioningSnapshot:
        if data.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotError(f"unknown provisioning snapshot format {data.get('format')!r}")
        known = {f.name for f in fields(cls)}
        extra = set(data) - known - {"format"}
        if extra:
            raise SnapshotError(f"unknown provisioning snapshot fields: {sorted(extra)}")
        values = {k: v for k, v in data.items() if k in known}
        rpc = values.get("rpc")
        if rpc is not None:
            values["rpc"] = PendingRpc(**rpc)
        try:
            return cls(**values)
        except TypeError as exc:
            raise SnapshotError(f"incomplete provisioning snapshot: {exc}") from None


# ---------------------------------------------------------------------------- values


def device_to_json(device: Device | None) -> Json | None:
    """The device fields the workflow reads; secrets stay in the inventory."""
    if device is None:
        return None
    return {
        "oui": device.oui,
        "serial_number": device.serial_number,
        "product_class": device.product_class,
        "customer_id": device.customer_id,
        "service_plan": device.service_plan,
        "location_id": device.location_id,
        "created_at": device.created_at,
        "updated_at": device.updated_at,
        "state": device.state.value,
        "parameter_key": device.parameter_key,
        "profile_version": device.profile_version,
    }


def device_from_json(data: Json | None) -> Device | None:
    if data is None:
        return None
    try:
        return Device(
            identity=DeviceIdentity(
                data["oui"], data["serial_number"], product_class=data["product_class"]
            ),
            customer_id=data["customer_id"],
            service_plan=data["service_plan"],
            location_id=data["location_id"],
            created_at=float(data["created_at"]),
            updated_at=float(data["updated_at"]),
            state=ProvisioningState(data["state"]),
            parameter_key=data["parameter_key"],
            profile_version=data["profile_version"],
        )
    except (KeyError, ValueError) as exc:
        raise SnapshotError(f"unreadable device in a snapshot: {exc!r}") from None


def outcome_to_json(outcome: ProvisioningOutcome | None) -> Json | None:
    if outcome is None:
        return None
    data: dict[str, Any] = asdict(outcome)
    data["step_durations_ms"] = dict(outcome.step_durations_ms)
    return data


def outcome_from_json(data: Json | None) -> ProvisioningOutcome | None:
    if data is None:
        return None
    try:
        return ProvisioningOutcome(**data)
    except TypeError as exc:
        raise SnapshotError(f"unreadable outcome in a snapshot: {exc}") from None


def transfer_complete_to_json(report: m.TransferComplete | None) -> Json | None:
    if report is None:
        return None
    return {
        "command_key": report.command_key,
        "fault_code": report.fault.fault_code,
        "fault_string": report.fault.fault_string,
        "start_time": report.start_time.isoformat(),
        "complete_time": report.complete_time.isoformat(),
    }


def transfer_complete_from_json(data: Json | None) -> m.TransferComplete | None:
    if data is None:
        return None
    try:
        return m.TransferComplete(
            command_key=str(data["command_key"]),
            fault=m.FaultStruct(int(data["fault_code"]), str(data["fault_string"])),
            start_time=datetime.fromisoformat(str(data["start_time"])),
            complete_time=datetime.fromisoformat(str(data["complete_time"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"unreadable TransferComplete in a snapshot: {exc!r}") from None
