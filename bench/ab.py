"""A/B: the ACS of another git revision against the working tree, in the same run.

    python -m bench.ab periodic|bootstrap --base REV [--new REV] [--rounds 2] [options]
    python -m bench.ab periodic --base REV --new REV --base-telemetry off --telemetry default

The second form measures what telemetry costs, robustly on a loaded host: the same
revision with telemetry off and on, alternately, instead of `bench.run telemetry`'s
one measurement of each mode after the other.

What one optimisation bought, measured honestly on a shared machine: the two ACS
versions are measured alternately (base, new, base, new, ...) with the same load
generator, fleet and telemetry, so background load hits both alike. ``REV`` is
extracted with ``git archive`` into a temporary directory; the ACS child process runs
from there (``PYTHONPATH``), everything else from the working tree. Reports each
side's median sessions/s and server CPU-µs per session, and new/base ratios;
appends the result to ``bench/results/ab.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, publish
from bench.run import Bench, add_arguments

TELEMETRY = {"periodic": "default", "bootstrap": "full"}


def extract(revision: str, into: Path) -> str:
    """``revision``'s tree under ``into``; returns its short hash."""
    short = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", revision],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = into / "tree.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(REPO_ROOT), "archive", revision], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()
    return short


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "sessions_per_s": [r["sessions_per_s"] for r in runs],
        "server_cpu_us_per_session": [r["server_cpu_us_per_session"] for r in runs],
        "p99_ms": [r["p99_ms"] for r in runs],
        "median_sessions_per_s": statistics.median(r["sessions_per_s"] for r in runs),
        "median_cpu_us_per_session": statistics.median(
            r["server_cpu_us_per_session"] for r in runs
        ),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    bench = Bench(args)
    telemetry = args.telemetry or TELEMETRY[args.scenario]
    base_telemetry = args.base_telemetry or telemetry
    with tempfile.TemporaryDirectory(prefix="traceacs-ab-") as tmp:
        base_root = Path(tmp) / "base"
        base_root.mkdir()
        base_rev = extract(args.base, base_root)
        new_root, new_rev = REPO_ROOT, "working tree"
        if args.new:
            new_root = Path(tmp) / "new"
            new_root.mkdir()
            new_rev = extract(args.new, new_root)
        base: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        for _ in range(args.rounds):
            bench.progress(f"base {base_rev}")
            base.append(bench.acs(args.scenario, base_telemetry, base_root))
            bench.progress(f"new {new_rev}")
            new.append(bench.acs(args.scenario, telemetry, new_root))
    b, n = _summary(base), _summary(new)
    figures = {
        "base_revision": base_rev,
        "new_revision": new_rev,
        "telemetry": telemetry,
        "base_telemetry": base_telemetry,
        "base": b,
        "new": n,
        "ratios": {
            "throughput_new_over_base": round(
                n["median_sessions_per_s"] / b["median_sessions_per_s"], 3
            ),
            "cpu_per_session_base_over_new": round(
                b["median_cpu_us_per_session"] / n["median_cpu_us_per_session"], 3
            ),
        },
        "note": args.note,
    }
    parameters = {**bench.parameters(), "rounds": args.rounds, "sequence": args.scenario}
    return publish("ab", parameters, figures, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    add_arguments(parser)
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--new", default=None, help="git revision measured as new (tree)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations (2)")
    parser.add_argument("--note", default="", help="what changed (kept in the result)")
    modes = ("off", "default", "full")
    parser.add_argument(
        "--telemetry",
        choices=modes,
        help="telemetry of both sides (periodic: default, bootstrap: full)",
    )
    parser.add_argument("--base-telemetry", choices=modes, help="the base side's, if other")
    args = parser.parse_args(argv)
    if args.scenario not in TELEMETRY:
        parser.error("A/B runs periodic or bootstrap")
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
