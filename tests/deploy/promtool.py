"""Finding promtool: skip locally when it is missing, fail in CI (CI=true) instead."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))


def promtool() -> str:
    path = shutil.which("promtool")
    if path is not None:
        return path
    hint = "promtool not installed: run deploy/prometheus/ensure-promtool.sh"
    if os.environ.get("CI") == "true":
        pytest.fail(hint)
    pytest.skip(hint)


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )
