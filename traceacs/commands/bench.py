"""``traceacs bench SCENARIO``: the load benchmarks of issue 8, from a source checkout.

The benchmarks live in the repository's ``bench/`` folder (they need the floor, the
load generator and ``taskset``, none of which belong in the installed package), so this
command only finds that folder next to the package and runs ``python -m bench.run``
there with the same arguments.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

SCENARIOS = ("periodic", "bootstrap", "floor", "telemetry")


def bench_root() -> Path | None:
    """The source checkout holding ``bench/run.py``, or None for an installed package."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "bench" / "run.py").is_file() else None


def add_bench_command(commands: Any) -> None:
    parser = commands.add_parser(
        "bench",
        help="run a load benchmark (source checkout only)",
        description="Run one load benchmark of issue 8 (ACS pinned to one core, load "
        "generator to another) and append its JSON result to bench/results/. "
        "Options after SCENARIO are those of `python -m bench.run --help`.",
    )
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options of bench.run")
    parser.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    root = bench_root()
    if root is None:
        print("traceacs bench: run it from a source checkout (bench/ not found)", file=sys.stderr)
        return 2
    argv = [sys.executable, "-m", "bench.run", args.scenario, *args.options]
    return subprocess.run(argv, cwd=root, check=False).returncode  # noqa: S603
