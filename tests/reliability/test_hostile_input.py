"""Hostile input against a real running ACS: every attack gets a CWMP fault or a 4xx.

The ACS is the real endpoint with the provisioning workflow over SQLite (see
`tests.reliability.harness`). For every attack: the answer is HTTP 4xx or a CWMP
fault in a 200, never a 500; nothing is logged at ERROR level or with a traceback;
and a well-formed CPE completes a whole session right after (the `acs` fixture checks
both at teardown).
"""

from __future__ import annotations

import logging
import re
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.harness import (
    RawHttp,
    RealAcs,
    cpe_client,
    envelope,
    errors_logged,
    inform_envelope,
    post_request,
    real_acs,
)
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import DEFAULT_MAX_ENVELOPE_BYTES
from traceacs.provisioning.repository import AttemptFilter
from traceacs.server.cwmp_sessions import COOKIE_NAME

SOAP_12 = "http://www.w3.org/2003/05/soap-envelope"
ALLOWED_FAULTS = {8000, 8001, 8003, 8004}
"""Method not supported, request denied (a device not in the inventory), invalid
arguments, resources exceeded."""


@pytest.fixture
async def acs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[RealAcs]:
    """A real ACS; afterwards: no ERROR/traceback logged and a good CPE still served."""
    caplog.set_level(logging.INFO)
    async with real_acs(tmp_path) as running:
        yield running
        await running.healthy_session()
    records = caplog.get_records("setup") + caplog.get_records("call") + caplog.records
    assert errors_logged(records) == []


def assert_refused_cleanly(status: int, body: bytes) -> None:
    """HTTP 4xx, or a 200 carrying a CWMP fault the ACS raises for bad input."""
    assert status != 500
    if status == 200:
        from traceacs.cwmp.codec import parse_envelope

        fault = parse_envelope(body).body
        assert isinstance(fault, m.CwmpFault), fault
        assert fault.fault_code in ALLOWED_FAULTS
    else:
        assert 400 <= status < 500, status
    assert b"Traceback" not in body


def _inform(manufacturer: str = "Acme") -> bytes:
    device = m.DeviceId(manufacturer, "00D09E", "TraceGW-3", "SIM00090000000")
    return inform_envelope(device)


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    return (
        '<?xml version="1.0"?><!DOCTYPE lolz [' + "".join(entities) + "]><lolz>&lol9;</lolz>"
    ).encode()


def quadratic_blowup() -> bytes:
    value = "a" * 50_000
    refs = "&a;" * 50_000
    return f'<?xml version="1.0"?><!DOCTYPE k [<!ENTITY a "{value}">]><k>{refs}</k>'.encode()


def deep_nesting(levels: int = 100_000) -> bytes:
    inner = "<a>" * levels + "</a>" * levels
    body = _inform().decode()
    return body.replace("<soap-env:Body>", "<soap-env:Body>" + inner, 1).encode()


def with_doctype() -> bytes:
    return b'<?xml version="1.0"?>\n<!DOCTYPE Envelope>\n' + _inform().split(b"?>", 1)[1]


def invalid_utf8() -> bytes:
    return _inform("Acme").replace(b"Acme", b"Ac\xff\xfe\xc3\x28me", 1)


def overlong_utf8() -> bytes:
    return _inform("Acme").replace(b"Acme", b"Ac\xc0\xbcme", 1)


def raw_control_character() -> bytes:
    return _inform("Acme").replace(b"Acme", b"Ac\x01me", 1)


def referenced_control_character() -> bytes:
    return _inform("Acme").replace(b"Acme", b"Ac&#1;me", 1)


def non_cwmp_xml() -> bytes:
    return b"<html><body><script>alert(1)</script></body></html>"


def soap_12_envelope() -> bytes:
    return _inform().replace(b"http://schemas.xmlsoap.org/soap/envelope/", SOAP_12.encode())


def huge_integer() -> bytes:
    # 5000 digits: Python's int() raises ValueError past 4300; it used to escape the
    # codec and answer 500.
    return _inform().replace(
        b"<RetryCount>0</RetryCount>", b"<RetryCount>" + b"7" * 5000 + b"</RetryCount>"
    )


def huge_integer_in_fault() -> bytes:
    fault = envelope(m.CwmpFault(9002, "x", "Client"))
    return fault.replace(b"<FaultCode>9002", b"<FaultCode>" + b"9" * 5000)


