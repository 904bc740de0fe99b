"""A simulated CPE without I/O: it builds Informs and answers ACS requests.

The runner owns the network and the clock; this class owns what a real CPE's agent
decides: which events the next Inform carries, how each ACS RPC changes the device, what
survives a reboot. Everything that must survive a (simulated) power cycle lives on the
object (event queue, parameter overlay, pending TransferComplete), and
`SimulatedCpe.snapshot`/`restore` turn it into plain data for a CPE that restarts from
disk. Session-scoped state (pending reboot, files to fetch) is reset by `crash`.

Event semantics follow TR-069 section 3.7.1.5: single events ("1 BOOT") are dropped once
an Inform carrying them was answered; "M Download" and "7 TRANSFER COMPLETE" stay until
the TransferComplete itself was acknowledged; undelivered events are retried.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from traceacs.cwmp import events as ev
from traceacs.cwmp.faults import make_fault, set_parameter_values_fault
from traceacs.cwmp.messages import (
    AddObject,
    AddObjectResponse,
    DeleteObject,
    DeleteObjectResponse,
    DeviceId,
    Download,
    DownloadResponse,
    Envelope,
    EventStruct,
    FactoryReset,
    FactoryResetResponse,
    FaultStruct,
    GetParameterAttributes,
    GetParameterAttributesResponse,
    GetParameterNames,
    GetParameterNamesResponse,
    GetParameterValues,
    GetParameterValuesResponse,
    GetRPCMethods,
    GetRPCMethodsResponse,
    Inform,
    Message,
    ParameterAttributeStruct,
    ParameterInfoStruct,
    ParameterValueStruct,
    ParamValue,
    Reboot,
    RebootResponse,
    ScheduleInform,
    ScheduleInformResponse,
    SetParameterAttributes,
    SetParameterAttributesResponse,
    SetParameterValues,
    SetParameterValuesFault,
    SetParameterValuesResponse,
    TransferComplete,
    TransferCompleteResponse,
    Upload,
    UploadResponse,
)
from traceacs.cwmp.namespaces import namespace_for_version
from traceacs.simulator.faults import NO_FAULTS, Failure, FaultPlan, Quirk
from traceacs.simulator.param_tree import (
    INVALID_NAME,
    NOT_WRITABLE,
    DataModel,
    ParamTree,
    default_tree,
)

UNKNOWN_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""TR-069's "unknown time" (0001-01-01T00:00:00Z)."""

SUPPORTED_RPC_METHODS: tuple[str, ...] = (
    "GetRPCMethods",
    "SetParameterValues",
    "GetParameterValues",
    "GetParameterNames",
    "SetParameterAttributes",
    "GetParameterAttributes",
    "AddObject",
    "DeleteObject",
    "Reboot",
    "FactoryReset",
    "Download",
    "Upload",
    "ScheduleInform",
)

_INFORM_PARAMETERS: dict[str, tuple[str, ...]] = {
    "tr181": (
        "Device.RootDataModelVersion",
        "Device.DeviceInfo.HardwareVersion",
        "Device.DeviceInfo.SoftwareVersion",
        "Device.DeviceInfo.ProvisioningCode",
        "Device.ManagementServer.ConnectionRequestURL",
        "Device.ManagementServer.ParameterKey",
        "Device.IP.Interface.1.IPv4Address.1.IPAddress",
    ),
    "tr098": (
        "InternetGatewayDevice.DeviceSummary",
        "InternetGatewayDevice.DeviceInfo.HardwareVersion",
        "InternetGatewayDevice.DeviceInfo.SoftwareVersion",
        "InternetGatewayDevice.DeviceInfo.ProvisioningCode",
        "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
        "InternetGatewayDevice.ManagementServer.ParameterKey",
        "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1."
        "ExternalIPAddress",
    ),
}

_KEEP_UNTIL_TRANSFER_ACKED = frozenset({ev.TRANSFER_COMPLETE, ev.M_DOWNLOAD, ev.M_UPLOAD})


@dataclass(frozen=True, slots=True)
class CpeIdentity:
    """Who a simulated CPE is. ``index`` numbers it in its fleet (ports, IPs)."""

    serial_number: str
    oui: str = "00D09E"
    product_class: str = "TraceGW-3"
    manufacturer: str = "TraceACS Simulated"
    mac: str = "02:00:00:00:00:01"
    software_version: str = "1.0.0"
    hardware_version: str = "HW1"
    data_model: DataModel = "tr181"
    cwmp_version: str = "1.0"
    index: int = 0

    @property
    def device_id(self) -> DeviceId:
        return DeviceId(self.manufacturer, self.oui, self.product_class, self.serial_number)


