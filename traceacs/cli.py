"""The `traceacs` command line: one sub-command per job an operator does.

Each sub-command is two functions: ``add_<name>_command(commands)`` declares it and
sets ``func`` to ``cmd_<name>(args) -> exit code``. Heavy imports stay inside the
``cmd_`` functions so that ``traceacs --help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from traceacs import __version__
from traceacs.commands.audit import add_audit_command
from traceacs.commands.bench import add_bench_command
from traceacs.commands.db import add_db_command
from traceacs.commands.demo import add_demo_command
from traceacs.commands.devices import add_devices_command
from traceacs.commands.files import add_files_command
from traceacs.commands.output import EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from traceacs.commands.presets import add_presets_command
from traceacs.commands.profiles import add_profiles_command
from traceacs.commands.tasks import add_tasks_command
from traceacs.commands.tokens import add_tokens_command
from traceacs.commands.trace import add_trace_command

Commands = Any  # argparse's _SubParsersAction is private


SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Run the ACS", ("serve", "demo", "simulate")),
    ("Find why a device failed", ("devices show", "trace")),
    ("Inventory, configuration and tasks", ("devices", "profiles", "presets", "tasks", "files")),
    ("Access and audit", ("tokens", "audit")),
    ("Maintenance", ("db", "bench")),
)
"""``traceacs --help``'s table of contents: every command, grouped by the job it does."""

EPILOG = f"""Every command has its own --help with examples; listing and show commands take
--json (stdout is then JSON only), and progress bars appear on a terminal only.
The REST API is documented at GET /api/openapi.json; the web console is at /.

{EXIT_CODES_HELP}"""


def _summaries(commands: Commands) -> dict[str, str]:
    """Each command's one-line help; a group's actions as ``import | list | ...``."""
    out: dict[str, str] = {}
    for action in commands._choices_actions:
        out[action.dest] = action.help or ""
        parser = commands.choices[action.dest]
        for group in parser._subparsers._group_actions if parser._subparsers else ():
            names = list(group.choices or ())
            if names:
                out[action.dest] = " | ".join(names)
            for sub in group._choices_actions:
                out[f"{action.dest} {sub.dest}"] = sub.help or ""
    return out


