"""Runs the real Prometheus exporter and reports the series names it emits.

The alert rules, recording rules and dashboard are written against these names; the
deploy tests check them against this function's answer, not against a copied list.
"""

from __future__ import annotations

import re

from tests.telemetry.conftest import make_harness
from tests.telemetry.traces import RESULTS, provisioning_trace
from traceacs.telemetry.prometheus import render_metrics

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\s)")


def emitted_exposition() -> str:
    """The /metrics body after one session of every result class, RPCs and informs."""
    h = make_harness()
    try:
        port = h.port
        for result in RESULTS:
            port.session_started()
            port.session_finished(*provisioning_trace(result))
        port.rpc_finished("SetParameterValues", 0.2, 9007)
        port.rpc_finished("GetParameterValues", 0.1, None)
        port.inform_received(["0 BOOTSTRAP", "2 PERIODIC"])
        registry = h.telemetry.prometheus_registry
        assert registry is not None
        body, _ = render_metrics(registry)
        return body.decode()
    finally:
        h.telemetry.shutdown()


def emitted_series_names() -> set[str]:
    names = set()
    for line in emitted_exposition().splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#"):
            names.add(match.group(1))
    return names


_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="')


def emitted_label_names() -> set[str]:
    return {
        label
        for line in emitted_exposition().splitlines()
        if not line.startswith("#")
        for label in _LABEL.findall(line)
    }


def known_names(recorded: set[str]) -> set[str]:
    """Everything a rule or panel may name: emitted series and labels, recorded series."""
    return emitted_series_names() | emitted_label_names() | recorded
