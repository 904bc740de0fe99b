"""Serializer details not covered by the round trip: refusals and the exact layout."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.cwmp.errors import CwmpError, CwmpSerializeError


@pytest.mark.parametrize("bad", ["key\x00", "\x1b[31m", "\ud800", "\uffff"])
def test_text_xml_cannot_carry_is_refused_without_quoting_it(bad: str) -> None:
    secret = f"hunter2{bad}"
    spv = m.SetParameterValues((m.ParameterValueStruct("Device.X.KeyPassphrase", secret),))
    with pytest.raises(CwmpSerializeError) as info:
        serialize_envelope(m.Envelope(spv))
    assert "hunter2" not in str(info.value)
    assert isinstance(info.value, CwmpError)


def test_datetime_that_leaves_the_calendar_in_utc_is_refused() -> None:
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    with pytest.raises(CwmpSerializeError):
        serialize_envelope(m.Envelope(m.DownloadResponse(0, early, early)))


def test_exact_inform_response_layout() -> None:
    wire = serialize_envelope(
        m.Envelope(m.InformResponse(), cwmp_id="7", namespace="urn:dslforum-org:cwmp-1-2")
    )
    assert wire == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"'
        b' xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/"'
        b' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        b' xmlns:cwmp="urn:dslforum-org:cwmp-1-2">'
        b'<soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">7</cwmp:ID></soap-env:Header>'
        b"<soap-env:Body><cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes>"
        b"</cwmp:InformResponse></soap-env:Body></soap-env:Envelope>"
    )


def test_download_credentials_travel_on_the_wire_but_not_in_reprs() -> None:
    download = m.Download("c", "1 Firmware Upgrade Image", "https://f/x", "user", "s3cret")
    assert b"<Password>s3cret</Password>" in serialize_envelope(m.Envelope(download))
    assert "s3cret" not in repr(parse_envelope(serialize_envelope(m.Envelope(download))))


def test_parsing_from_several_threads() -> None:
    envelopes = [
        m.Envelope(
            m.GetParameterValues(tuple(f"Device.X.{i}.{j}" for j in range(50))), cwmp_id=str(i)
        )
        for i in range(64)
    ]
    wires = [serialize_envelope(e) for e in envelopes]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(parse_envelope, wires)) == envelopes
