"""The HTTP BSS source against a real aiohttp server on 127.0.0.1.

Backoff never really sleeps: a recording sleeper stands in for ``asyncio.sleep`` and the
tests assert the delays that were asked for. The only real wait is the client timeout
against the slow server (a fraction of a second, the thing under test).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.profiles.fake_bss import PROFILE, FakeBss, closed_port
from traceacs.profiles.circuit_breaker import CircuitBreaker, CircuitState
from traceacs.profiles.http import HttpProfileSource, RetryPolicy
from traceacs.profiles.source import ProfileNotFound, ProfileSource, ProfileSourceUnavailable

TOKEN = "bss-bearer-token-s3cr3t"


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def bss() -> AsyncIterator[FakeBss]:
    server = FakeBss()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_source(sleep: RecordingSleep, clock: FakeClock) -> AsyncIterator[Any]:
    made: list[HttpProfileSource] = []

    def make(base_url: str, **kwargs: Any) -> HttpProfileSource:
        options: dict[str, Any] = {
            "token": TOKEN,
            "timeout": 2.0,
            "retry": RetryPolicy(attempts=3, base_delay=0.2, max_delay=5.0, jitter=0.5),
            "sleep": sleep,
            "clock": clock,
            "random_fraction": lambda: 0.0,
        }
        options.update(kwargs)
        source = HttpProfileSource(base_url, **options)
        made.append(source)
        return source

    yield make
    for source in made:
        await source.close()


async def test_healthy_bss_returns_the_profile(bss: FakeBss, make_source: Any) -> None:
    source: ProfileSource = make_source(bss.base_url)
    profile = await source.fetch("C-1", "fiber-100")
    assert profile.name == "fiber-100"
    assert profile.version == "9"
    assert profile.wifi is not None
    assert profile.wifi.passphrase == PROFILE["wifi"]["passphrase"]
    (seen,) = bss.requests
    assert seen.raw_path == "/bss/customers/C-1/service-profile?plan=fiber-100"
    assert seen.authorization == f"Bearer {TOKEN}"


@pytest.mark.parametrize("customer_id", ["a/b?c=d", "über kunde#1", "..", "%41"])
async def test_customer_id_is_one_quoted_path_segment(
    bss: FakeBss, make_source: Any, customer_id: str
) -> None:
    await make_source(bss.base_url).fetch(customer_id, "plan & more")
    (seen,) = bss.requests
    assert seen.customer_id == customer_id
    assert seen.plan == "plan & more"
    # No literal dot segment: a proxy in front of the BSS would resolve it away.
    segments = seen.raw_path.split("?")[0].split("/")
    assert segments[:3] == ["", "bss", "customers"]
    assert segments[4:] == ["service-profile"]
    assert segments[3] not in (".", "..")


async def test_no_token_no_authorization_header(bss: FakeBss, make_source: Any) -> None:
    await make_source(bss.base_url, token=None).fetch("C-1", "p")
    assert bss.requests[0].authorization is None


async def test_404_is_not_found_without_retry(
    bss: FakeBss, make_source: Any, sleep: RecordingSleep
) -> None:
    bss.mode = "status:404"
    with pytest.raises(ProfileNotFound):
        await make_source(bss.base_url).fetch("C-1", "gold")
    assert len(bss.requests) == 1
    assert sleep.delays == []


async def test_500s_then_recovery_with_exponential_backoff(
    bss: FakeBss, make_source: Any, sleep: RecordingSleep
) -> None:
    bss.script = ["status:500", "status:502"]
    profile = await make_source(bss.base_url).fetch("C-1", "fiber-100")
    assert profile.name == "fiber-100"
    assert len(bss.requests) == 3
    assert sleep.delays == pytest.approx([0.2, 0.4])


async def test_persistent_500s_give_up_after_all_attempts(
    bss: FakeBss, make_source: Any, sleep: RecordingSleep
) -> None:
    bss.mode = "status:500"
    with pytest.raises(ProfileSourceUnavailable) as info:
        await make_source(bss.base_url).fetch("C-1", "p")
    assert info.value.kind == "http_status"
    assert "HTTP 500" in info.value.reason
    assert "after 3 attempts" in info.value.reason
    assert len(bss.requests) == 3
    assert sleep.delays == pytest.approx([0.2, 0.4])


async def test_jitter_shortens_delays_and_max_delay_caps_them(
    bss: FakeBss, make_source: Any, sleep: RecordingSleep
) -> None:
    bss.mode = "status:500"
    source = make_source(
        bss.base_url,
        retry=RetryPolicy(attempts=5, base_delay=1.0, max_delay=3.0, jitter=0.5),
        random_fraction=lambda: 1.0,
    )
    with pytest.raises(ProfileSourceUnavailable):
        await source.fetch("C-1", "p")
    # 1, 2, 4->3, 8->3, each halved by full jitter.
    assert sleep.delays == pytest.approx([0.5, 1.0, 1.5, 1.5])


async def test_retry_after_of_a_503_is_honoured(
    bss: FakeBss, make_source: Any, sleep: RecordingSleep
) -> None:
    bss.script = ["status:503"]
    await make_source(bss.base_url).fetch("C-1", "p")
    assert sleep.delays == pytest.approx([2.0])


async def test_down_bss_is_unavailable_after_retries(
    make_source: Any, sleep: RecordingSleep
) -> None:
    source = make_source(f"http://127.0.0.1:{closed_port()}/bss")
    with pytest.raises(ProfileSourceUnavailable) as info:
        await source.fetch("C-1", "p")
    assert info.value.kind == "connection"
    assert sleep.delays == pytest.approx([0.2, 0.4])
    assert TOKEN not in str(info.value)


async def test_slow_bss_times_out(bss: FakeBss, make_source: Any, sleep: RecordingSleep) -> None:
    bss.mode = "slow"
    source = make_source(bss.base_url, timeout=0.2, retry=RetryPolicy(attempts=2))
    with pytest.raises(ProfileSourceUnavailable) as info:
        await source.fetch("C-1", "p")
    assert info.value.kind == "timeout"
    assert len(bss.requests) == 2
    assert sleep.delays == pytest.approx([0.2])


@pytest.mark.parametrize(
    ("mode", "kind", "text"),
    [
        ("html", "invalid_response", "not JSON (Content-Type text/html)"),
        ("invalid_json", "invalid_response", "not JSON (Content-Type application/json)"),
        ("json_list", "invalid_response", "JSON but not an object (got list)"),
        ("invalid_profile", "invalid_profile", "vlans.internet: 5000 is out of range 1-4094"),
        ("status:400", "http_status", "HTTP 400"),
        ("status:401", "http_status", "refused our credentials (HTTP 401)"),
        ("redirect", "http_status", "HTTP 302"),
    ],
)
async def test_garbage_and_refusals_fail_at_once(
    bss: FakeBss, make_source: Any, sleep: RecordingSleep, mode: str, kind: str, text: str
) -> None:
    bss.mode = mode
    with pytest.raises(ProfileSourceUnavailable) as info:
        await make_source(bss.base_url).fetch("C-1", "p")
    assert info.value.kind == kind
    assert text in str(info.value)
    assert len(bss.requests) == 1
    assert sleep.delays == []
    message = str(info.value)
    for secret in (TOKEN, "bss-wifi-key-123", "bss-sip-pw", "Gateway login"):
        assert secret not in message


async def test_oversized_answer_is_refused(bss: FakeBss, make_source: Any) -> None:
    bss.mode = "huge"
    with pytest.raises(ProfileSourceUnavailable, match="larger than 1000 bytes"):
        await make_source(bss.base_url, max_body_bytes=1000).fetch("C-1", "p")


async def test_breaker_opens_fails_fast_probes_and_closes(
    bss: FakeBss, make_source: Any, clock: FakeClock
) -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=30.0)
    source = make_source(bss.base_url, breaker=breaker, retry=RetryPolicy(attempts=1))
    bss.mode = "status:500"
    for _ in range(2):
        with pytest.raises(ProfileSourceUnavailable) as info:
            await source.fetch("C-1", "p")
        assert info.value.kind == "http_status"
    assert breaker.state(clock()) is CircuitState.OPEN
    assert len(bss.requests) == 2

    bss.mode = "healthy"
    clock.now += 29.0
    with pytest.raises(ProfileSourceUnavailable) as info:
        await source.fetch("C-1", "p")
    assert info.value.kind == "circuit_open"
    assert len(bss.requests) == 2  # failed fast: the BSS was not asked

    clock.now += 1.0  # half-open: one probe goes through, succeeds, closes the breaker
    assert (await source.fetch("C-1", "p")).name == "fiber-100"
    assert breaker.state(clock()) is CircuitState.CLOSED
    assert len(bss.requests) == 3
    await source.fetch("C-2", "p")
    assert len(bss.requests) == 4


async def test_failed_probe_reopens_the_breaker(
    bss: FakeBss, make_source: Any, clock: FakeClock
) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30.0)
    source = make_source(bss.base_url, breaker=breaker, retry=RetryPolicy(attempts=1))
    bss.mode = "status:503"
    with pytest.raises(ProfileSourceUnavailable):
        await source.fetch("C-1", "p")
    clock.now += 30.0
    with pytest.raises(ProfileSourceUnavailable) as info:
        await source.fetch("C-1", "p")
    assert info.value.kind == "http_status"  # the probe reached the BSS and failed
    assert len(bss.requests) == 2
    with pytest.raises(ProfileSourceUnavailable) as info:
        await source.fetch("C-1", "p")
    assert info.value.kind == "circuit_open"
    assert len(bss.requests) == 2


async def test_only_one_probe_while_half_open(
    bss: FakeBss, make_source: Any, clock: FakeClock
) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30.0)
    source = make_source(bss.base_url, breaker=breaker, retry=RetryPolicy(attempts=1))
    bss.mode = "status:500"
    with pytest.raises(ProfileSourceUnavailable):
        await source.fetch("C-1", "p")
    bss.request_arrived.clear()
    bss.mode = "slow"
    clock.now += 30.0
    probe = asyncio.create_task(source.fetch("C-1", "p"))
    await bss.request_arrived.wait()
    with pytest.raises(ProfileSourceUnavailable) as info:
        await source.fetch("C-2", "p")
    assert info.value.kind == "circuit_open"
    bss.release.set()
    assert (await probe).name == "fiber-100"
    assert breaker.state(clock()) is CircuitState.CLOSED
    assert len(bss.requests) == 2


async def test_well_formed_answers_do_not_open_the_breaker(
    bss: FakeBss, make_source: Any, clock: FakeClock
) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30.0)
    source = make_source(bss.base_url, breaker=breaker)
    for mode in ("status:404", "invalid_profile", "status:400"):
        bss.mode = mode
        with pytest.raises((ProfileNotFound, ProfileSourceUnavailable)):
            await source.fetch("C-1", "p")
        assert breaker.state(clock()) is CircuitState.CLOSED, mode


async def test_token_never_logged_nor_in_repr(
    bss: FakeBss, make_source: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bss.mode = "status:500"
    source = make_source(bss.base_url)
    with pytest.raises(ProfileSourceUnavailable) as info:
        await source.fetch("C-1", "p")
    assert "retrying in 0.20s" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(source)
    assert TOKEN not in str(info.value)


def test_credentials_in_the_url_are_refused() -> None:
    with pytest.raises(ValueError, match="must not carry credentials") as info:
        HttpProfileSource("http://user:hunter2@127.0.0.1/bss")
    assert "hunter2" not in str(info.value)


async def test_injected_session_is_left_open_owned_one_is_closed(bss: FakeBss) -> None:
    async with aiohttp.ClientSession() as session:
        source = HttpProfileSource(bss.base_url, session=session)
        await source.fetch("C-1", "p")
        await source.close()
        assert not session.closed
    owned = HttpProfileSource(bss.base_url)
    async with owned:
        await owned.fetch("C-1", "p")
        inner = owned._session
        assert inner is not None
    assert inner.closed