def binary_garbage() -> bytes:
    return bytes(range(256)) * 64


def unknown_rpc() -> bytes:
    return _inform().replace(b"cwmp:Inform>", b"cwmp:Exploit>")


def many_body_elements() -> bytes:
    inner = "<cwmp:GetRPCMethods/>" * 2
    return _inform().decode().replace("<cwmp:Inform>", inner + "<cwmp:Inform>", 1).encode()


def wide_document() -> bytes:
    """200k sibling parameters: under the size cap, lots of nodes."""
    items = "<ParameterValueStruct><Name>a</Name><Value>b</Value></ParameterValueStruct>" * 200
    return (
        _inform()
        .decode()
        .replace("<ParameterList", "<Junk>" + items * 250 + "</Junk><ParameterList", 1)
        .encode()
    )


HOSTILE_BODIES: dict[str, Callable[[], bytes]] = {
    f.__name__: f
    for f in (
        billion_laughs,
        quadratic_blowup,
        deep_nesting,
        with_doctype,
        invalid_utf8,
        overlong_utf8,
        raw_control_character,
        referenced_control_character,
        non_cwmp_xml,
        soap_12_envelope,
        huge_integer,
        huge_integer_in_fault,
        binary_garbage,
        unknown_rpc,
        many_body_elements,
        wide_document,
    )
}


@pytest.mark.parametrize("attack", sorted(HOSTILE_BODIES))
async def test_hostile_body_opening_a_session_is_refused_cleanly(acs: RealAcs, attack: str) -> None:
    body = HOSTILE_BODIES[attack]()
    async with cpe_client(acs.url) as cpe:
        reply = await cpe.post(body)
    assert_refused_cleanly(reply.status, reply.body)
    assert reply.status != 200 or attack in {
        "huge_integer",
        "huge_integer_in_fault",
        "unknown_rpc",
        "many_body_elements",
        "wide_document",
    }, "an XML-level attack must not get as far as a CWMP answer"
    assert len(acs.endpoint.registry) == 0


@pytest.mark.parametrize("attack", sorted(HOSTILE_BODIES))
async def test_hostile_body_inside_a_session_ends_it_cleanly(acs: RealAcs, attack: str) -> None:
    async with cpe_client(acs.url) as cpe:
        opened = await cpe.post(inform_envelope(acs.device_id(1)))
        assert isinstance(opened.envelope().body, m.InformResponse)
        reply = await cpe.post(HOSTILE_BODIES[attack]())
    assert reply.status != 500
    assert b"Traceback" not in reply.body
    if reply.status == 200:
        assert isinstance(reply.envelope().body, m.CwmpFault)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
async def test_external_entity_never_reads_a_local_file(
    acs: RealAcs, tmp_path: Path, encoding: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("XXE-CANARY-7f3a9c")
    body = _inform().decode().split("?>", 1)[1]
    document = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        f'<!DOCTYPE soap-env:Envelope [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        + body.replace("<Manufacturer>Acme", "<Manufacturer>&xxe;", 1)
    )
    raw = document.encode(encoding)
    assert (b"<!DOCTYPE" in raw) is (encoding == "utf-8")  # UTF-16 hides it from a byte scan
    async with cpe_client(acs.url) as cpe:
        replies = [await cpe.post(raw)]
        replies.append(await cpe.post(inform_envelope(acs.device_id(0))))
        replies.append(await cpe.post(b""))
    assert_refused_cleanly(replies[0].status, replies[0].body)
    for reply in replies:
        assert b"XXE-CANARY" not in reply.body
        assert "XXE-CANARY" not in str(reply.headers)
    device = await acs.repo.get_device(acs.device_id(0).oui, acs.device_id(0).serial_number)
    assert device is not None
    assert "XXE-CANARY" not in (device.manufacturer or "")


async def test_oversized_body_gets_413(acs: RealAcs) -> None:
    body = b"<" + b"a" * (DEFAULT_MAX_ENVELOPE_BYTES + 1024)
    async with cpe_client(acs.url) as cpe:
        reply = await cpe.post(body)
    assert reply.status == 413