def table_of_contents(commands: Commands) -> str:
    summaries = _summaries(commands)
    lines = []
    for title, names in SECTIONS:
        lines.append(f"{title}:")
        for name in names:
            label = f"{name} SERIAL" if name in ("devices show", "trace") else name
            lines.append(f"  {label:<21} {summaries[name]}")
        lines.append("")
    return "\n".join(lines).rstrip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="traceacs",
        usage="traceacs [-h] [--version] COMMAND ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"traceacs {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", help=argparse.SUPPRESS)
    add_serve_command(commands)
    add_simulate_command(commands)
    add_devices_command(commands)
    add_profiles_command(commands)
    add_files_command(commands)
    add_tokens_command(commands)
    add_audit_command(commands)
    add_tasks_command(commands)
    add_presets_command(commands)
    add_db_command(commands)
    add_demo_command(commands)
    add_trace_command(commands)
    add_bench_command(commands)
    parser.description = (
        "TraceACS: a TR-069 / CWMP ACS with provisioning traced end to end.\n\n"
        + table_of_contents(commands)
    )
    return parser


# --------------------------------------------------------------------------- serve


def add_serve_command(commands: Commands) -> None:
    from traceacs.config import add_serve_arguments

    parser = commands.add_parser(
        "serve",
        help="run the ACS: CWMP endpoint, REST API and web console",
        description="Run the ACS. CPEs must authenticate (shared secret from the "
        "TRACEACS_CPE_SHARED_SECRET environment variable) unless "
        "--allow-unauthenticated-cpes is given.",
    )
    add_serve_arguments(parser)
    parser.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from traceacs.app import ConfigurationError, build_authenticator, run
    from traceacs.config import SettingsError, load_settings
    from traceacs.logs import configure_serve_logging

    configure_serve_logging(sys.stderr)  # INFO lines batched; flushed at exit
    try:
        settings = load_settings(args)
        build_authenticator(settings)  # refuse a server no CPE could log in to, now
    except (SettingsError, ConfigurationError) as exc:
        print(f"traceacs serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if settings.workers > 1:
        from traceacs.workers import run_workers, serve_argv

        return run_workers(settings, serve_argv())
    from traceacs.provisioning.repository import RepositoryError

    try:
        return run(settings)
    except OSError as exc:  # e.g. port in use, unreadable TLS key
        print(f"traceacs serve: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except RepositoryError as exc:  # e.g. database unreachable, secret key missing
        print(f"traceacs serve: {exc}", file=sys.stderr)
        return EXIT_FAILED


# --------------------------------------------------------------------------- simulate


def add_simulate_command(commands: Commands) -> None:
    parser = commands.add_parser(
        "simulate",
        help="run a simulated CPE fleet against an ACS",
        description="Run simulated CPEs that speak CWMP over HTTP, with failure injection. "
        "With --inventory-out, write the fleet's inventory CSV and profiles.yaml and exit.",
    )
    parser.add_argument("--acs-url", default="http://127.0.0.1:7547/", help="the ACS URL")
    parser.add_argument(
        "--acs-ca-file",
        default=None,
        metavar="PEM",
        help="CA certificate(s) that verify an https ACS URL (default: the system's)",
    )
    parser.add_argument("--cpes", type=int, default=10, metavar="N", help="fleet size")
    parser.add_argument("--data-model", choices=("tr181", "tr098", "mixed"), default="mixed")
    parser.add_argument(
        "--fail",
        default="",
        metavar="SPEC",
        help="failure shares, e.g. unknown=2%%,no_profile=1%%,spv_fault=3%%,mismatch=2%%,"
        "spv_internal=1%%,slow=1%%,drop=1%%,crash=1%%,quirk_prefix=5%%,quirk_bool=5%%,"
        "quirk_no_id=5%%,quirk_no_cookie=2%%,quirk_new_conn=2%%,quirk_chunked=2%%; "
        "firmware upgrades: firmware_corrupt, firmware_timeout, firmware_wrong_version",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="run this long (periodic informs, connection requests); "
        "default: stop once every CPE has completed --sessions sessions",
    )
    parser.add_argument("--sessions", type=int, default=1, help="sessions per CPE (no --duration)")
    parser.add_argument(
        "--boot-storm", default=None, metavar="N/T", help="N CPEs boot within T seconds"
    )
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds over which CPEs boot")
    parser.add_argument("--periodic-interval", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cpe-username", default="", help="CPE login at the ACS")
    parser.add_argument(
        "--cpe-password",
        default=None,
        help="CPE password at the ACS (default: $TRACEACS_SIM_CPE_PASSWORD)",
    )
    parser.add_argument("--connection-request-port", type=int, default=0)
    parser.add_argument("--inventory-out", default=None, metavar="CSV")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar (there is none off a terminal)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    import asyncio
    import os
    import time
    from pathlib import Path

    from traceacs.commands.output import Progress, print_json
    from traceacs.simulator.faults import FailSpecError, parse_fail_spec
    from traceacs.simulator.fleet import build_fleet, write_inventory
    from traceacs.simulator.runner import FleetRunner, RunnerConfig

    try:
        shares = parse_fail_spec(args.fail)
        storm = None
        if args.boot_storm:
            count, _, window = args.boot_storm.partition("/")
            storm = (int(count), float(window or 1))
    except (FailSpecError, ValueError) as exc:
        print(f"traceacs simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.cpes < 1:
        print("traceacs simulate: --cpes must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    fleet = build_fleet(args.cpes, data_model=args.data_model, shares=shares, seed=args.seed)
    if args.inventory_out:
        profiles = write_inventory(fleet, Path(args.inventory_out))
        print(f"wrote {len(fleet.inventory)} devices to {args.inventory_out} and {profiles}")
        return EXIT_OK
    password = args.cpe_password
    if password is None:
        password = os.environ.get("TRACEACS_SIM_CPE_PASSWORD", "")
    config = RunnerConfig(
        acs_url=args.acs_url,
        cpe_username=args.cpe_username,
        cpe_password=password,
        duration=args.duration,
        sessions_per_cpe=None if args.duration is not None else args.sessions,
        periodic_interval=args.periodic_interval,
        ramp_seconds=args.ramp,
        boot_storm=storm,
        connection_request_port=args.connection_request_port,
        ca_file=args.acs_ca_file,
    )

    # the bar counts completed sessions, or seconds of a --duration run
    total = args.cpes * args.sessions if args.duration is None else max(1, int(args.duration))
    bar = Progress("simulating", total, threshold=0, enabled=not (args.quiet or args.json))
    started = time.monotonic()

    def progress(_line: str) -> None:
        stats = runner.stats
        elapsed = int(time.monotonic() - started)
        done = runner.completed_sessions if args.duration is None else elapsed
        classes = " ".join(f"{k}={v}" for k, v in sorted(stats.results.items()))
        bar.update(done, classes)

    runner = FleetRunner(
        fleet.cpes, config, seed=args.seed, on_progress=progress if bar.enabled else None
    )
    try:
        stats = asyncio.run(runner.run())
    except KeyboardInterrupt:
        stats = runner.stats
    finally:
        progress("")  # the final count, then the line is cleared for the summary
        bar.done()
    if args.json:
        print_json(stats.as_dict())
    else:
        print(stats.summary())
    return EXIT_OK


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
