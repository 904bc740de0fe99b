"""Smoke tests of the inventory and boot-storm benchmarks at toy sizes.

No timed assertion: what is asserted is what each benchmark must get right whatever
the speed (every device imported and found, every stormed CPE provisioned exactly once
despite the 503s it got, the results recorded with the load average).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench import bootstorm, inventory


def recorded(results: Path, scenario: str) -> dict[str, object]:
    [line] = (results / f"{scenario}.jsonl").read_text().splitlines()
    result: dict[str, object] = json.loads(line)
    return result


def test_boot_storm_loses_no_device_and_answers_overload_with_503(tmp_path: Path) -> None:
    argv = ["--devices", "60", "--window", "0.05", "--max-sessions", "2"]
    argv += ["--retry-after-scale", "0.01", "--give-up-after", "300"]
    assert bootstorm.main([*argv, "--results-dir", str(tmp_path)]) == 0
    result = recorded(tmp_path, "bootstorm")
    assert result["zero_lost"] is True
    assert result["devices_by_state"] == {
        "provisioned": 60,
        "devices_with_more_than_one_success": 0,
    }
    assert result["attempts_by_result"] == {"success": 60}
    assert isinstance(result["refused_503"], int)
    assert result["refused_503"] > 0  # 60 CPEs at once, 2 admitted: backpressure happened
    assert result["max_sessions_in_flight_seen"] <= 2  # type: ignore[operator]
    assert "loadavg_1m" in result["machine"]  # type: ignore[operator]


def test_inventory_imports_every_device_and_keeps_rss_figures(tmp_path: Path) -> None:
    argv = ["--devices", "1500", "--small", "600", "--fleet", "8", "--samples", "100"]
    argv += ["--duration", "0.5", "--engines", "sqlite"]
    assert inventory.main([*argv, "--results-dir", str(tmp_path)]) == 0
    result = recorded(tmp_path, "inventory")
    sqlite = result["sqlite"]
    assert isinstance(sqlite, dict)
    large = sqlite["large"]
    assert large["devices"] == 1500
    assert large["repository"]["device_lookup"]["samples"] == 100
    assert large["bare_driver"]["inform_recording"]["samples"] == 100
    assert large["trace_store_latest"]["found"] == 8  # the fleet was traced while serving
    assert large["trace_cli"]["exit_code"] == 0
    assert large["acs"]["errors"] == {}
    assert sqlite["small"]["acs"]["rss_after_mib"] > 0


def test_boot_storm_per_second_figures_split_events_by_sample_interval() -> None:
    tally = bootstorm.StormTally()
    tally.admitted_at = [10.2, 10.9, 11.5]
    tally.refused_at = [(10.5, 6.0), (10.6, 30.0), (11.1, 8.0), (12.5, 9.0)]
    tally.done_at = [10.95]
    # (monotonic, ACS CPU s, storm CPU s) a second apart; the last interval is open.
    samples = [(10.0, 1.0, 2.0), (11.0, 1.8, 2.25), (12.0, 2.3, 2.75)]
    rows = bootstorm.per_second(tally, samples, start=10.0)
    assert rows == [
        {
            "t": 0.0,
            "acs_cpu": 0.8,
            "storm_cpu": 0.25,
            "admitted": 2,
            "refused": 2,
            "mean_retry_after": 18.0,
            "provisioned": 1,
        },
        {
            "t": 1.0,
            "acs_cpu": 0.5,
            "storm_cpu": 0.5,
            "admitted": 1,
            "refused": 1,
            "mean_retry_after": 8.0,
            "provisioned": 0,
        },
    ]
