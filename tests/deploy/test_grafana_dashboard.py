"""The Grafana dashboard: valid JSON, the panels the issue asks for, valid PromQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.promtool import DEPLOY, RULE_FILES, run
from tests.telemetry.prometheus_names import known_names

DASHBOARD = DEPLOY / "grafana" / "traceacs-dashboard.json"
_NAME = re.compile(r"\b((?:cpe|cwmp)_[a-z0-9_]+|traceacs:[a-z0-9_:]+)")


def _exprs() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def test_dashboard_has_the_required_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("attempts", "failure rate by result", "p95", "step", "capacity", "mismatch"):
        assert topic in titles, topic
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_queries_use_real_series() -> None:
    recorded = {
        rule["record"]
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    known = known_names(recorded)
    for expr in _exprs():
        for name in _NAME.findall(expr):
            assert name in known, (name, expr)


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(_exprs())],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = run("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
