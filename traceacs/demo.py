"""`make demo` / `traceacs demo`: the ACS on its embedded defaults with a simulated fleet.

What an operator trying TraceACS for the first time sees: a generated inventory and
service profiles imported through the same paths as `traceacs devices import` and
`traceacs profiles import`, the ACS serving CWMP on 127.0.0.1, a few hundred simulated
CPEs (TR-181 and TR-098) bootstrapping with a realistic mix of failures, then a summary
and the commands that show why each failed device failed. The ACS keeps running until
Ctrl-C so its state can be explored; ``--exit`` stops once the fleet is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # the heavy modules load when the demo runs, not for `--help`
    from traceacs.assembly import Acs
    from traceacs.config import Settings
    from traceacs.simulator.stats import FleetStats

Say = Callable[[str], None]

DEFAULT_FAILURES = (
    "unknown=2%,no_profile=2%,spv_fault=3%,mismatch=3%,slow=1%,drop=1%,"
    "quirk_prefix=5%,quirk_no_id=5%,quirk_chunked=3%,quirk_no_cookie=2%"
)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    data_dir: Path = Path("traceacs-data/demo")
    cpes: int = 300
    failures: str = DEFAULT_FAILURES
    seed: int = 2026
    cwmp_port: int = 7547
    sessions_per_cpe: int = 2
    ramp_seconds: float = 10.0
    periodic_interval: float = 5.0
    exit_when_done: bool = False


async def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Run the whole demo; the exit code."""
    from traceacs.assembly import open_acs
    from traceacs.commands.inventory_file import parse_inventory, read_inventory_text
    from traceacs.config import Settings, default_database_url
    from traceacs.profiles.embedded import import_profiles
    from traceacs.simulator.faults import parse_fail_spec
    from traceacs.simulator.fleet import build_fleet, write_inventory
    from traceacs.simulator.runner import FleetRunner, RunnerConfig

    say = _printer(out)
    data_dir = options.data_dir
    if data_dir.exists():
        shutil.rmtree(data_dir)  # the demo's own directory: start from a clean store
    data_dir.mkdir(parents=True)
    settings = Settings(
        cwmp_port=options.cwmp_port,
        data_dir=data_dir,
        database_url=default_database_url(data_dir),
        allow_unauthenticated_cpes=True,
    )

    fleet = build_fleet(
        options.cpes,
        data_model="mixed",
        shares=parse_fail_spec(options.failures),
        seed=options.seed,
    )
    inventory_csv = data_dir / "inventory.csv"
    profiles_yaml = write_inventory(fleet, inventory_csv)
    say(f"1. Generated {len(fleet.cpes)} simulated CPEs (failures: {options.failures})")
    say(f"   inventory: {inventory_csv}   profiles: {profiles_yaml}")

    async with open_acs(settings) as acs:
        entries = parse_inventory(read_inventory_text(inventory_csv), "csv")
        imported = await acs.repository.import_devices(entries, time.time())
        profiles = await import_profiles(acs.repository, profiles_yaml)
        say(f"2. Imported {imported.total} devices and {len(profiles)} service profiles")

        stop = asyncio.Event()
        ready: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(
            _serve_on_free_port(settings, acs, stop, ready),
        )
        urls = await ready
        acs_url = urls[0]
        say(f"3. ACS listening on {acs_url} (SQLite store {settings.database_url})")

        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)

        say(
            f"4. Booting the fleet over {options.ramp_seconds:g} s, then periodic informs "
            f"every {options.periodic_interval:g} s ({options.sessions_per_cpe} sessions each)"
        )
        runner = FleetRunner(
            fleet.cpes,
            RunnerConfig(
                acs_url=acs_url,
                sessions_per_cpe=options.sessions_per_cpe,
                ramp_seconds=options.ramp_seconds,
                periodic_interval=options.periodic_interval,
                connection_requests=False,
            ),
            seed=options.seed,
            on_progress=lambda line: print("\r   " + line, end="", file=out, flush=True),
        )
        fleet_task = asyncio.create_task(runner.run())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({fleet_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        print(file=out)
        if not fleet_task.done():
            fleet_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fleet_task
            stats = runner.stats
        else:
            stats = fleet_task.result()
        await _print_summary(acs, stats, settings, say)

        if not options.exit_when_done and not stop.is_set():
            say("")
            say(f"The ACS keeps running on {acs_url} so you can look around. Ctrl-C stops it.")
            await stopper
        stop.set()
        stopper.cancel()
        await server
    say("Stopped.")
    return 0


async def _serve_on_free_port(
    settings: Settings, acs: Acs, stop: asyncio.Event, ready: asyncio.Future[list[str]]
) -> None:
    """Serve on the configured port, or on a free one when it is taken."""
    from traceacs.app import serve

    def on_ready(urls: list[str]) -> None:
        ready.set_result(urls)

    try:
        await serve(
            settings,
            acs.factory,
            stop=stop,
            on_ready=on_ready,
            repository=acs.repository,
            metrics=acs.telemetry.prometheus_registry if acs.telemetry else None,
            tasks=acs.tasks,
        )
    except OSError:
        if ready.done():
            raise
        await serve(
            replace(settings, cwmp_port=0, api_port=0),
            acs.factory,
            stop=stop,
            on_ready=on_ready,
            repository=acs.repository,
            tasks=acs.tasks,
        )


async def _print_summary(acs: Acs, stats: FleetStats, settings: Settings, say: Say) -> None:
    from traceacs.provisioning.device import Device, ProvisioningState
    from traceacs.provisioning.repository import AttemptFilter, DeviceFilter

    repo = acs.repository
    say("5. What the CPEs saw:")
    for line in stats.summary().splitlines():
        say("   " + line)
    states = Counter[str]()
    for state in ProvisioningState:
        states[state.value] = await repo.count_devices(DeviceFilter(state=state))
    say("6. What the ACS recorded (devices by state): " + _counts(states))
    attempts = await repo.list_attempts(AttemptFilter(), limit=100_000)
    results = Counter(a.result or "in progress" for a in attempts)
    say("   provisioning attempts by result: " + _counts(results))

    failed = await repo.list_devices(DeviceFilter(state=ProvisioningState.FAILED), limit=1000)
    examples: dict[str, Device] = {}
    for device in failed:
        examples.setdefault(device.failed_step or "?", device)
    store = f"--data-dir {settings.data_dir}"
    if examples:
        say("7. Why devices failed: ask TraceACS about any serial number, e.g.")
        for step, device in sorted(examples.items()):
            say(f"   {device.serial_number}  failed at {step}: {device.failure_reason}")
            say(f"       traceacs devices show {device.serial_number} {store}")
            say(f"       traceacs trace {device.serial_number} {store}")
    say("   (CPEs missing from the inventory are refused at their Inform with fault 8001:")
    say("    they show above as faulted(8001) and have no device record.)")


def _printer(out: TextIO) -> Say:
    def say(line: str) -> None:
        print(line, file=out, flush=True)

    return say


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name}={count}" for name, count in sorted(counter.items()) if count)


if __name__ == "__main__":
    sys.exit(asyncio.run(run_demo(DemoOptions())))
