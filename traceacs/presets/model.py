"""Presets as plain data, and the pure rules of applying them.

A preset has a name, a ``weight`` (precedence: the higher wins), a condition (any of
model, OUI, firmware version, tag, Inform event code; all given must hold) and an
action: parameter values to set and/or tasks to run (GenieACS task bodies). When two
matching presets set the same parameter, the higher weight wins (equal weights: the
name that sorts first). A preset is applied to a device once per ``revision`` (the
revision goes up whenever its condition or action changes), so periodic informs do
not push it again; a preset conditioned on an event code applies at every such event
(e.g. "at each 1 BOOT, set ...").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from traceacs.tasks.model import TaskError, validate_task

NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
"""Preset names and tags: 1-64 characters, no spaces, safe in a URL path."""
CONDITION_KEYS: Final = ("model", "oui", "firmware", "tag", "event")
MAX_TASKS: Final = 20
MAX_WEIGHT: Final = 1_000_000


class PresetError(ValueError):
    """A preset (or tag) that cannot be stored; the message says what is wrong."""


def check_name(value: object, what: str = "name") -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise PresetError(
            f"{what} must be 1-64 letters, digits or . _ : - (starting with a letter or digit)"
        )
    return value


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What a condition is checked against: the Inform and the device's tags."""

    oui: str
    model: str
    firmware: str | None
    event_codes: tuple[str, ...]
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PresetCondition:
    model: str | None = None
    oui: str | None = None
    firmware: str | None = None
    tag: str | None = None
    event: str | None = None

    def matches(self, facts: DeviceFacts) -> bool:
        return (
            (self.model is None or self.model == facts.model)
            and (self.oui is None or self.oui.upper() == facts.oui.upper())
            and (self.firmware is None or self.firmware == facts.firmware)
            and (self.tag is None or self.tag in facts.tags)
            and (self.event is None or self.event in facts.event_codes)
        )

    def to_json(self) -> dict[str, str]:
        return {k: v for k in CONDITION_KEYS if (v := getattr(self, k)) is not None}


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    weight: int
    condition: PresetCondition
    parameter_values: tuple[tuple[str, Any, str], ...] = field(repr=False)
    tasks: tuple[Mapping[str, Any], ...] = field(repr=False)
    revision: int = 1
    created_at: float = 0.0
    updated_at: float = 0.0

    def action_json(self) -> dict[str, Any]:
        return {
            "parameterValues": [list(v) for v in self.parameter_values],
            "tasks": [dict(t) for t in self.tasks],
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weight": self.weight,
            "condition": self.condition.to_json(),
            **self.action_json(),
            "revision": self.revision,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def parse_preset(name: str, body: Mapping[str, Any]) -> Preset:
    """A preset from its JSON body (``weight``, ``condition``, ``parameterValues``,
    ``tasks``); `PresetError` says what is wrong. Revision and times are the store's."""
    check_name(name)
    unknown = set(body) - {"name", "weight", "condition", "parameterValues", "tasks"}
    if unknown:
        raise PresetError(f"unknown preset field(s): {', '.join(sorted(unknown))}")
    if "name" in body and body["name"] != name:
        raise PresetError("the body's name differs from the name in the path")
    weight = body.get("weight", 0)
    if not isinstance(weight, int) or isinstance(weight, bool) or abs(weight) > MAX_WEIGHT:
        raise PresetError(f"weight must be an integer from -{MAX_WEIGHT} to {MAX_WEIGHT}")
    condition = _condition(body.get("condition", {}))
    values: tuple[tuple[str, Any, str], ...] = ()
    raw_values = body.get("parameterValues")
    try:
        if raw_values:
            canonical = validate_task("setParameterValues", {"parameterValues": raw_values})
            values = tuple((n, v, t) for n, v, t in canonical["parameterValues"])
            if len({n for n, _, _ in values}) != len(values):
                raise PresetError("a parameter is set twice in one preset")
        tasks = tuple(_task(t) for t in _list(body.get("tasks", []), "tasks", MAX_TASKS))
    except TaskError as exc:
        raise PresetError(str(exc)) from None
    if not values and not tasks:
        raise PresetError("a preset needs parameterValues and/or tasks")
    return Preset(name, weight, condition, values, tasks)


def _list(value: object, what: str, most: int) -> list[Any]:
    if not isinstance(value, list) or len(value) > most:
        raise PresetError(f"{what} must be a list of at most {most} items")
    return value


def _condition(raw: object) -> PresetCondition:
    if not isinstance(raw, dict):
        raise PresetError("condition must be an object")
    unknown = set(raw) - set(CONDITION_KEYS)
    if unknown:
        raise PresetError(
            f"unknown condition key(s): {', '.join(sorted(unknown))};"
            f" one of: {', '.join(CONDITION_KEYS)}"
        )
    for key, value in raw.items():
        if not isinstance(value, str) or not value or len(value) > 256:
            raise PresetError(f"condition {key} must be a non-empty string")
    if "tag" in raw:
        check_name(raw["tag"], "tag")
    return PresetCondition(**raw)


def _task(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise PresetError('each task must be an object with a task "name"')
    arguments = {k: v for k, v in raw.items() if k != "name"}
    return {"name": raw["name"], **validate_task(raw["name"], arguments)}


# ------------------------------------------------------------------------- applying


@dataclass(frozen=True, slots=True)
class PresetApplication:
    """One preset to apply now: the values it wins, the tasks it brings."""

    preset: Preset
    parameter_values: tuple[tuple[str, Any, str], ...]
    overridden: tuple[str, ...]
    """Parameters it sets that a preset of higher precedence sets too (not pushed)."""


def precedence(presets: Iterable[Preset]) -> list[Preset]:
    """Highest weight first; equal weights by name."""
    return sorted(presets, key=lambda p: (-p.weight, p.name))


def plan(
    presets: Sequence[Preset], facts: DeviceFacts, applied: Mapping[str, int]
) -> list[PresetApplication]:
    """What to apply to a device now (``applied``: preset name -> revision it got)."""
    matching = precedence(p for p in presets if p.condition.matches(facts))
    winner: dict[str, str] = {}
    for preset in matching:
        for name, _, _ in preset.parameter_values:
            winner.setdefault(name, preset.name)
    out = []
    for preset in matching:
        if preset.condition.event is None and applied.get(preset.name) == preset.revision:
            continue
        wins = tuple(v for v in preset.parameter_values if winner[v[0]] == preset.name)
        lost = tuple(v[0] for v in preset.parameter_values if winner[v[0]] != preset.name)
        out.append(PresetApplication(preset, wins, lost))
    return out
