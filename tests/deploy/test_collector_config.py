"""The Collector config is wired correctly: the seed's mistakes cannot come back.

Checks the structure a Collector validates at start-up (and the things it does not:
an unused processor, memory_limiter not first, a pipeline without batch), plus the
TraceACS-specific intent: whole-trace sampling that keeps errors and slow traces,
no serial number in span-metric dimensions, retries and a queue on the export, the
token from the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "otel-collector" / "otel-collector.yaml"
KINDS = ("receivers", "processors", "exporters", "connectors")


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded = yaml.safe_load(CONFIG.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _pipelines(config: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    pipelines = config["service"]["pipelines"]
    assert isinstance(pipelines, dict)
    assert pipelines
    return pipelines


def _signal(pipeline_id: str) -> str:
    return pipeline_id.split("/", 1)[0]


def test_every_referenced_component_is_defined(config: dict[str, Any]) -> None:
    defined = {kind: set(config.get(kind) or {}) for kind in KINDS}
    for pipeline_id, pipeline in _pipelines(config).items():
        assert _signal(pipeline_id) in ("traces", "metrics", "logs"), pipeline_id
        for receiver in pipeline["receivers"]:
            assert receiver in defined["receivers"] | defined["connectors"], receiver
        for processor in pipeline.get("processors", []):
            assert processor in defined["processors"], processor
        for exporter in pipeline["exporters"]:
            assert exporter in defined["exporters"] | defined["connectors"], exporter
    for extension in config["service"].get("extensions", []):
        assert extension in (config.get("extensions") or {}), extension


def test_every_defined_component_is_used(config: dict[str, Any]) -> None:
    pipelines = _pipelines(config).values()
    used_receivers = {r for p in pipelines for r in p["receivers"]}
    used_processors = {x for p in pipelines for x in p.get("processors", [])}
    used_exporters = {e for p in pipelines for e in p["exporters"]}
    assert set(config["receivers"]) <= used_receivers
    assert set(config["processors"]) <= used_processors
    assert set(config["exporters"]) <= used_exporters
    assert set(config.get("extensions") or {}) <= set(config["service"].get("extensions", []))
    # a connector is the exporter of one pipeline and the receiver of another
    for connector in config.get("connectors") or {}:
        assert connector in used_exporters, connector
        assert connector in used_receivers, connector


def test_memory_limiter_first_and_batch_in_every_pipeline(config: dict[str, Any]) -> None:
    for pipeline_id, pipeline in _pipelines(config).items():
        processors = pipeline.get("processors", [])
        assert processors[:1] == ["memory_limiter"], pipeline_id
        assert "batch" in processors, pipeline_id
        if "tail_sampling" in processors:  # sample whole traces before batching them
            assert processors.index("tail_sampling") < processors.index("batch")


def test_tail_sampling_keeps_errors_and_slow_traces_and_samples_the_rest(
    config: dict[str, Any],
) -> None:
    policies = {p["type"]: p for p in config["processors"]["tail_sampling"]["policies"]}
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    assert policies["latency"]["latency"]["threshold_ms"] == 60_000
    assert 0 < policies["probabilistic"]["probabilistic"]["sampling_percentage"] < 100
    # An inverted match overrides every "keep" decision in tail_sampling, so it would
    # drop failing periodic sessions: none may be used.
    for policy in policies.values():
        assert "invert_match" not in str(policy)


def test_the_seeds_span_filter_is_gone(config: dict[str, Any]) -> None:
    # It would orphan child spans; whole-trace tail sampling replaces it.
    assert not any(name.split("/")[0] == "filter" for name in config["processors"])


def test_sampled_traces_go_to_oneuptime_and_spanmetrics_sees_everything(
    config: dict[str, Any],
) -> None:
    pipelines = _pipelines(config)
    to_spanmetrics = [p for p in pipelines.values() if "spanmetrics" in p["exporters"]]
    assert to_spanmetrics
    for pipeline in to_spanmetrics:
        assert "tail_sampling" not in pipeline.get("processors", [])
    sampled = [p for p in pipelines.values() if "tail_sampling" in p.get("processors", [])]
    assert any("otlphttp/oneuptime" in p["exporters"] for p in sampled)
    metrics = [p for i, p in pipelines.items() if _signal(i) == "metrics"]
    assert any("spanmetrics" in p["receivers"] for p in metrics)


def test_span_metrics_never_use_the_serial_number(config: dict[str, Any]) -> None:
    dimensions = [d["name"] for d in config["connectors"]["spanmetrics"]["dimensions"]]
    assert "cpe.serial_number" not in dimensions


def test_oneuptime_export_is_resilient_and_keeps_its_token_out_of_the_file(
    config: dict[str, Any],
) -> None:
    exporter = config["exporters"]["otlphttp/oneuptime"]
    assert exporter["retry_on_failure"]["enabled"] is True
    assert exporter["sending_queue"]["enabled"] is True
    assert exporter["headers"]["x-oneuptime-token"] == "${env:ONEUPTIME_SERVICE_TOKEN}"
    assert exporter["tls"]["insecure"] is False


def test_receivers_listen_for_otlp_grpc_and_http(config: dict[str, Any]) -> None:
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
