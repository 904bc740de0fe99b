"""The alert and recording rules: valid, unit-tested, and written against real names."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.deploy.promtool import PROMETHEUS, RULE_FILES, run
from tests.telemetry.prometheus_names import known_names

SEED_ALERTS = {
    "CPEProvisioningFailureRateHigh",
    "CPEProvisioningSlow",
    "CPEConfigVerificationMismatch",
    "CPEProvisioningSessionsOverCapacity",
}
_NAME = re.compile(r"\b((?:cpe|cwmp)_[a-z0-9_]+|traceacs:[a-z0-9_:]+)")


def _rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(group["rules"])
    return rules


def test_promtool_check_rules() -> None:
    assert RULE_FILES
    result = run("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests() -> None:
    result = run("test", "rules", PROMETHEUS / "tests" / "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_seeds_four_alerts_exist() -> None:
    assert {r["alert"] for r in _rules() if "alert" in r} == SEED_ALERTS


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    spec = yaml.safe_load((PROMETHEUS / "tests" / "alerts_test.yml").read_text())
    firing: set[str] = set()
    silent: set[str] = set()
    for case in spec["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else silent).add(check["alertname"])
    assert firing == SEED_ALERTS
    assert silent == SEED_ALERTS


def test_rules_use_only_series_the_exporter_emits() -> None:
    """Guards against a renamed instrument or a guessed Prometheus suffix."""
    rules = _rules()
    recorded = {r["record"] for r in rules if "record" in r}
    known = known_names(recorded)
    for rule in rules:
        for name in _NAME.findall(rule["expr"]):
            assert name in known, (name, rule.get("alert") or rule["record"])
