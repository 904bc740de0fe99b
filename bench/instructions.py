"""A CWMP session's cost to the ACS in CPU instructions, counted under valgrind.

    python -m bench.instructions [--base REV] [--new REV] [--sequences periodic bootstrap]
                                 [--through handler|endpoint] [--check-noise] [--no-record]

On this shared 2-core host an A/B in CPU time cannot resolve a change below ~5 %;
an instruction count can (a run of the same code repeats to ~0.1 %). Each revision's
ACS is driven by `bench.session_core`'s in-process driver (the handler chain
``traceacs serve`` builds, its SQLite store and thread, the codec, the session log
line; telemetry off) in a child process under ``valgrind --tool=cachegrind
--cache-sim=no`` (the cheapest tool that counts every instruction executed, all
threads), once with N1 and once with N2 sessions of a sequence, everything else
identical. Instructions per session = (I(N2) - I(N1)) / (N2 - N1): the start-up
(interpreter, imports, store creation, the learning bootstrap of every device, a
warm-up of the sequence) is the same in both runs and cancels out.

``--base REV`` / ``--new REV`` (default new: the working tree) are extracted with
``git archive`` and driven by this tree's ``bench/`` (`bench.session_core.revision_tree`).
The child runs with ``PYTHONHASHSEED=0``; each tree is run once natively first (no
counted run compiles ``.pyc`` files), the heap is settled before the counted sessions
as ``traceacs serve`` settles it, and the wall-clock batching intervals are stretched by
valgrind's slowdown (`scale_clocks`). ``--check-noise`` runs the first side twice and
reports the spread of its per-session figure (0.2-0.5 % here).

What it does not see: kernel time (system calls, page faults), I/O and waiting, cache
misses and branch mispredictions (an instruction is an instruction), the HTTP server
(`bench.http_path` runs real sockets to a server process, not an in-process endpoint,
so it is left out), and telemetry. The CWMP endpoint itself is left out too unless
``--through endpoint`` (`bench.endpoint_core`: every POST through a `CwmpEndpoint`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, RESULTS_DIR, record, stamp

SCENARIO = "instructions"
SEQUENCES = ("periodic", "bootstrap")
DEFAULT_SESSIONS = {"periodic": (300, 1300), "bootstrap": (100, 700)}
VALGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--branch-sim=no")


# --------------------------------------------------------------------------- child


async def _drive_only(driver: Any, sequence: str, args: argparse.Namespace) -> dict[str, Any]:
    """A warm-up as `bench.session_core.measure_sequence` does, the heap settled as
    ``traceacs serve`` settles it before serving, then ``args.sessions`` sessions and
    nothing else (no codec baseline, no clock). ``--through endpoint``: every POST
    through the CWMP endpoint (`bench.endpoint_core`), not the handler alone."""
    if args.through == "endpoint":
        from bench.endpoint_core import EndpointDriver

        driver = EndpointDriver(driver)
    warmup = min(args.warmup, len(driver.devices))
    await driver.run(sequence, warmup, args.concurrency)
    settled = settle_heap()
    rpcs = await driver.run(sequence, args.sessions, args.concurrency)
    return {"sessions": args.sessions, "warmup": warmup, "rpcs": rpcs, "heap_settled": settled}


def settle_heap() -> bool:
    """`traceacs.app.settle_heap` (``gc.collect``, ``gc.freeze``) when the revision has
    it, as ``traceacs serve`` does: without it a full collection walks the start-up
    heap, and whether one falls among the counted sessions moves the count by ~1 %."""
    try:
        from traceacs.app import settle_heap as settle
    except ImportError:
        return False
    settle()
    return True


CLOCK_CONSTANTS = ("INFORM_WRITE_BEHIND_SECONDS", "PROFILE_CACHE_SECONDS")
"""`traceacs.assembly`'s wall-clock intervals that decide how often work is redone."""


def scale_clocks(factor: float) -> None:
    """Wall-clock intervals that decide how work is batched or redone, stretched by
    ``factor`` (valgrind's slowdown): the Inform write-behind (one transaction per
    50 ms), the profile cache's lifetime (1 s) and the GIL switch interval. Unscaled,
    a valgrind run flushes per ~10 sessions instead of per few hundred and re-reads
    the profiles ~50 times as often per session, and how often depends on the host's
    load: the count then moves between runs of the same code."""
    import traceacs.assembly as assembly

    for name in CLOCK_CONSTANTS:  # a bench reaching in
        if hasattr(assembly, name):
            setattr(assembly, name, getattr(assembly, name) * factor)
    sys.setswitchinterval(sys.getswitchinterval() * factor)