async def test_oversized_chunked_body_gets_413(acs: RealAcs) -> None:
    conn = await RawHttp.connect(acs.host, acs.port)
    try:
        await conn.send(post_request(b"", headers={"Transfer-Encoding": "chunked"}))
        chunk = b"a" * 65536
        status = None
        for _ in range(DEFAULT_MAX_ENVELOPE_BYTES // len(chunk) + 4):
            try:
                await conn.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except ConnectionError:
                break  # the server answered and closed: read what it said
            if conn.reader.at_eof():
                break
        status, _, _ = await conn.response()
        assert status == 413
    finally:
        conn.close()


async def test_content_length_shorter_than_the_body(acs: RealAcs) -> None:
    """A lying Content-Length: the rest of the body is a malformed next request."""
    conn = await RawHttp.connect(acs.host, acs.port)
    try:
        await conn.send(post_request(_inform() + b"A" * 100_000, headers={"Content-Length": "100"}))
        received = await conn.read_until_closed()
    finally:
        conn.close()
    statuses = [int(s) for s in re.findall(rb"^HTTP/1\.[01] (\d{3}) ", received, re.MULTILINE)]
    assert statuses, "the server closed without answering"
    assert all(400 <= s < 500 for s in statuses), statuses
    assert b"Traceback" not in received


async def test_gzip_bomb_is_refused_without_inflating_it(acs: RealAcs) -> None:
    inflated = 256 * 1024 * 1024
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    block = bytes(1024 * 1024)
    bomb = b"".join(compressor.compress(block) for _ in range(inflated // len(block)))
    bomb += compressor.flush()
    assert len(bomb) < 512 * 1024
    tracemalloc.start()  # server and client share this process: Python allocations
    try:
        async with cpe_client(acs.url) as cpe:
            reply = await cpe.post(bomb, headers={"Content-Encoding": "gzip"})
        peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert reply.status == 413
    assert peak_mib < 64, f"a 256 MiB gzip bomb took {peak_mib:.0f} MiB to refuse"


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(b"traceacs_session=x\rSet-Cookie: evil=1", id="bare-CR"),
        pytest.param(b"traceacs_session=x\nX-Injected: 1", id="bare-LF"),
        pytest.param(b"traceacs_session=x%0d%0aX-Injected:%201", id="encoded-CRLF"),
        pytest.param(b"traceacs_session=" + b"A" * 100_000, id="huge"),
        pytest.param(b"; ".join(b"c%d=v" % i for i in range(1500)), id="many-pairs"),
        pytest.param(b'traceacs_session="\x00\x7f";,;,=;"', id="binary-and-separators"),
    ],
)
async def test_cookie_header_injection_is_inert(acs: RealAcs, cookie: bytes) -> None:
    conn = await RawHttp.connect(acs.host, acs.port)
    try:
        head = post_request(_inform(), headers={"Cookie": "PLACEHOLDER"})
        await conn.send(head.replace(b"PLACEHOLDER", cookie))
        status, headers, body = await conn.response()
    finally:
        conn.close()
    assert status != 500
    assert "x-injected" not in headers
    assert "evil" not in headers.get("set-cookie", "")
    assert b"Traceback" not in body


async def test_many_cookie_headers_cannot_hijack_a_session(acs: RealAcs) -> None:
    async with cpe_client(acs.url) as victim:
        opened = await victim.post(inform_envelope(acs.device_id(0)))
        assert isinstance(opened.envelope().body, m.InformResponse)
        conn = await RawHttp.connect(acs.host, acs.port)
        try:
            cookies = "".join(f"Cookie: {COOKIE_NAME}=guess{i}\r\n" for i in range(100))
            head = post_request(envelope(m.GetRPCMethods()), headers={"X-Pad": "1"})
            await conn.send(head.replace(b"X-Pad: 1\r\n", cookies.encode()))
            status, _, body = await conn.response()
        finally:
            conn.close()
        assert_refused_cleanly(status, body)
        # the victim's session is untouched: it goes on to the provisioning RPC
        rpc = await victim.post(b"")
        assert isinstance(rpc.envelope().body, m.SetParameterValues)


@pytest.mark.parametrize(
    "cwmp_id",
    [
        pytest.param('<script>alert("id")</script>&amp;]]>', id="markup"),
        pytest.param("X" * 10_240, id="10kB"),
        pytest.param(" \t\r\n é ✓ ", id="whitespace-and-unicode"),
    ],
)
async def test_cwmp_id_is_echoed_as_data(acs: RealAcs, cwmp_id: str) -> None:
    async with cpe_client(acs.url) as cpe:
        reply = await cpe.post(inform_envelope(acs.device_id(2), cwmp_id=cwmp_id))
    answer = reply.envelope()
    assert isinstance(answer.body, m.InformResponse)
    assert answer.cwmp_id == cwmp_id
    assert b"<script>" not in reply.body


HOSTILE_TEXT = '<script>alert("x")</script><img src=x onerror=alert(1)>\t&amp;\r\n\'é✓'


async def test_device_strings_round_trip_as_data(acs: RealAcs) -> None:
    """HTML/JS and control whitespace in an Inform and a fault string: stored verbatim."""
    device = acs.device_id(3, manufacturer=HOSTILE_TEXT)
    inform = inform_envelope(
        device,
        parameters=(
            m.ParameterValueStruct("Device.DeviceInfo.SoftwareVersion", HOSTILE_TEXT),
            m.ParameterValueStruct("Device.WiFi.SSID.1.SSID", HOSTILE_TEXT),
        ),
    )
    async with cpe_client(acs.url) as cpe:
        opened = await cpe.post(inform)
        assert isinstance(opened.envelope().body, m.InformResponse)
        push = (await cpe.post(b"")).envelope()
        assert isinstance(push.body, m.SetParameterValues)
        fault = m.CwmpFault(
            9007,
            HOSTILE_TEXT,
            "Client",
            (m.SetParameterValuesFault(push.body.parameters[0].name, 9007, HOSTILE_TEXT),),
        )
        done = await cpe.post(envelope(fault, cwmp_id=push.cwmp_id))
        assert done.status == 204
    stored = await acs.repo.get_device(device.oui, device.serial_number)
    assert stored is not None
    assert stored.manufacturer == HOSTILE_TEXT
    assert stored.firmware_version == HOSTILE_TEXT
    [attempt] = await acs.repo.list_attempts(AttemptFilter(serial_number=device.serial_number))
    assert attempt.fault_code == 9007
    assert attempt.fault_string == HOSTILE_TEXT


async def test_device_supplied_newlines_cannot_forge_log_lines(
    acs: RealAcs, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "SN1\n2026-01-01 00:00:00 INFO cwmp session admin-login result=completed"
    device = m.DeviceId("Acme", "00D09E", "TraceGW-3", forged)
    async with cpe_client(acs.url) as cpe:
        reply = await cpe.post(inform_envelope(device, events=("1 BOOT\nFORGED-EVENT-LINE",)))
    assert reply.fault_code() == 8001  # not in the inventory
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("traceacs.server")]
    assert any("admin-login" in line for line in lines)  # it was logged...
    assert any("FORGED-EVENT-LINE" in line for line in lines)
    assert all("\n" not in line for line in lines)  # ...on one line


MUTATIONS = st.sampled_from(
    [b"<", b">", b"&", b"&#0;", b"]]>", b"<!DOCTYPE x>", b"\xff", b"\x00", b"<a>" * 50, b""]
)


@st.composite
def mutated_inform(draw: st.DrawFn) -> bytes:
    base = bytearray(_inform())
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.integers(0, 3))
        at = draw(st.integers(0, len(base)))
        if choice == 0:
            del base[at : at + draw(st.integers(1, 64))]
        elif choice == 1:
            base[at:at] = draw(MUTATIONS)
        elif choice == 2 and at < len(base):
            base[at] = draw(st.integers(0, 255))
        else:
            base[at:at] = draw(st.binary(max_size=32))
    return bytes(base)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.one_of(mutated_inform(), st.binary(max_size=2048)))
async def test_random_and_mutated_bodies(acs: RealAcs, body: bytes) -> None:
    async with cpe_client(acs.url) as cpe:
        reply = await cpe.post(body)
        if reply.status == 200 and isinstance(reply.envelope().body, m.InformResponse):
            await cpe.post(b"")  # a mutation that still informs: let it run, then move on
        await acs.endpoint.close_all("dropped")
    assert reply.status in {200, 204, 400, 401, 413}
    if reply.status == 200:
        assert isinstance(reply.envelope().body, m.CwmpFault | m.InformResponse)
