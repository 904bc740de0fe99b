"""Overload run (issue 9, item 3): twice the measured capacity, for minutes.

    python -m bench.overload [--factor 2] [--duration 300] [--max-sessions 128] ...

The ACS (`traceacs serve --max-sessions N`, default telemetry to the OTLP sink) runs
pinned to ``--server-core``; the open-loop generator (`bench.openloop`) and the sink to
``--client-core``. The generator measures the ACS's capacity (closed loop), then offers
``factor`` times that rate, open loop, for ``duration`` seconds, and reports per window
what was admitted (and its latency), what got 503 + Retry-After, and the ACS's RSS.
This module adds what only the parent sees: whether the ACS process survived, its
log's size and tracebacks, and the machine's load average, then appends the result to
``bench/results/overload.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, RESULTS_DIR, publish
from bench.run import telemetry_env
from bench.servers import acs_server, attempt_results, floor_server, pinned, prepare_store


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__)
    parser.add_argument("--devices", type=int, default=3000)
    parser.add_argument("--max-sessions", type=int, default=128, help="ACS --max-sessions")
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop capacity run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--capacity-seconds", type=float, default=15.0)
    parser.add_argument(
        "--capacity-min-sessions",
        type=int,
        default=0,
        help="the capacity window also lasts until N sessions completed in it (0)",
    )
    parser.add_argument("--factor", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=300.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--probe", type=int, default=20)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--keep-log", type=Path, default=None, help="copy the ACS log here")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def generator_argv(args: argparse.Namespace, port: int, pid: int) -> list[str]:
    argv = [sys.executable, "-m", "bench.openloop", "--port", str(port), "--server-pid", str(pid)]
    for name in (
        "devices",
        "concurrency",
        "warmup",
        "capacity_seconds",
        "capacity_min_sessions",
        "factor",
        "duration",
        "window",
        "timeout",
        "probe",
        "seed",
    ):
        argv += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return argv


def log_facts(log_path: Path) -> dict[str, Any]:
    text = log_path.read_bytes()
    return {
        "bytes": len(text),
        "lines": text.count(b"\n"),
        "tracebacks": text.count(b"Traceback"),
        "errors": text.count(b" ERROR "),
        "refusal_lines": text.count(b"with 503"),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    loadavg_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="traceacs-overload-") as tmp:
        data_dir = Path(tmp)
        prepare_store(data_dir, args.devices, args.seed)
        with floor_server("sink", args.client_core) as sink:
            env = telemetry_env("default", sink.port)
            extra = ["--max-sessions", str(args.max_sessions)]
            with acs_server(data_dir, env, args.server_core, extra_args=extra) as server:
                if not args.quiet:
                    print(f"ACS pid {server.pid} on port {server.port}", file=sys.stderr)
                out = subprocess.run(
                    pinned(args.client_core, generator_argv(args, server.port, server.pid)),
                    capture_output=True,
                    check=False,
                    cwd=REPO_ROOT,
                )
                alive = server.process.poll() is None
                if out.returncode != 0:
                    raise RuntimeError(f"generator failed:\n{out.stderr.decode()[-3000:]}")
                figures: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
            figures["acs_alive_after"] = alive
            figures["acs_exit_code"] = server.process.returncode
            assert server.log_path is not None
            figures["acs_log"] = log_facts(server.log_path)
            if args.keep_log is not None:
                shutil.copyfile(server.log_path, args.keep_log)
        figures["attempts_by_result"] = attempt_results(data_dir)
    figures["loadavg_before"] = loadavg_before
    figures["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    parameters = {
        k: getattr(args, k)
        for k in (
            "devices",
            "max_sessions",
            "concurrency",
            "capacity_seconds",
            "capacity_min_sessions",
            "factor",
            "duration",
            "window",
            "timeout",
            "seed",
            "server_core",
            "client_core",
        )
    }
    parameters["sequence"] = "periodic, new TCP connection per session"
    parameters["telemetry"] = "default (OTLP/HTTP to the sink)"
    return publish("overload", parameters, figures, args)


def main(argv: list[str] | None = None) -> int:
    print(json.dumps(run(parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
