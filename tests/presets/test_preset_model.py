"""Preset documents and the pure rules: conditions, precedence, once per revision."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from traceacs.presets.model import DeviceFacts, Preset, PresetError, parse_preset, plan

FACTS = DeviceFacts("00D09E", "HG8245H", "3.2.1", ("2 PERIODIC",), frozenset({"vip"}))
INTERVAL = "Device.ManagementServer.PeriodicInformInterval"
NTP = "Device.Time.NTPServer1"


def preset(name: str, weight: int = 0, **body: Any) -> Preset:
    return parse_preset(name, {"weight": weight, **body})


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("bad name", {"tasks": [{"name": "reboot"}]}, "name must be"),
        ("p", {}, "needs parameterValues and/or tasks"),
        ("p", {"tasks": [{"name": "explode"}]}, "unknown task"),
        ("p", {"tasks": "reboot"}, "tasks must be a list"),
        ("p", {"parameterValues": [["Device.X", "maybe", "xsd:boolean"]]}, "not a valid boolean"),
        ("p", {"parameterValues": [[NTP, "a"], [NTP, "b"]]}, "set twice"),
        ("p", {"weight": "high", "tasks": [{"name": "reboot"}]}, "weight"),
        ("p", {"condition": {"colour": "red"}, "tasks": [{"name": "reboot"}]}, "colour"),
        ("p", {"condition": {"tag": "a b"}, "tasks": [{"name": "reboot"}]}, "tag must be"),
        ("p", {"condition": {"model": ""}, "tasks": [{"name": "reboot"}]}, "non-empty"),
        ("p", {"name": "q", "tasks": [{"name": "reboot"}]}, "differs"),
        ("p", {"actions": [], "tasks": [{"name": "reboot"}]}, "unknown preset field"),
    ],
)
def test_bad_documents_are_refused_with_the_reason(
    name: str, body: dict[str, Any], message: str
) -> None:
    with pytest.raises(PresetError, match=message):
        parse_preset(name, body)


def test_conditions_all_must_hold() -> None:
    def matches(**condition: str) -> bool:
        return preset("p", condition=condition, tasks=[{"name": "reboot"}]).condition.matches(FACTS)

    assert matches()
    assert matches(model="HG8245H", oui="00d09e", firmware="3.2.1", tag="vip")
    assert matches(event="2 PERIODIC")
    assert not matches(model="HG8245H", tag="other")
    assert not matches(firmware="3.2.2")
    assert not matches(event="1 BOOT")


def test_higher_weight_wins_a_parameter_and_each_revision_applies_once() -> None:
    low = preset("low", 1, parameterValues=[[INTERVAL, 600], [NTP, "ntp.example"]])
    high = preset("high", 10, condition={"tag": "vip"}, parameterValues=[[INTERVAL, 900]])
    other = preset("other", 99, condition={"model": "X"}, parameterValues=[[INTERVAL, 1]])

    first = {a.preset.name: a for a in plan([low, high, other], FACTS, {})}
    assert list(first) == ["high", "low"]  # precedence order; "other" does not match
    assert first["high"].parameter_values == ((INTERVAL, 900, "unsignedInt"),)
    assert first["low"].parameter_values == ((NTP, "ntp.example", "string"),)
    assert first["low"].overridden == (INTERVAL,)

    applied = {"low": 1, "high": 1}
    assert plan([low, high], FACTS, applied) == []  # nothing re-pushed
    changed = replace(low, revision=2)
    (again,) = plan([changed, high], FACTS, applied)
    assert again.preset.name == "low"
    assert again.parameter_values == ((NTP, "ntp.example", "string"),)  # still loses INTERVAL

    tie_a = preset("a", 5, parameterValues=[[NTP, "a"]])
    tie_b = preset("b", 5, parameterValues=[[NTP, "b"]])
    winners = {a.preset.name: a.parameter_values for a in plan([tie_b, tie_a], FACTS, {})}
    assert winners == {"a": ((NTP, "a", "string"),), "b": ()}


def test_an_event_preset_applies_at_every_such_event() -> None:
    at_boot = preset("boot", condition={"event": "1 BOOT"}, tasks=[{"name": "reboot"}])
    boot = replace(FACTS, event_codes=("1 BOOT",))
    assert [a.preset.name for a in plan([at_boot], boot, {"boot": 1})] == ["boot"]
    assert plan([at_boot], FACTS, {}) == []
