"""In-process CPU cost of the CWMP codec on the real messages of the bench fleet.

What the ACS parses and writes in the two bench scenarios, built the way the load
generator builds them (`bench.loadgen`, `bench.floor.Canned`): a TR-181 CPE of the
bench fleet (seed 8, an ``internet-voip`` plan), its BOOTSTRAP and PERIODIC Informs,
the SetParameterValues and GetParameterValues of its provisioning, the CPE's answers
to both, and the InformResponse.

Each case is timed in CPU (``time.process_time``) against a baseline of bare lxml on
the same bytes, measured in the same round (A, B, A, B ...): ``etree.fromstring`` for
a parse, ``etree.tostring`` of the same document, already parsed, for a serialize.
``ratio`` is ours / bare, the median over the rounds: a host busy with other work
slows both sides of a round alike, so the ratio is the figure to compare across
revisions, the µs are for orientation.

Unless ``--no-reference``, the codec's reference paths, the codec as it was before its
hot paths were written, are timed in the same rounds too: `parse_envelope_reference`
(the tree walk alone, without the one-pass walk) for a parse,
`serialize_envelope_reference` (item by item, nothing cached) for a serialize.
``speedup`` is reference / ours, the before/after figure that the host's load does not
move.

Prints the result as JSON and appends it to ``bench/results/codec.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from bench.common import RESULTS_DIR, record, stamp
from traceacs.cwmp import events as ev
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.cwmp.parse import parse_envelope_reference
from traceacs.cwmp.serialize import serialize_envelope_reference
from traceacs.provisioning.config_builder import build_config
from traceacs.provisioning.config_types import ConfigTarget
from traceacs.simulator.fleet import build_fleet


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    kind: str
    """``parse`` or ``serialize``."""
    ours: Callable[[], object]
    bare: Callable[[], object]
    reference: Callable[[], object] | None
    size: int
    """Bytes of the envelope."""
    items: int
    """ParameterValueStructs or names in the message (0 for none)."""


def _items(body: m.Message) -> int:
    if isinstance(body, m.GetParameterValues):
        return len(body.parameter_names)
    parameters = getattr(body, "parameters", ())
    return len(parameters)


def _parse_case(name: str, wire: bytes, reference: bool) -> Case:
    envelope = parse_envelope(wire)
    previous = (lambda: parse_envelope_reference(wire)) if reference else None
    return _case(name, "parse", wire, envelope, envelope, previous)


def _serialize_case(name: str, envelope: m.Envelope, reference: bool) -> Case:
    wire = serialize_envelope(envelope)
    previous = (lambda: serialize_envelope_reference(envelope)) if reference else None
    return _case(name, "serialize", wire, envelope, wire, previous)


def _case(
    name: str,
    kind: str,
    wire: bytes,
    envelope: m.Envelope,
    expected: object,
    reference: Callable[[], object] | None,
) -> Case:
    """Ours and bare lxml on ``wire`` (parse) or ``envelope`` (serialize); the reference
    must give what ours gives (``expected``) or the speedup would compare other work."""
    assert reference is None or reference() == expected
    ours: Callable[[], object]
    bare: Callable[[], object]
    if kind == "parse":
        ours, bare = (lambda: parse_envelope(wire)), (lambda: etree.fromstring(wire))
    else:
        tree = etree.fromstring(wire)
        ours, bare = (lambda: serialize_envelope(envelope)), (lambda: etree.tostring(tree))
    return Case(name, kind, ours, bare, reference, len(wire), _items(envelope.body))


def build_cases(reference: bool = False) -> list[Case]:
    """The messages of one bootstrap and one quiet periodic session of a bench CPE."""
    fleet = build_fleet(6, data_model="tr181", seed=8)
    profiles = {p.name: p for p in fleet.profiles}
    index = next(i for i, r in enumerate(fleet.inventory) if r.service_plan == "internet-voip")
    cpe, record_ = fleet.cpes[index], fleet.inventory[index]
    now = datetime.now(UTC)
    boot = cpe.build_inform(now)
    assert isinstance(boot.body, m.Inform)
    ns = boot.namespace

    def acs(body: m.Message, cwmp_id: str) -> m.Envelope:
        return m.Envelope(body=body, cwmp_id=cwmp_id, namespace=ns)

    def cpe_wire(body: m.Message, cwmp_id: str) -> bytes:
        return serialize_envelope(acs(body, cwmp_id))

    config = build_config(profiles[record_.service_plan], ConfigTarget.from_inform(boot.body))
    spv = m.SetParameterValues(config.parameters, parameter_key=config.parameter_key)
    gpv = m.GetParameterValues(tuple(p.name for p in config.verifiable()))
    spv_response = cpe.handle(spv, now)
    gpv_response = cpe.handle(gpv, now)
    reboot_response = m.RebootResponse()
    cpe.inform_accepted(cpe.pending_events)
    cpe.end_session()
    cpe.queue_event(ev.PERIODIC)
    periodic = cpe.build_inform(now)
    return [
        _parse_case("inform_periodic", serialize_envelope(periodic), reference),
        _parse_case("inform_bootstrap", serialize_envelope(boot), reference),
        _parse_case("gpv_response", cpe_wire(gpv_response, "acs-2"), reference),
        _parse_case("spv_response", cpe_wire(spv_response, "acs-1"), reference),
        _parse_case("empty_response", cpe_wire(reboot_response, "acs-3"), reference),
        _serialize_case("inform_response", acs(m.InformResponse(max_envelopes=1), "1"), reference),
        _serialize_case("spv", acs(spv, "acs-1"), reference),
        _serialize_case("gpv", acs(gpv, "acs-2"), reference),
    ]


def _cpu_us(fn: Callable[[], object], iterations: int) -> float:
    start = time.process_time()
    for _ in range(iterations):
        fn()
    return (time.process_time() - start) / iterations * 1e6


def measure(case: Case, rounds: int, budget_s: float) -> dict[str, Any]:
    """Interleaved rounds of bare and ours, each round ~``budget_s`` of CPU per side."""
    probe = max(_cpu_us(case.ours, 50), 0.1)
    iterations = max(50, int(budget_s * 1e6 / probe))
    ours: list[float] = []
    bare: list[float] = []
    previous: list[float] = []
    for _ in range(rounds):
        bare.append(_cpu_us(case.bare, iterations))
        ours.append(_cpu_us(case.ours, iterations))
        if case.reference is not None:
            previous.append(_cpu_us(case.reference, iterations))
    ratios = [o / b for o, b in zip(ours, bare, strict=True)]
    figures: dict[str, Any] = {
        "kind": case.kind,
        "bytes": case.size,
        "items": case.items,
        "iterations": iterations,
        "ours_us": round(statistics.median(ours), 2),
        "ours_us_min": round(min(ours), 2),
        "bare_us": round(statistics.median(bare), 2),
        "bare_us_min": round(min(bare), 2),
        "ratio": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
    }
    if previous:
        speedups = [p / o for p, o in zip(previous, ours, strict=True)]
        figures["reference_us"] = round(statistics.median(previous), 2)
        figures["reference_ratio"] = round(
            statistics.median(p / b for p, b in zip(previous, bare, strict=True)), 3
        )
        figures["speedup"] = round(statistics.median(speedups), 3)
        figures["speedups"] = [round(s, 3) for s in speedups]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.15, help="CPU seconds per side/round")
    parser.add_argument("--only", nargs="*", help="case names to run (default: all)")
    parser.add_argument("--note", default="", help="free text stored with the result")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--no-reference", action="store_true", help="do not time the reference paths"
    )
    args = parser.parse_args(argv)
    reference = not args.no_reference
    cases = [c for c in build_cases(reference) if not args.only or c.name in args.only]
    figures = {case.name: measure(case, args.rounds, args.budget) for case in cases}
    result = stamp(
        "codec",
        {
            "rounds": args.rounds,
            "budget_s": args.budget,
            "note": args.note,
            "reference": reference,
        },
        {"cases": figures},
    )
    print(json.dumps(result, indent=2))
    if not args.no_record:
        record(result, args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
