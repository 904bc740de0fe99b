"""`traceacs demo`: the ACS on its embedded defaults with a simulated fleet (`make demo`)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

Commands = Any


def add_demo_command(commands: Commands) -> None:
    from traceacs.demo import DEFAULT_FAILURES, DemoOptions

    defaults = DemoOptions()
    parser = commands.add_parser(
        "demo",
        help="the ACS with a simulated fleet of CPEs (what `make demo` does)",
        description="Generate an inventory and service profiles, import them, start the ACS "
        "on 127.0.0.1, boot a simulated fleet with a mix of failures, and show why the "
        "failed devices failed. The demo's data directory is wiped at start.",
    )
    parser.add_argument("--data-dir", type=Path, default=defaults.data_dir)
    parser.add_argument("--cpes", type=int, default=defaults.cpes, metavar="N")
    parser.add_argument("--fail", default=DEFAULT_FAILURES, metavar="SPEC")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--cwmp-port", type=int, default=defaults.cwmp_port)
    parser.add_argument("--sessions", type=int, default=defaults.sessions_per_cpe)
    parser.add_argument("--ramp", type=float, default=defaults.ramp_seconds, metavar="SECONDS")
    parser.add_argument(
        "--periodic-interval", type=float, default=defaults.periodic_interval, metavar="SECONDS"
    )
    parser.add_argument(
        "--exit", action="store_true", help="stop once the fleet is done (default: Ctrl-C)"
    )
    parser.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    import logging

    from traceacs.demo import DemoOptions, run_demo

    logging.basicConfig(level=logging.WARNING)
    options = DemoOptions(
        data_dir=args.data_dir,
        cpes=args.cpes,
        failures=args.fail,
        seed=args.seed,
        cwmp_port=args.cwmp_port,
        sessions_per_cpe=args.sessions,
        ramp_seconds=args.ramp,
        periodic_interval=args.periodic_interval,
        exit_when_done=args.exit,
    )
    return asyncio.run(run_demo(options))