@dataclass(slots=True)
class FleetContext:
    """What all CPEs of a fleet share: ACS URL, connection-request base URL, password.

    Kept out of each CPE so a fleet of 10,000 holds these strings once. Mutable because
    the runner learns the listener's port only after binding it.
    """

    acs_url: str = "http://127.0.0.1:7547/cwmp"
    connection_request_base: str = "http://127.0.0.1:7548/cr"
    connection_request_password: str = field(default="sim-cr-secret", repr=False)


DEFAULT_CONTEXT = FleetContext()


@dataclass(frozen=True, slots=True)
class PendingTransfer:
    """A Download/Upload accepted in a session, to be carried out by the runner."""

    command_key: str
    is_download: bool
    file_type: str
    url: str
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    delay_seconds: int = 0
    target_file_name: str = ""
    file_size: int = 0
    """The Download's FileSize (0: not given); a fetch of another size fails (9010)."""

    @property
    def is_firmware(self) -> bool:
        return self.is_download and self.file_type.startswith("1 ")


class SimulatedCpe:
    """One CPE's agent (sans-IO). See the module docstring for the lifecycle."""

    __slots__ = (
        "_delivered",
        "_events",
        "_factory_reset",
        "_reboot_key",
        "_scheduled",
        "_transfer_completes",
        "_transfers",
        "context",
        "faults",
        "identity",
        "retry_count",
        "session_requests",
        "tree",
    )

    def __init__(
        self,
        identity: CpeIdentity,
        *,
        faults: FaultPlan = NO_FAULTS,
        context: FleetContext = DEFAULT_CONTEXT,
    ) -> None:
        self.identity = identity
        self.faults = faults
        self.context = context
        self.tree = ParamTree(default_tree(identity.data_model))
        self._events: list[EventStruct] = [EventStruct(ev.BOOTSTRAP), EventStruct(ev.BOOT)]
        self._delivered: tuple[EventStruct, ...] | None = None
        self._scheduled: list[tuple[datetime, str]] | None = None
        self._transfers: list[PendingTransfer] | None = None
        self._transfer_completes: tuple[TransferComplete, ...] = ()
        self._reboot_key: str | None = None
        self._factory_reset = False
        self.retry_count = 0
        """Consecutive failed Inform attempts (sent in the Inform's RetryCount)."""
        self.session_requests = 0
        """ACS requests handled in the current session (failure injection counts them)."""

    def __repr__(self) -> str:
        return f"SimulatedCpe({self.identity.serial_number!r}, {self.identity.data_model})"

    # ------------------------------------------------------------------ values

    @property
    def root(self) -> str:
        return self.tree.root

    @property
    def namespace(self) -> str:
        return namespace_for_version(self.identity.cwmp_version)

    @property
    def connection_request_url(self) -> str:
        return f"{self.context.connection_request_base}/{self.identity.serial_number}"

    @property
    def parameter_key(self) -> str:
        return str(self.value(self.root + "ManagementServer.ParameterKey"))

    def value(self, name: str) -> ParamValue:
        """The current value of ``name`` with identity placeholders resolved."""
        raw = self.tree.get(name)
        if isinstance(raw, str) and raw.startswith("$"):
            return self._resolve(raw[1:])
        return raw

    def _resolve(self, key: str) -> ParamValue:
        ident = self.identity
        if key.startswith("ssid_"):
            return f"Sim-{ident.serial_number[-6:]}-{key[5:]}"
        resolvers: dict[str, Callable[[], ParamValue]] = {
            "manufacturer": lambda: ident.manufacturer,
            "oui": lambda: ident.oui,
            "product_class": lambda: ident.product_class,
            "serial_number": lambda: ident.serial_number,
            "software_version": lambda: ident.software_version,
            "hardware_version": lambda: ident.hardware_version,
            "uptime": lambda: 3600,
            "acs_url": lambda: self.context.acs_url,
            "connection_request_url": lambda: self.connection_request_url,
            "connection_request_password": lambda: self.context.connection_request_password,
            "external_ip": lambda: (
                f"10.{(ident.index >> 16) & 255}.{(ident.index >> 8) & 255}.{ident.index & 255}"
            ),
            "mac": lambda: ident.mac,
        }
        return resolvers[key]() if key in resolvers else ""

    def _visible(self, name: str) -> ParameterValueStruct:
        pdef = self.tree.lookup(name)
        assert pdef is not None
        value = "" if pdef.hidden else self.value(name)
        return ParameterValueStruct(name, value, pdef.xsd_type)

    # ------------------------------------------------------------------ events

    @property
    def pending_events(self) -> tuple[EventStruct, ...]:
        return tuple(self._events)

    def queue_event(self, code: str, command_key: str = "") -> None:
        """Add an event to the next Inform (single events at most once)."""
        if code in ev.SINGLE_EVENTS and any(e.event_code == code for e in self._events):
            return
        self._events.append(EventStruct(code, command_key))

    def has_work(self, now: datetime) -> bool:
        """Whether the CPE wants a session now (events pending or a schedule is due)."""
        self._fire_due(now)
        return bool(self._events)

    def next_wakeup(self) -> datetime | None:
        """When the earliest ScheduleInform falls due, if any."""
        return min((due for due, _ in self._scheduled), default=None) if self._scheduled else None

    def _fire_due(self, now: datetime) -> None:
        if not self._scheduled:
            return
        due = [(t, k) for t, k in self._scheduled if t <= now]
        if not due:
            return
        self._scheduled = [(t, k) for t, k in self._scheduled if t > now] or None
        self.queue_event(ev.SCHEDULED)
        for _, key in due:
            self.queue_event(ev.M_SCHEDULE_INFORM, key)

    # ------------------------------------------------------------------ session

    def build_inform(self, now: datetime, *, cwmp_id: str | None = "1") -> Envelope:
        """The envelope opening a session (events pending + the model's Inform params)."""
        self._fire_due(now)
        self.session_requests = 0
        names = _INFORM_PARAMETERS[self.identity.data_model]
        params = tuple(self._visible(n) for n in names if self.tree.lookup(n) is not None)
        inform = Inform(
            device_id=self.identity.device_id,
            events=tuple(self._events) or (EventStruct(ev.PERIODIC),),
            max_envelopes=1,
            current_time=now,
            retry_count=self.retry_count,
            parameters=params,
        )
        version = self.identity.cwmp_version
        return Envelope(
            body=inform,
            cwmp_id=None if self.faults.has(Quirk.NO_CWMP_ID) else cwmp_id,
            namespace=self.namespace,
            session_timeout=30 if version in ("1.3", "1.4") else None,
            supported_cwmp_versions="1.0,1.1,1.2,1.3,1.4" if version == "1.4" else None,
        )

    def inform_accepted(self, delivered: Iterable[EventStruct]) -> None:
        """The ACS answered the Inform. Its events are dropped when the session ends
        cleanly (`end_session`), so a session that breaks later retries them."""
        self._delivered = tuple(delivered)

    def session_failed(self) -> None:
        """The session broke (no InformResponse, 8005, HTTP error, dropped connection):
        keep every event, count the retry (the next Inform's RetryCount)."""
        self._delivered = None
        self.retry_count += 1

    def retry_delay(self, rng: random.Random, *, scale: float = 1.0) -> float:
        """TR-069 3.2.1.1 session retry wait for the current retry count, in seconds."""
        n = min(max(self.retry_count, 1), 10)
        low = 5 * 2 ** (n - 1)
        return rng.uniform(low, 2 * low) * scale

    def next_cpe_request(self) -> Message | None:
        """A request the CPE sends after the InformResponse (before its empty POST)."""
        return self._transfer_completes[0] if self._transfer_completes else None

    def handle_acs_response(self, message: Message) -> None:
        """The ACS answered one of our requests (TransferCompleteResponse)."""
        if isinstance(message, TransferCompleteResponse) and self._transfer_completes:
            self._transfer_completes = self._transfer_completes[1:]
        if not self._transfer_completes:
            self._events = [
                e for e in self._events if e.event_code not in _KEEP_UNTIL_TRANSFER_ACKED
            ]

    def end_session(self) -> bool:
        """The session closed normally: forget delivered events (transfer events stay
        until their TransferComplete is acknowledged), apply Reboot/FactoryReset.
        True if the CPE rebooted."""
        gone = set(self._delivered or ())
        self._delivered = None
        keep_transfer = bool(self._transfer_completes)
        self._events = [
            e
            for e in self._events
            if e not in gone or (keep_transfer and e.event_code in _KEEP_UNTIL_TRANSFER_ACKED)
        ]
        self.retry_count = 0
        if self._factory_reset:
            self.tree.reset()
            self._events = [EventStruct(ev.BOOTSTRAP), EventStruct(ev.BOOT)]
            self._scheduled = None
            self._transfers = None
            self._transfer_completes = ()
            self._factory_reset = False
            self._reboot_key = None
            return True
        if self._reboot_key is not None:
            self.queue_event(ev.M_REBOOT, self._reboot_key)
            self.queue_event(ev.BOOT)
            self._reboot_key = None
            return True
        return False

    def crash(self) -> None:
        """Power loss mid-session: volatile session state is lost, the rest stays."""
        self._delivered = None
        self._reboot_key = None
        self._factory_reset = False
        self._transfers = None
        self.queue_event(ev.BOOT)

    def take_transfers(self) -> list[PendingTransfer]:
        """Downloads/Uploads accepted in the session, for the runner to carry out."""
        transfers, self._transfers = self._transfers or [], None
        return transfers

    def transfer_done(
        self,
        transfer: PendingTransfer,
        fault_code: int,
        start: datetime,
        complete: datetime,
        *,
        image_version: str | None = None,
    ) -> None:
        """The runner finished (or failed) a transfer: queue TransferComplete + events.

        A firmware image that arrived is flashed and the CPE reboots into the version
        its header names (``image_version``; else the Download's TargetFileName, else
        the file's name), unless a firmware failure is injected.
        """
        failure = self.faults.failure
        if transfer.is_firmware:
            if failure is Failure.FIRMWARE_TIMEOUT:
                return  # hangs in the upgrade: no TransferComplete, ever
            if fault_code == 0 and failure is Failure.FIRMWARE_CORRUPT:
                fault_code = 9018
        fault = FaultStruct(fault_code, make_fault(fault_code).fault_string if fault_code else "")
        done = TransferComplete(transfer.command_key, fault, start, complete)
        self._transfer_completes = (*self._transfer_completes, done)
        self.queue_event(ev.TRANSFER_COMPLETE)
        self.queue_event(
            ev.M_DOWNLOAD if transfer.is_download else ev.M_UPLOAD, transfer.command_key
        )
        if transfer.is_firmware and fault_code == 0:
            path = transfer.url.partition("?")[0].rstrip("/")
            version = image_version or transfer.target_file_name or path.rpartition("/")[2]
            if failure is not Failure.FIRMWARE_WRONG_VERSION:
                self.tree.set_values({self.root + "DeviceInfo.SoftwareVersion": version})
            self.queue_event(ev.BOOT)

    # ------------------------------------------------------------------ ACS requests

    def handle(self, request: Message, now: datetime) -> Message:
        """The response to one ACS request (a CwmpFault for a bad one)."""
        self.session_requests += 1
        handler = _HANDLERS.get(type(request))
        if handler is None:
            return make_fault(9000)
        return handler(self, request, now)

    def _get_rpc_methods(self, _req: GetRPCMethods, _now: datetime) -> Message:
        return GetRPCMethodsResponse(SUPPORTED_RPC_METHODS)

    def _expand(self, name: str) -> list[str] | None:
        """Parameter names a GPV/GPA name stands for; None if it does not exist."""
        if name == "":
            return [n for n in self.tree.names_under(self.root) if not n.endswith(".")]
        if name.endswith("."):
            if not self.tree.has_object(name):
                return None
            return [n for n in self.tree.names_under(name) if not n.endswith(".")]
        return [name] if self.tree.lookup(name) is not None else None

    def _get_parameter_values(self, req: GetParameterValues, _now: datetime) -> Message:
        out: list[ParameterValueStruct] = []
        for name in req.parameter_names:
            names = self._expand(name)
            if names is None:
                return make_fault(INVALID_NAME, f"Invalid parameter name: {name}")
            out.extend(self._visible(n) for n in names)
        return GetParameterValuesResponse(tuple(out))

    def _get_parameter_names(self, req: GetParameterNames, _now: datetime) -> Message:
        path = req.parameter_path
        if path == "":
            if req.next_level:
                return GetParameterNamesResponse((ParameterInfoStruct(self.root, False),))
            path = self.root
        if not path.endswith("."):
            pdef = self.tree.lookup(path)
            if pdef is None:
                return make_fault(INVALID_NAME)
            if req.next_level:
                return make_fault(9003, "NextLevel true on a parameter name")
            return GetParameterNamesResponse((ParameterInfoStruct(path, pdef.writable),))
        if not self.tree.has_object(path):
            return make_fault(INVALID_NAME)
        infos: list[ParameterInfoStruct] = []
        depth = path.count(".")
        for name in self.tree.names_under(path):
            if name == path and req.next_level:
                continue
            if req.next_level and name.rstrip(".").count(".") != depth:
                continue
            infos.append(ParameterInfoStruct(name, self._writable(name)))
        return GetParameterNamesResponse(tuple(infos))

    def _writable(self, name: str) -> bool:
        if name.endswith("."):
            defaults = self.tree.defaults
            return name in defaults.tables or defaults.objects.get(name, False)
        pdef = self.tree.lookup(name)
        return pdef is not None and pdef.writable

    def _set_parameter_values(self, req: SetParameterValues, _now: datetime) -> Message:
        failure = self.faults.failure
        if failure is Failure.SPV_INTERNAL:
            return make_fault(9002)
        names = [p.name for p in req.parameters]
        if len(set(names)) != len(names):
            return make_fault(9003, "Parameter set more than once")
        bad: list[SetParameterValuesFault] = []
        for param in req.parameters:
            pdef = self.tree.lookup(param.name)
            if pdef is None:
                code = INVALID_NAME
            elif not pdef.writable:
                code = NOT_WRITABLE
            else:
                code = pdef.check(param.value, param.xsd_type)
            if code:
                bad.append(set_parameter_values_fault(param.name, code))
        if not bad and failure is Failure.SPV_FAULT and req.parameters:
            bad = [set_parameter_values_fault(req.parameters[0].name, self.faults.spv_fault_code)]
        if bad:
            return make_fault(9003, set_parameter_values_faults=tuple(bad))
        values = {p.name: p.value for p in req.parameters}
        if failure is Failure.MISMATCH:
            values = _drop_some(values, self.tree)
        self.tree.set_values(values)
        self._set_parameter_key(req.parameter_key)
        return SetParameterValuesResponse(status=0)

    def _set_parameter_key(self, key: str) -> None:
        self.tree.set_values({self.root + "ManagementServer.ParameterKey": key})

    def _get_parameter_attributes(self, req: GetParameterAttributes, _now: datetime) -> Message:
        out: list[ParameterAttributeStruct] = []
        for name in req.parameter_names:
            names = self._expand(name)
            if names is None:
                return make_fault(INVALID_NAME, f"Invalid parameter name: {name}")
            for n in names:
                notification, access = self.tree.attributes(n)
                out.append(ParameterAttributeStruct(n, notification, access))
        return GetParameterAttributesResponse(tuple(out))

    def _set_parameter_attributes(self, req: SetParameterAttributes, _now: datetime) -> Message:
        plan: list[tuple[list[str], Any]] = []
        for item in req.parameters:
            names = self._expand(item.name)
            if names is None:
                return make_fault(INVALID_NAME, f"Invalid parameter name: {item.name}")
            if item.notification_change and item.notification not in (0, 1, 2, 3, 4, 5, 6):
                return make_fault(9003, "Invalid notification value")
            plan.append((names, item))
        for names, item in plan:
            for n in names:
                self.tree.set_attributes(
                    n,
                    item.notification if item.notification_change else None,
                    item.access_list if item.access_list_change else None,
                )
        return SetParameterAttributesResponse()

    def _add_object(self, req: AddObject, _now: datetime) -> Message:
        if not req.object_name.endswith("."):
            return make_fault(INVALID_NAME)
        number = self.tree.add_instance(req.object_name)
        if number is None:
            return make_fault(INVALID_NAME)
        self._set_parameter_key(req.parameter_key)
        return AddObjectResponse(instance_number=number, status=0)

    def _delete_object(self, req: DeleteObject, _now: datetime) -> Message:
        last = req.object_name.rstrip(".").rpartition(".")[2]
        if not req.object_name.endswith(".") or not last.isdigit():
            return make_fault(INVALID_NAME)
        if not self.tree.delete_instance(req.object_name):
            return make_fault(INVALID_NAME)
        self._set_parameter_key(req.parameter_key)
        return DeleteObjectResponse(status=0)

    def _reboot(self, req: Reboot, _now: datetime) -> Message:
        self._reboot_key = req.command_key
        return RebootResponse()

    def _factory_reset_rpc(self, _req: FactoryReset, _now: datetime) -> Message:
        self._factory_reset = True
        return FactoryResetResponse()

    def _transfer(self, req: Download | Upload, _now: datetime) -> Message:
        if not req.url.startswith(("http://", "https://")):
            return make_fault(9013)
        transfer = PendingTransfer(
            command_key=req.command_key,
            is_download=isinstance(req, Download),
            file_type=req.file_type,
            url=req.url,
            username=req.username,
            password=req.password,
            delay_seconds=req.delay_seconds,
            target_file_name=req.target_file_name if isinstance(req, Download) else "",
            file_size=req.file_size if isinstance(req, Download) else 0,
        )
        self._transfers = [*(self._transfers or []), transfer]
        if isinstance(req, Download):
            return DownloadResponse(1, UNKNOWN_TIME, UNKNOWN_TIME)
        return UploadResponse(1, UNKNOWN_TIME, UNKNOWN_TIME)

    def _schedule_inform(self, req: ScheduleInform, now: datetime) -> Message:
        if req.delay_seconds <= 0:
            return make_fault(9003, "DelaySeconds must be positive")
        due = now + timedelta(seconds=req.delay_seconds)
        self._scheduled = [*(self._scheduled or []), (due, req.command_key)]
        return ScheduleInformResponse()

    # ------------------------------------------------------------------ persistence

    def snapshot(self) -> dict[str, Any]:
        """Everything that survives a power cycle, as JSON-able data."""
        return {
            "tree": self.tree.snapshot(),
            "events": [[e.event_code, e.command_key] for e in self._events],
            "scheduled": [[t.isoformat(), k] for t, k in self._scheduled or ()],
            "transfer_completes": [
                [
                    tc.command_key,
                    tc.fault.fault_code,
                    tc.fault.fault_string,
                    tc.start_time.isoformat(),
                    tc.complete_time.isoformat(),
                ]
                for tc in self._transfer_completes
            ],
        }

    def restore(self, snap: Mapping[str, Any]) -> None:
        """Come back from `snapshot` after a power cycle ("1 BOOT" is queued)."""
        self.tree.restore(snap["tree"])
        self._events = [EventStruct(code, key) for code, key in snap["events"]]
        sched = [(datetime.fromisoformat(t), k) for t, k in snap["scheduled"]]
        self._scheduled = sched or None
        self._transfer_completes = tuple(
            TransferComplete(
                tc[0],
                FaultStruct(int(tc[1]), tc[2]),
                datetime.fromisoformat(tc[3]),
                datetime.fromisoformat(tc[4]),
            )
            for tc in snap["transfer_completes"]
        )
        self._reboot_key = None
        self._factory_reset = False
        self._transfers = None
        self._delivered = None
        self.queue_event(ev.BOOT)


