"""The endpoint's cheaper paths give what the general ones gave: ids, cookies, the
session line, the cookie lookup and the admission count."""

from __future__ import annotations

import logging
import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.server.cwmp_client import FakeClock, inform
from traceacs.server.cwmp_endpoint import (
    CwmpEndpoint,
    EndpointSettings,
    _blank,
    session_cookie,
)
from traceacs.server.cwmp_sessions import (
    COOKIE_NAME,
    new_cookie,
    new_session_id,
    new_session_id_and_cookie,
)
from traceacs.server.default_handler import AcceptAllHandlerFactory
from traceacs.server.exchange import CwmpRequest
from traceacs.server.retry_after import AdaptiveRetryAfter

_SESSION_ID = re.compile(r"[0-9a-f]{16}")
_COOKIE = re.compile(r"[A-Za-z0-9_-]{43}")


def test_one_read_gives_an_id_and_a_cookie_shaped_as_the_separate_calls_give_them() -> None:
    assert _SESSION_ID.fullmatch(new_session_id())
    assert _COOKIE.fullmatch(new_cookie())
    pairs = [new_session_id_and_cookie() for _ in range(2_000)]
    for session_id, cookie in pairs:
        assert _SESSION_ID.fullmatch(session_id)
        assert _COOKIE.fullmatch(cookie)  # 32 random bytes, urlsafe base64 unpadded
    ids = {i for i, _ in pairs}
    cookies = {c for _, c in pairs}
    assert len(ids) == len(cookies) == len(pairs)
    assert not ids & {c[:16] for c in cookies}, "the id is not a part of the cookie"


class _Connection:
    def is_closing(self) -> bool:
        return False


async def test_the_session_line_of_a_quiet_periodic_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The exact text, level and logger of the one line per session."""
    caplog.set_level(logging.INFO, logger="traceacs.server.cwmp")
    clock = FakeClock()
    endpoint = CwmpEndpoint(
        AcceptAllHandlerFactory(), authenticator=None, settings=EndpointSettings(), clock=clock
    )
    connection = _Connection()
    reply = await endpoint.handle(
        CwmpRequest("POST", "/acs", inform("SN\n7"), (), None, connection)
    )
    assert reply.status == 200
    assert reply.set_cookie is not None
    cookie_name, _, rest = reply.set_cookie.partition("=")
    cookie = rest.split(";")[0]
    assert cookie_name == COOKIE_NAME
    assert _COOKIE.fullmatch(cookie)
    assert reply.set_cookie == f"{COOKIE_NAME}={cookie}; HttpOnly; Path=/"
    clock.advance(0.042)
    empty = CwmpRequest("POST", "/acs", b"", (f"{COOKIE_NAME}={cookie}",), None, connection)
    assert (await endpoint.handle(empty)).status == 204
    (record,) = [r for r in caplog.records if r.getMessage().startswith("cwmp session")]
    assert record.name == "traceacs.server.cwmp"
    assert record.levelno == logging.INFO
    assert re.fullmatch(
        r"cwmp session [0-9a-f]{16} device=00D09E-SN\\n7 events=0 BOOTSTRAP,1 BOOT "
        r"result=completed duration_ms=42 cpe_requests=0 acs_rpcs=0",
        record.getMessage(),
    ), record.getMessage()
    assert cookie not in caplog.text


def test_a_secure_endpoint_marks_its_cookie_secure() -> None:
    endpoint = CwmpEndpoint(
        AcceptAllHandlerFactory(),
        authenticator=None,
        settings=EndpointSettings(secure_cookie=True),
    )
    assert endpoint._cookie_header("abc") == f"{COOKIE_NAME}=abc; HttpOnly; Path=/; Secure"


def _reference_session_cookie(cookies: tuple[str, ...]) -> str | None:
    """`session_cookie` as it was, without the one-header shortcut."""
    for header in cookies:
        for part in re.split(r"[;,]", header):
            name, _, value = part.strip().partition("=")
            if name.strip() == COOKIE_NAME:
                return value.strip().strip('"')
    return None


def _request(cookies: tuple[str, ...]) -> CwmpRequest:
    return CwmpRequest("POST", "/", b"", cookies)


@pytest.mark.parametrize(
    "header",
    [
        f"{COOKIE_NAME}=abc",
        f" {COOKIE_NAME}=abc ",
        f'{COOKIE_NAME}="abc"',
        f"{COOKIE_NAME}= abc",
        f"{COOKIE_NAME}=a=b",
        f"{COOKIE_NAME}=",
        f"{COOKIE_NAME} =abc",
        f"{COOKIE_NAME}=abc; other=1",
        f"other=1, {COOKIE_NAME}=abc",
        f"{COOKIE_NAME}x=abc",
        f"x{COOKIE_NAME}=abc",
        "other=1",
        "",
    ],
)
def test_session_cookie_equals_the_general_parse(header: str) -> None:
    for cookies in ((header,), (header, f"{COOKIE_NAME}=second"), ("z=1", header)):
        assert session_cookie(_request(cookies)) == _reference_session_cookie(cookies)


_PIECES = st.sampled_from([COOKIE_NAME, "=", ";", ",", " ", '"', "a", "Z9", "-_", "\t", "x="])


@given(st.lists(st.lists(_PIECES, max_size=8).map("".join), min_size=0, max_size=3))
def test_session_cookie_equals_the_general_parse_on_any_header(headers: list[str]) -> None:
    cookies = tuple(headers)
    assert session_cookie(_request(cookies)) == _reference_session_cookie(cookies)


def test_admitted_counts_as_the_general_bucket_path() -> None:
    """The current-second shortcut of `AdaptiveRetryAfter.admitted` books exactly what
    `_bucket` books, across new seconds, expired windows and a clock stepping back."""
    rng = random.Random(7)
    fast, reference = AdaptiveRetryAfter(), AdaptiveRetryAfter()
    window = fast.policy.window
    # Every second of a window twice (the oldest bucket falls out exactly when the
    # window has passed), then random steps.
    steps = [1.0, 0.0] * (3 * window) + [
        rng.choice([0.0, 0.001, 0.3, 1.0, -0.5, 45.0, 200.0]) for _ in range(5_000)
    ]
    now = 1_000.0
    for step in steps:
        now += step
        fast.admitted(now)
        reference._bucket(now)[1] += 1
        assert list(fast._buckets) == list(reference._buckets)
    assert fast.capacity(now) == reference.capacity(now)


@given(st.binary(max_size=64) | st.sampled_from([b"", b" ", b"\r\n\t\x0b\x0c", b"\x85", b"\xa0"]))
def test_a_blank_body_is_what_stripping_it_leaves_empty(body: bytes) -> None:
    """The empty POST test that copies nothing says what ``not body.strip()`` said."""
    assert _blank(body) == (not body.strip())
