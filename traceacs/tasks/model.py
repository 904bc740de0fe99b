"""A task: one operator request for one device, as plain data.

Tasks follow GenieACS's names and argument shapes (``getParameterValues`` with
``parameterNames``, ``setParameterValues`` with ``parameterValues: [[name, value,
type]]``, ``refreshObject`` / ``addObject`` / ``deleteObject`` with ``objectName``,
``download`` with ``fileType`` / ``fileName`` / ``targetFileName``), so scripts written
for GenieACS's NBI port with few changes; ``upload`` and ``scheduleInform`` are ours.

A task is queued, runs in one of the device's CWMP sessions (``running``; a transfer
stays running until its TransferComplete arrives, possibly sessions later) and ends
``done`` (with a JSON ``result``) or ``failed`` (with the CPE's fault). A fault puts it
back in the queue with an exponential backoff (`TaskRetryPolicy`) until its attempts run
out. Transitions are pure functions of the task and ``now``: the store only persists.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from traceacs.cwmp.errors import CwmpParseError
from traceacs.cwmp.messages import ParameterValueStruct
from traceacs.cwmp.values import parse_value


class TaskStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


FINISHED: Final = frozenset({TaskStatus.DONE, TaskStatus.FAILED})

FIRMWARE_IMAGE: Final = "1 Firmware Upgrade Image"
VENDOR_CONFIG: Final = "3 Vendor Configuration File"
VENDOR_LOG: Final = "4 Vendor Log File"

TASK_NAMES: Final = (
    "getParameterValues",
    "setParameterValues",
    "refreshObject",
    "addObject",
    "deleteObject",
    "reboot",
    "factoryReset",
    "download",
    "upload",
    "scheduleInform",
)
TRANSFER_TASKS: Final = frozenset({"download", "upload"})
ENDS_SESSION: Final = frozenset({"reboot", "factoryReset"})
"""After these, the CPE restarts when the session ends: later tasks wait for the next."""

COMMAND_KEY_PREFIX: Final = "traceacs-task-"
MAX_PARAMETERS: Final = 1000


class TaskError(ValueError):
    """A task request that cannot be queued (unknown name, bad arguments)."""


@dataclass(frozen=True, slots=True)
class TaskRetryPolicy:
    """How often and how soon a faulted task is tried again.

    The n-th retry waits ``base_delay * 2**(n-1)`` seconds, at most ``max_delay``;
    after ``max_attempts`` attempts the task fails for good.
    """

    max_attempts: int = 3
    base_delay: float = 60.0
    max_delay: float = 3600.0

    def delay(self, attempts: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True, slots=True)
class Task:
    """One task of one device (see the module docstring)."""

    id: int
    oui: str
    serial_number: str
    name: str
    arguments: Mapping[str, Any] = field(repr=False)  # may carry values to set (secrets)
    status: TaskStatus
    attempts: int
    created_at: float
    updated_at: float
    next_attempt_at: float
    fault_code: int | None = None
    fault_string: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict, repr=False)
    trace_id: str | None = None
    bulk_id: int | None = None
    """The bulk job that queued this task (paced dispatch), or None."""

    @property
    def command_key(self) -> str:
        """The CommandKey of this task's Reboot/Download/Upload/ScheduleInform."""
        return f"{COMMAND_KEY_PREFIX}{self.id}"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def started(self, now: float, trace_id: str | None) -> Task:
        return replace(
            self,
            status=TaskStatus.RUNNING,
            attempts=self.attempts + 1,
            updated_at=now,
            trace_id=trace_id,
        )

    def succeeded(self, result: Mapping[str, Any], now: float) -> Task:
        return replace(
            self,
            status=TaskStatus.DONE,
            result=dict(result),
            updated_at=now,
            fault_code=None,
            fault_string=None,
        )

    def waiting(self, result: Mapping[str, Any], now: float) -> Task:
        """The CPE accepted a transfer; the task runs on until TransferComplete."""
        return replace(self, result=dict(result), updated_at=now)

    def faulted(
        self, fault_code: int | None, fault_string: str, now: float, policy: TaskRetryPolicy
    ) -> Task:
        """Record the fault; back in the queue after a backoff, or failed for good."""
        exhausted = self.attempts >= policy.max_attempts
        return replace(
            self,
            status=TaskStatus.FAILED if exhausted else TaskStatus.QUEUED,
            fault_code=fault_code,
            fault_string=fault_string,
            updated_at=now,
            next_attempt_at=now if exhausted else now + policy.delay(self.attempts),
        )

    def interrupted(self, reason: str, now: float) -> Task:
        """The session ended before the CPE answered: try again at the next session.

        The attempt is given back (the CPE may never have seen the RPC), so a device
        with a flaky link does not burn its retries on dropped sessions.
        """
        return replace(
            self,
            status=TaskStatus.QUEUED,
            attempts=max(0, self.attempts - 1),
            fault_code=None,
            fault_string=reason,
            updated_at=now,
            next_attempt_at=now,
        )

    def deferred(self, until: float, now: float) -> Task:
        """Not started after all (its bulk job's dispatch rate is used up): due ``until``."""
        return replace(self, updated_at=now, next_attempt_at=until)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "device": {"oui": self.oui, "serial_number": self.serial_number},
            "name": self.name,
            "arguments": dict(self.arguments),
            "status": self.status.value,
            "attempts": self.attempts,
            "fault": (
                None
                if self.fault_code is None and self.fault_string is None
                else {"code": self.fault_code, "string": self.fault_string}
            ),
            "result": dict(self.result),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "next_attempt_at": self.next_attempt_at,
            "trace_id": self.trace_id,
            "bulk_id": self.bulk_id,
        }


