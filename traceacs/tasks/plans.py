"""What each task does on the wire: its RPCs, and what it makes of the answers.

A `TaskPlan` is a small sans-IO state machine per task: `first` gives the first RPC,
`answer` takes the CPE's response to the last one and says what comes next: another
RPC, `Done` (with the task's JSON result), `Waiting` (a transfer accepted, to finish at
TransferComplete) or `Faulted`. No I/O, no clock; URLs for transfers are resolved by
the runner before the plan is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from traceacs.cwmp import messages as m
from traceacs.cwmp.values import format_value
from traceacs.tasks.model import Task, to_parameter

GPV_BATCH: Final = 100
"""Parameters per GetParameterValues of a refresh: CPEs with little memory choke on
a whole subtree in one response."""


@dataclass(frozen=True, slots=True)
class Done:
    result: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Waiting:
    result: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Faulted:
    fault_code: int | None
    fault_string: str


Step = m.Message | Done | Waiting | Faulted


def values_json(parameters: tuple[m.ParameterValueStruct, ...]) -> list[list[str]]:
    """``[[name, value, type]]`` as GenieACS writes them (values as wire text)."""
    return [[p.name, format_value(p.value, p.xsd_type), p.xsd_type] for p in parameters]


@dataclass(slots=True)
class TaskPlan:
    """The RPC sequence of one task (see the module docstring)."""

    task: Task
    parameter_key: str = ""
    """The ParameterKey the CPE reported: set/add/delete keep it, so a task never makes
    provisioning think its configuration was replaced."""
    transfer_url: str = ""
    file_size: int = 0
    file_name: str = ""
    pending_names: list[str] = field(default_factory=list)
    """A refresh's parameter names not read yet (batches still to send)."""
    read_values: list[m.ParameterValueStruct] = field(default_factory=list)
    """A refresh's values read so far."""

    def first(self) -> m.Message:
        task, args = self.task, self.task.arguments
        key = self.task.command_key
        match task.name:
            case "getParameterValues":
                return m.GetParameterValues(tuple(args["parameterNames"]))
            case "setParameterValues":
                params = tuple(to_parameter(*item) for item in args["parameterValues"])
                return m.SetParameterValues(
                    params, parameter_key=args.get("parameterKey", self.parameter_key)
                )
            case "refreshObject":
                return m.GetParameterNames(args["objectName"], next_level=False)
            case "addObject":
                return m.AddObject(args["objectName"], parameter_key=self.parameter_key)
            case "deleteObject":
                return m.DeleteObject(args["objectName"], parameter_key=self.parameter_key)
            case "reboot":
                return m.Reboot(command_key=key)
            case "factoryReset":
                return m.FactoryReset()
            case "download":
                return m.Download(
                    command_key=key,
                    file_type=args["fileType"],
                    url=self.transfer_url,
                    file_size=self.file_size,
                    target_file_name=args.get("targetFileName", ""),
                )
            case "upload":
                return m.Upload(command_key=key, file_type=args["fileType"], url=self.transfer_url)
            case "scheduleInform":
                return m.ScheduleInform(int(args["delaySeconds"]), command_key=key)
        raise ValueError(f"no plan for task {task.name!r}")  # validated at queueing

    def answer(self, request: m.Message, response: m.Message) -> Step:
        if isinstance(response, m.CwmpFault):
            detail = ", ".join(
                f"{f.parameter_name}: {f.fault_code}" for f in response.set_parameter_values_faults
            )
            text = response.fault_string + (f" ({detail})" if detail else "")
            return Faulted(response.fault_code, text)
        match response:
            case m.GetParameterValuesResponse(parameters=params) if self.refreshing:
                self.read_values.extend(params)
                return self._next_batch()
            case m.GetParameterValuesResponse(parameters=params):
                return Done({"parameterValues": values_json(params)})
            case m.GetParameterNamesResponse(parameters=infos):
                self.pending_names = [i.name for i in infos if not i.name.endswith(".")]
                if not self.pending_names:
                    return Done({"parameterValues": []})
                return self._next_batch()
            case m.SetParameterValuesResponse(status=status):
                return Done({"status": status})
            case m.AddObjectResponse(instance_number=number, status=status):
                return Done({"instanceNumber": number, "status": status})
            case m.DeleteObjectResponse(status=status):
                return Done({"status": status})
            case m.RebootResponse() | m.FactoryResetResponse() | m.ScheduleInformResponse():
                return Done({})
            case m.DownloadResponse(status=status) | m.UploadResponse(status=status):
                result = {"fileName": self.file_name, "status": status}
                return Done(result) if status == 0 else Waiting(result)
        return Faulted(None, f"unexpected {response.method} in answer to {request.method}")

    def request_for(self, method: str) -> m.Message:
        """The pending RPC of a resumed session, rebuilt from the task (never stored).

        A resumed plan uses the request only for its method (metrics, error text), so
        a refresh's batch is rebuilt without its names and a transfer without its URL.
        """
        first = self.first()
        if first.method == method:
            return first
        if method == "GetParameterValues" and self.refreshing:
            return m.GetParameterValues(())
        raise ValueError(f"task {self.task.name!r} sends no {method}")

    @property
    def refreshing(self) -> bool:
        return self.task.name == "refreshObject"

    def _next_batch(self) -> Step:
        if not self.pending_names:
            return Done({"parameterValues": values_json(tuple(self.read_values))})
        batch, self.pending_names = self.pending_names[:GPV_BATCH], self.pending_names[GPV_BATCH:]
        return m.GetParameterValues(tuple(batch))
