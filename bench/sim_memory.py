"""RSS of 10,000 simulated CPEs in one process (issue 4 target: under 100 MB).

Two child processes of the same interpreter, so both pay the same import cost:
- baseline: the interpreter + the simulator's imports (aiohttp, lxml, codec) + both
  shared default trees loaded;
- fleet: the same, then N CPEs built (mixed TR-181/TR-098), each having produced its
  Inform (serialized by the codec, as on the wire) and handled a SetParameterValues of
  30 parameters with values unique to the CPE, plus an Inform after it.
The difference over N is the cost of one CPE. Usage:
``python bench/sim_memory.py [--cpes 10000] [--out bench/results/sim_memory.json]``
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

SPV_SIZE = 30


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _imports() -> None:
    import aiohttp  # noqa: F401
    import lxml.etree  # noqa: F401

    from traceacs.cwmp.codec import serialize_envelope  # noqa: F401
    from traceacs.simulator import runner  # noqa: F401
    from traceacs.simulator.param_tree import default_tree

    default_tree("tr181")
    default_tree("tr098")


def child(mode: str, count: int) -> dict[str, float]:
    _imports()
    from traceacs.cwmp.codec import serialize_envelope
    from traceacs.cwmp.messages import ParameterValueStruct, SetParameterValues
    from traceacs.simulator.fleet import build_fleet
    from traceacs.simulator.param_tree import default_tree

    gc.collect()
    if mode == "baseline":
        return {"rss_kib": rss_kib()}
    now = datetime(2026, 1, 1, tzinfo=UTC)
    writable = {
        model: [
            p
            for p in default_tree(model).params.values()
            if p.writable and p.xsd_type == "string" and not p.enum and (p.maximum or 64) >= 32
        ][:SPV_SIZE]
        for model in ("tr181", "tr098")
    }
    started = time.perf_counter()
    fleet = build_fleet(count, data_model="mixed", seed=1)
    wire_bytes = 0
    for cpe in fleet.cpes:
        wire_bytes += len(serialize_envelope(cpe.build_inform(now)))
        serial = cpe.identity.serial_number
        params = tuple(
            ParameterValueStruct(p.name, f"{serial}-{k}", "string")
            for k, p in enumerate(writable[cpe.identity.data_model])
        )
        response = cpe.handle(SetParameterValues(params, f"key-{serial}"), now)
        assert type(response).__name__ == "SetParameterValuesResponse", response
        cpe.end_session()
        wire_bytes += len(serialize_envelope(cpe.build_inform(now)))
    elapsed = time.perf_counter() - started
    gc.collect()
    assert len(fleet.cpes) == count
    return {"rss_kib": rss_kib(), "seconds": elapsed, "wire_bytes": wire_bytes}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpes", type=int, default=10_000)
    parser.add_argument("--out", default=None)
    parser.add_argument("--child", choices=("baseline", "fleet"), default=None)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.cpes)))
        return 0
    runs = {}
    for mode in ("baseline", "fleet"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--cpes", str(args.cpes)],
            check=True,
            capture_output=True,
            text=True,
        )
        runs[mode] = json.loads(out.stdout)
    base, fleet = runs["baseline"]["rss_kib"], runs["fleet"]["rss_kib"]
    per_cpe = (fleet - base) * 1024 / args.cpes
    result = {
        "benchmark": "sim_memory",
        "cpes": args.cpes,
        "spv_parameters_per_cpe": SPV_SIZE,
        "baseline_rss_mib": round(base / 1024, 1),
        "fleet_rss_mib": round(fleet / 1024, 1),
        "fleet_over_baseline_mib": round((fleet - base) / 1024, 1),
        "bytes_per_cpe": round(per_cpe),
        "fleet_to_baseline_ratio": round(fleet / base, 2),
        "target_mib": 100,
        "meets_target": fleet / 1024 < 100,
        "build_seconds": round(runs["fleet"]["seconds"], 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