def task_id_of(command_key: str) -> int | None:
    """The task id a CommandKey of ours names, or None for another's key."""
    if not command_key.startswith(COMMAND_KEY_PREFIX):
        return None
    digits = command_key[len(COMMAND_KEY_PREFIX) :]
    return int(digits) if digits.isdigit() else None


# ---------------------------------------------------------------------------- validation


def validate_task(name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical arguments of a ``name`` task; `TaskError` says what is wrong."""
    if name not in TASK_NAMES:
        raise TaskError(f"unknown task {name!r}; one of: {', '.join(TASK_NAMES)}")
    validator = _VALIDATORS.get(name)
    return validator(arguments) if validator else {}


def _string(arguments: Mapping[str, Any], key: str, *, default: str | None = None) -> str:
    value = arguments.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise TaskError(f"{key!r} must be a non-empty string")
    return value


def _object_name(arguments: Mapping[str, Any]) -> str:
    name = _string(arguments, "objectName")
    if not name.endswith("."):
        raise TaskError("'objectName' must be an object path ending with '.'")
    return name


def _get(arguments: Mapping[str, Any]) -> dict[str, Any]:
    names = arguments.get("parameterNames")
    if (
        not isinstance(names, list)
        or not names
        or len(names) > MAX_PARAMETERS
        or not all(isinstance(n, str) and n for n in names)
    ):
        raise TaskError("'parameterNames' must be a non-empty list of parameter names")
    return {"parameterNames": list(names)}


def _set(arguments: Mapping[str, Any]) -> dict[str, Any]:
    values = arguments.get("parameterValues")
    if not isinstance(values, list) or not values or len(values) > MAX_PARAMETERS:
        raise TaskError("'parameterValues' must be a non-empty list of [name, value, type]")
    canonical: list[list[Any]] = []
    for item in values:
        if not isinstance(item, list) or len(item) not in (2, 3):
            raise TaskError("each parameter value is [name, value] or [name, value, type]")
        name, value = item[0], item[1]
        xsd_type = item[2] if len(item) == 3 else _implied_type(value)
        if not isinstance(name, str) or not name or name.endswith("."):
            raise TaskError("a parameter name must be a full parameter path")
        if not isinstance(xsd_type, str) or not isinstance(value, str | int | float | bool):
            raise TaskError(f"bad value or type for {name}")
        to_parameter(name, value, xsd_type)  # refuses a value its type cannot hold
        canonical.append([name, value, _bare(xsd_type)])
    out: dict[str, Any] = {"parameterValues": canonical}
    if "parameterKey" in arguments:
        out["parameterKey"] = _string(arguments, "parameterKey", default="")
    return out


def _object(arguments: Mapping[str, Any]) -> dict[str, Any]:
    return {"objectName": _object_name(arguments)}


def _refresh(arguments: Mapping[str, Any]) -> dict[str, Any]:
    name = _string(arguments, "objectName")
    return {"objectName": name}


def _download(arguments: Mapping[str, Any]) -> dict[str, Any]:
    out = {
        "fileType": _string(arguments, "fileType", default=FIRMWARE_IMAGE),
        "fileName": _string(arguments, "fileName"),
    }
    if "targetFileName" in arguments:
        out["targetFileName"] = _string(arguments, "targetFileName", default="")
    return out


def _upload(arguments: Mapping[str, Any]) -> dict[str, Any]:
    out = {"fileType": _string(arguments, "fileType", default=VENDOR_CONFIG)}
    if "fileName" in arguments:
        out["fileName"] = _string(arguments, "fileName")
    return out


def _schedule(arguments: Mapping[str, Any]) -> dict[str, Any]:
    delay = arguments.get("delaySeconds", arguments.get("delay"))
    if isinstance(delay, str) and delay.isdigit():
        delay = int(delay)
    if not isinstance(delay, int) or isinstance(delay, bool) or not 0 < delay < 2**31:
        raise TaskError("'delaySeconds' must be a positive number of seconds")
    return {"delaySeconds": delay}


_VALIDATORS = {
    "getParameterValues": _get,
    "setParameterValues": _set,
    "refreshObject": _refresh,
    "addObject": _object,
    "deleteObject": _object,
    "download": _download,
    "upload": _upload,
    "scheduleInform": _schedule,
}


def _bare(xsd_type: str) -> str:
    return xsd_type.removeprefix("xsd:")


def _implied_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "unsignedInt" if value >= 0 else "int"
    return "string"


def to_parameter(name: str, value: object, xsd_type: str) -> ParameterValueStruct:
    """The wire struct for one ``[name, value, type]`` (`TaskError` for a bad value)."""
    bare = _bare(xsd_type)
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    try:
        return ParameterValueStruct(name, parse_value(text, bare), bare)
    except CwmpParseError:
        raise TaskError(f"the value given for {name} is not a valid {bare}") from None
