"""When an Inform leads to provisioning, a check, or nothing (pure decisions)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from traceacs.provisioning.device import Device, DeviceIdentity, ProvisioningState
from traceacs.provisioning.policy import Plan, RetryPolicy, plan_for_inform

NOW = 1_800_000_000.0


def device(state: ProvisioningState, *, key: str | None = "k1", updated: float = NOW) -> Device:
    return Device(
        identity=DeviceIdentity("00D09E", "SN1"),
        customer_id="c",
        service_plan="p",
        location_id="l",
        created_at=NOW - 1000,
        updated_at=updated,
        state=state,
        parameter_key=key,
    )


@pytest.mark.parametrize("state", list(ProvisioningState))
def test_bootstrap_always_provisions(state: ProvisioningState) -> None:
    assert plan_for_inform(device(state), ["0 BOOTSTRAP"], "k1", now=NOW) is Plan.PROVISION


def test_new_device_provisions_on_any_inform() -> None:
    assert plan_for_inform(device(ProvisioningState.NEW), ["2 PERIODIC"], None, now=NOW) is (
        Plan.PROVISION
    )


def test_provisioned_device_is_only_checked() -> None:
    for events in (["1 BOOT"], ["2 PERIODIC"], ["6 CONNECTION REQUEST"]):
        assert plan_for_inform(device(ProvisioningState.PROVISIONED), events, "k1", now=NOW) is (
            Plan.CHECK
        )


def test_reported_parameter_key_that_differs_from_ours_reprovisions() -> None:
    got = plan_for_inform(device(ProvisioningState.PROVISIONED), ["1 BOOT"], "other", now=NOW)
    assert got is Plan.PROVISION


def test_failed_device_retries_at_once_then_backs_off() -> None:
    failed = device(ProvisioningState.FAILED, updated=NOW - 10)
    retry = RetryPolicy(base_seconds=60, max_seconds=600)
    assert (
        plan_for_inform(failed, ["2 PERIODIC"], None, now=NOW, consecutive_failures=1, retry=retry)
        is Plan.PROVISION
    )
    assert (
        plan_for_inform(failed, ["2 PERIODIC"], None, now=NOW, consecutive_failures=2, retry=retry)
        is Plan.WAIT
    )
    later = replace(failed, updated_at=NOW - 61)
    assert (
        plan_for_inform(later, ["2 PERIODIC"], None, now=NOW, consecutive_failures=2, retry=retry)
        is Plan.PROVISION
    )


def test_backoff_doubles_and_is_capped() -> None:
    retry = RetryPolicy(base_seconds=60, max_seconds=600)
    assert [retry.delay(n) for n in range(7)] == [0, 0, 60, 120, 240, 480, 600]


def test_backoff_counts_from_the_last_failure_not_from_the_inform_being_planned() -> None:
    # record_inform has just set updated_at to now: only the failure's time can tell
    informing = device(ProvisioningState.FAILED, updated=NOW)
    retry = RetryPolicy(base_seconds=60, max_seconds=600)

    def plan(last_failure_at: float) -> Plan:
        return plan_for_inform(
            informing,
            ["2 PERIODIC"],
            None,
            now=NOW,
            consecutive_failures=2,
            retry=retry,
            last_failure_at=last_failure_at,
        )

    assert plan(NOW - 30) is Plan.WAIT
    assert plan(NOW - 61) is Plan.PROVISION
