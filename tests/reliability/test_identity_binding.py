"""One CPE cannot speak for another (issue 9, item 5).

With per-device credentials the authenticated username must name the Inform's
DeviceId (`username_names_device`), and a session cookie (or keep-alive connection)
only ever carries the session of the device it was issued to.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.reliability.harness import (
    TIMEOUT,
    RealAcs,
    cpe_client,
    errors_logged,
    inform_envelope,
    real_acs,
)
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope
from traceacs.server.cpe_auth import CpeAuthenticator, StaticCredentialStore, username_names_device

NOW = 1_800_000_000.0


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("username", "named"),
    [
        ("SN1", True),
        ("00D09E-SN1", True),
        ("00D09E-GW3-SN1", True),
        ("SN2", False),
        ("00D09E-SN2", False),
        ("001122-SN1", False),
        ("sn1", False),
        ("", False),
        ("00D09E-GW3-SN1-extra", False),
    ],
)
def test_username_forms_that_name_a_device(username: str, named: bool) -> None:
    assert username_names_device(username, "00D09E", "GW3", "SN1") is named


def test_an_empty_serial_is_named_by_nobody() -> None:
    assert not username_names_device("", "00D09E", "GW3", "")
    assert not username_names_device("00D09E-", "00D09E", "GW3", "")


async def test_authenticator_says_which_credentials_bind_a_device() -> None:
    store = StaticCredentialStore(per_device={"SN1": "own"}, shared_secret="fleet")
    auth = CpeAuthenticator(store, mode="basic")
    own = await auth.authenticate(basic("SN1", "own"), method="POST", request_uri="/", now=NOW)
    shared = await auth.authenticate(basic("SN9", "fleet"), method="POST", request_uri="/", now=NOW)
    assert (own.username, own.device_bound) == ("SN1", True)
    assert (shared.username, shared.device_bound) == ("SN9", False)


@pytest.fixture
async def acs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[RealAcs]:
    """A real ACS where devices 0 and 1 have their own passwords, others the fleet one."""
    caplog.set_level(logging.INFO)
    fleet_serials = [f"SIM0009{i:07d}" for i in range(2)]
    store = StaticCredentialStore(
        per_device={fleet_serials[0]: "pw-a", f"02A0C5-{fleet_serials[1]}": "pw-b"},
        shared_secret="fleet-secret",
    )
    async with real_acs(tmp_path, authenticator=CpeAuthenticator(store, mode="both")) as running:
        assert running.device_id(0).serial_number == fleet_serials[0]
        assert running.device_id(1).oui == "02A0C5"
        yield running
    records = caplog.get_records("setup") + caplog.get_records("call") + caplog.records
    assert errors_logged(records) == []


def creds_a(acs: RealAcs) -> str:
    return basic(acs.device_id(0).serial_number, "pw-a")


def creds_b(acs: RealAcs) -> str:
    return basic(f"02A0C5-{acs.device_id(1).serial_number}", "pw-b")


async def test_device_credentials_for_another_device_get_8001_and_no_session(
    acs: RealAcs,
) -> None:
    victim = acs.device_id(1)
    async with cpe_client(acs.url, Authorization=creds_a(acs)) as cpe:
        reply = await cpe.post(inform_envelope(victim))
    assert reply.fault_code() == 8001
    assert "set-cookie" not in {k.lower() for k in reply.headers}
    assert len(acs.endpoint.registry) == 0
    stored = await acs.repo.get_device(victim.oui, victim.serial_number)
    assert stored is not None
    assert stored.last_inform_at is None  # the workflow never heard of it


async def test_digest_credentials_for_another_device_get_8001(acs: RealAcs) -> None:
    digest = aiohttp.DigestAuthMiddleware(acs.device_id(0).serial_number, "pw-a")
    async with aiohttp.ClientSession(
        middlewares=(digest,), timeout=aiohttp.ClientTimeout(total=TIMEOUT)
    ) as http:
        async with http.post(acs.url, data=inform_envelope(acs.device_id(1))) as resp:
            body = parse_envelope(await resp.read()).body
        assert isinstance(body, m.CwmpFault)
        assert body.fault_code == 8001
        async with http.post(acs.url, data=inform_envelope(acs.device_id(0))) as resp:
            assert isinstance(parse_envelope(await resp.read()).body, m.InformResponse)


@pytest.mark.parametrize("device", [0, 1])
async def test_device_credentials_open_their_own_devices_session(acs: RealAcs, device: int) -> None:
    creds = creds_a(acs) if device == 0 else creds_b(acs)  # serial, then OUI-serial
    async with cpe_client(acs.url, Authorization=creds) as cpe:
        reply = await cpe.post(inform_envelope(acs.device_id(device)))
        assert isinstance(reply.envelope().body, m.InformResponse)
        assert isinstance((await cpe.post(b"")).envelope().body, m.SetParameterValues)


async def test_the_shared_secret_is_not_bound_to_a_device(acs: RealAcs) -> None:
    """The documented limit: a fleet-wide secret proves membership, not identity."""
    async with cpe_client(acs.url, Authorization=basic("anyone", "fleet-secret")) as cpe:
        reply = await cpe.post(inform_envelope(acs.device_id(2)))
    assert isinstance(reply.envelope().body, m.InformResponse)


async def test_a_cookie_of_device_a_with_device_bs_inform_starts_no_cross_talk(
    acs: RealAcs,
) -> None:
    async with (
        cpe_client(acs.url, Authorization=creds_a(acs)) as a,
        cpe_client(acs.url) as intruder,
    ):
        opened = await a.post(inform_envelope(acs.device_id(0)))
        assert isinstance(opened.envelope().body, m.InformResponse)
        assert a.cookie is not None
        intruder.cookie = a.cookie
        # A's cookie does not stand in for B's credentials...
        refused = await intruder.post(inform_envelope(acs.device_id(1)))
        assert refused.status == 401
        # ...and with B's own credentials, B gets a session of its own, new cookie.
        intruder.extra_headers["Authorization"] = creds_b(acs)
        intruder.cookie = a.cookie
        b_reply = await intruder.post(inform_envelope(acs.device_id(1)))
        assert isinstance(b_reply.envelope().body, m.InformResponse)
        assert intruder.cookie not in (None, a.cookie)
        assert len(acs.endpoint.registry) == 2
        # A's session went on untouched: its next answer is its own provisioning RPC
        a_rpc = await a.post(b"")
        assert isinstance(a_rpc.envelope().body, m.SetParameterValues)
        sessions = {s.device_key for s in acs.endpoint.registry}
        assert sessions == {
            f"{d.oui}-{d.serial_number}" for d in (acs.device_id(0), acs.device_id(1))
        }