def _drop_some(values: dict[str, ParamValue], tree: ParamTree) -> dict[str, ParamValue]:
    """The values a MISMATCH CPE really applies: every third visible change is skipped.

    Only values that differ from what the device already holds count, so that the
    skipped ones really leave the device different from what the ACS asked for.
    """
    visible = [
        n
        for n, v in values.items()
        if (not (p := tree.lookup(n)) or not p.hidden) and _differs(tree, n, v)
    ]
    skipped = set(visible[::3])
    return {n: v for n, v in values.items() if n not in skipped}


def _differs(tree: ParamTree, name: str, value: ParamValue) -> bool:
    try:
        return str(tree.get(name)) != str(value)
    except KeyError:
        return True


_Handler = Callable[[SimulatedCpe, Any, datetime], Message]
_HANDLERS: dict[type[Message], _Handler] = {
    GetRPCMethods: SimulatedCpe._get_rpc_methods,
    GetParameterValues: SimulatedCpe._get_parameter_values,
    GetParameterNames: SimulatedCpe._get_parameter_names,
    SetParameterValues: SimulatedCpe._set_parameter_values,
    GetParameterAttributes: SimulatedCpe._get_parameter_attributes,
    SetParameterAttributes: SimulatedCpe._set_parameter_attributes,
    AddObject: SimulatedCpe._add_object,
    DeleteObject: SimulatedCpe._delete_object,
    Reboot: SimulatedCpe._reboot,
    FactoryReset: SimulatedCpe._factory_reset_rpc,
    Download: SimulatedCpe._transfer,
    Upload: SimulatedCpe._transfer,
    ScheduleInform: SimulatedCpe._schedule_inform,
}

__all__ = [
    "DEFAULT_CONTEXT",
    "SUPPORTED_RPC_METHODS",
    "UNKNOWN_TIME",
    "CpeIdentity",
    "FleetContext",
    "PendingTransfer",
    "SimulatedCpe",
]
