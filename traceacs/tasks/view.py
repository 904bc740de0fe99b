"""A task as JSON for operators (API and CLI), secret values masked.

A task may carry a Wi-Fi key or a password to set, or read one back; the store keeps
it (the CPE needs it), but it never leaves the ACS again: values of parameters whose
names say secret are shown as ``"[REDACTED]"``. The same holds for presets.
"""

from __future__ import annotations

from typing import Any

from traceacs.presets.model import Preset
from traceacs.tasks.model import Task
from traceacs.telemetry.redaction import REDACTED, is_secret_parameter


def masked_values(items: Any) -> Any:
    """``[[name, value, type], ...]`` with the values of secret parameters masked."""
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
            view[part]["parameterValues"] = masked_values(view[part]["parameterValues"])
    return view


def preset_view(preset: Preset) -> dict[str, Any]:
    """A preset for operators: secret values it sets (its own or its tasks') masked."""
    view = preset.to_json()
    view["parameterValues"] = masked_values(view["parameterValues"])
    view["tasks"] = [
        {**t, "parameterValues": masked_values(t["parameterValues"])}
        if "parameterValues" in t
        else t
        for t in view["tasks"]
    ]
    return view