def child(args: argparse.Namespace) -> None:
    """Runs inside valgrind: the ACS of the tree on ``PYTHONPATH``, one sequence."""
    import asyncio

    import traceacs
    from bench.session_core import measure

    args.sequences = [args.sequence]
    args.pin = None
    args.telemetry = "off"
    scale_clocks(args.time_scale)
    with tempfile.TemporaryDirectory(prefix="traceacs-instructions-") as tmp:
        try:
            import uvloop
        except ImportError:  # pragma: no cover
            figures = asyncio.run(measure(args, Path(tmp), _drive_only))
        else:
            figures = uvloop.run(measure(args, Path(tmp), _drive_only))
    figures["traceacs_file"] = traceacs.__file__
    print(json.dumps(figures))


# --------------------------------------------------------------------------- parent


def valgrind_version() -> str | None:
    try:
        out = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def child_argv(sequence: str, sessions: int, devices: int, args: argparse.Namespace) -> list[str]:
    argv = [sys.executable, "-m", "bench.instructions", "--child", sequence]
    argv += ["--sessions", str(sessions), "--devices", str(devices)]
    argv += ["--warmup", str(args.warmup), "--concurrency", str(min(args.concurrency, devices))]
    argv += ["--seed", str(args.seed), "--time-scale", str(args.time_scale)]
    argv += ["--through", args.through]
    return argv


def environment(tree: Path) -> dict[str, str]:
    from bench.session_core import child_env

    env = child_env(tree)
    env["PYTHONHASHSEED"] = "0"
    return env


def prime(tree: Path, args: argparse.Namespace) -> None:
    """A tiny child run of ``tree`` outside valgrind, so that every module it imports
    is compiled to ``__pycache__`` before any counted run: otherwise the first counted
    run of a tree compiles them (an extracted revision: all of ``traceacs``) and its
    count, the N1 run's, is inflated by hundreds of millions of instructions."""
    for sequence in args.sequences:
        argv = child_argv(sequence, 1, 2, args)
        subprocess.run(argv, cwd=tree, env=environment(tree), capture_output=True, check=True)


