"""A task as JSON for operators (API and CLI), secret values masked.

A task may carry a Wi-Fi key or a password to set, or read one back; the store keeps
it (the CPE needs it), but it never leaves the ACS again: values of parameters whose
names say secret are shown as ``"[REDACTED]"``.
"""

from __future__ import annotations

from typing import Any

from traceacs.tasks.model import Task
from traceacs.telemetry.redaction import REDACTED, is_secret_parameter


def _masked(items: Any) -> Any:
    if not isinstance(items, list):
        return items
    out = []
    for item in items:
        if isinstance(item, list) and len(item) >= 2 and is_secret_parameter(str(item[0])):
            item = [item[0], REDACTED, *item[2:]]
        out.append(item)
    return out


def task_view(task: Task) -> dict[str, Any]:
    view = task.to_json()
    for part in ("arguments", "result"):
        if "parameterValues" in view[part]:
            view[part]["parameterValues"] = _masked(view[part]["parameterValues"])
    return view
