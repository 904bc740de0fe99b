"""What every benchmark result carries: machine facts, versions, git revision, stats.

A figure means nothing without the box it was measured on, so each JSON result is
stamped here, and appended (one line per run) to ``bench/results/<scenario>.jsonl``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
PACKAGES = ("traceacs", "aiohttp", "lxml", "uvloop", "httptools", "opentelemetry-sdk", "aiosqlite")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 1]); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out + ("-dirty" if dirty else "")


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def stamp(scenario: str, parameters: dict[str, Any], figures: dict[str, Any]) -> dict[str, Any]:
    """The full result record of one run."""
    return {
        "scenario": scenario,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git_revision(),
        "machine": machine(),
        "versions": versions(),
        "parameters": parameters,
        **figures,
    }


def record(result: dict[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    """Append ``result`` as one JSON line to ``<results_dir>/<scenario>.jsonl``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result['scenario']}.jsonl"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(result, sort_keys=False) + "\n")
    return path


def publish(
    scenario: str, parameters: dict[str, Any], figures: dict[str, Any], args: Any
) -> dict[str, Any]:
    """Stamp a run's figures and append them to its results file unless ``--no-record``.

    ``args`` are the bench's parsed options: ``no_record`` and ``results_dir``.
    """
    result = stamp(scenario, parameters, figures)
    if not args.no_record:
        record(result, args.results_dir)
    return result


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads) from ``/proc/<pid>/stat``."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")