def count(tree: Path, sequence: str, sessions: int, args: argparse.Namespace) -> dict[str, Any]:
    """Instructions of one child run of ``sequence`` with ``sessions`` sessions."""
    with tempfile.TemporaryDirectory(prefix="traceacs-cachegrind-") as tmp:
        out_file = Path(tmp) / "cachegrind.out"
        argv = [*VALGRIND, f"--cachegrind-out-file={out_file}"]
        argv += child_argv(sequence, sessions, args.devices, args)
        env = environment(tree)
        started = time.monotonic()
        done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True)
        wall = time.monotonic() - started
        if done.returncode != 0:
            raise RuntimeError(f"child failed ({done.returncode}):\n{done.stderr[-4000:]}")
        summary = re.search(r"^summary:\s+(\d+)", out_file.read_text(), re.MULTILINE)
        if summary is None:
            raise RuntimeError(f"no summary line in {out_file}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(figures["traceacs_file"]).is_relative_to(tree):
        raise RuntimeError(f"child imported {figures['traceacs_file']}, not from {tree}")
    if figures["errors"]:
        raise RuntimeError(f"sessions went wrong: {figures['errors']}")
    return {"instructions": int(summary.group(1)), "wall_s": round(wall, 1), **figures}


def per_session(tree: Path, sequence: str, args: argparse.Namespace) -> dict[str, Any]:
    """(I(N2) - I(N1)) / (N2 - N1) for ``sequence`` run by the ACS in ``tree``."""
    n1, n2 = getattr(args, sequence)
    small = count(tree, sequence, n1, args)
    large = count(tree, sequence, n2, args)
    per = (large["instructions"] - small["instructions"]) / (n2 - n1)
    return {
        "instructions_per_session": round(per),
        "instructions_n1": small["instructions"],
        "instructions_n2": large["instructions"],
        "startup_instructions": round(small["instructions"] - n1 * per),
        "session_log_lines": [small["session_log_lines"], large["session_log_lines"]],
        "heap_settled": small[sequence]["heap_settled"],
        "attempts_by_result": [small["attempts_by_result"], large["attempts_by_result"]],
        "wall_s": [small["wall_s"], large["wall_s"]],
    }


@contextlib.contextmanager
def source_tree(revision: str | None) -> Iterator[tuple[str, Path]]:
    """(label, tree): the working tree for ``None``, else the revision extracted."""
    if revision is None:
        from bench.common import git_revision

        yield git_revision(), REPO_ROOT
        return
    from bench.session_core import revision_tree

    with tempfile.TemporaryDirectory(prefix="traceacs-instructions-tree-") as tmp:
        yield revision_tree(revision, Path(tmp)), Path(tmp)


def run(args: argparse.Namespace) -> dict[str, Any]:
    version = valgrind_version()
    if version is None:
        raise SystemExit("valgrind is not installed")
    started = time.monotonic()
    sides = [("base", args.base)] if args.base else []
    sides.append(("new", args.new))
    figures: dict[str, Any] = {"valgrind": version}
    with contextlib.ExitStack() as stack:
        trees = {side: stack.enter_context(source_tree(rev)) for side, rev in sides}
        for _, tree in trees.values():
            prime(tree, args)
        for side, (label, tree) in trees.items():
            figures[side] = {"revision": label}
            for sequence in args.sequences:
                figures[side][sequence] = per_session(tree, sequence, args)
                print(f"{side} {label} {sequence}: {figures[side][sequence]}", file=sys.stderr)
        if args.check_noise:
            side = sides[0][0]
            label, tree = trees[side]
            noise: dict[str, Any] = {"side": side}
            for sequence in args.sequences:
                again = per_session(tree, sequence, args)
                first = figures[side][sequence]["instructions_per_session"]
                second = again["instructions_per_session"]
                noise[sequence] = {
                    "instructions_per_session": [first, second],
                    "spread": round(abs(second - first) / ((first + second) / 2), 5),
                }
            figures["noise"] = noise
    if args.base:
        figures["new_over_base"] = {
            sequence: round(
                figures["new"][sequence]["instructions_per_session"]
                / figures["base"][sequence]["instructions_per_session"],
                4,
            )
            for sequence in args.sequences
        }
    figures["wall_s"] = round(time.monotonic() - started, 1)
    parameters = {k: v for k, v in vars(args).items() if k not in ("results_dir", "no_record")}
    return stamp(SCENARIO, parameters, figures)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--base", default=None, metavar="REV", help="the revision compared")
    parser.add_argument(
        "--new", default=None, metavar="REV", help="the other revision (default: working tree)"
    )
    parser.add_argument("--sequences", nargs="+", choices=SEQUENCES, default=list(SEQUENCES))
    for sequence, (n1, n2) in DEFAULT_SESSIONS.items():
        parser.add_argument(
            f"--{sequence}",
            nargs=2,
            type=int,
            default=[n1, n2],
            metavar=("N1", "N2"),
            help=f"{sequence} sessions of the two runs (default {n1} {n2})",
        )
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=200, help="sessions before the counted ones")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=50.0,
        help="stretch the write-behind and GIL switch intervals by this (valgrind's slowdown)",
    )
    parser.add_argument(
        "--through",
        choices=("handler", "endpoint"),
        default="handler",
        help="drive the session handler as the endpoint would (default), or every POST "
        "through the CWMP endpoint itself (bench.endpoint_core; no HTTP server either way)",
    )
    parser.add_argument(
        "--check-noise", action="store_true", help="run the first side twice, report the spread"
    )
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--note", default="", help="what this run measures (recorded)")
    parser.add_argument("--child", choices=SEQUENCES, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--sessions", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for sequence in SEQUENCES:
        n1, n2 = getattr(args, sequence)
        if not 0 <= n1 < n2:
            parser.error(f"--{sequence}: need 0 <= N1 < N2")
    args.concurrency = min(args.concurrency, args.devices)  # a device is in one session at once
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        args.sequence = args.child
        child(args)
        return 0
    result = run(args)
    if not args.no_record:
        record(result, args.results_dir or RESULTS_DIR)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
