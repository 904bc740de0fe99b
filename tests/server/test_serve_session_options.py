"""`traceacs serve --abandoned-after / --retry-after-min / --retry-after-max` reach the endpoint.

The options are parsed by the real `serve` parser and `load_settings`, the endpoint is
built by `traceacs.app.build_cwmp_endpoint` (what `serve` runs) with an injected
`FakeClock`, and spoken to over HTTP; one test runs `traceacs serve` as a subprocess.
Each case is chosen so that the endpoint's defaults (10 s, 5-300 s) would answer otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.server.cwmp_client import FakeClock, OneRpcFactory, decode, inform, running
from tests.server.test_abandoned_sessions import DEVICE, inform_on_new_connection
from tests.server.test_serve_command import LISTENING, clean_env, read_until, register
from traceacs.app import build_cwmp_endpoint
from traceacs.cli import build_parser
from traceacs.config import Settings, SettingsError, load_settings
from traceacs.cwmp import messages as m
from traceacs.cwmp.faults import RETRY_REQUEST
from traceacs.server.cwmp_sessions import connection_closed


def serve_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", "--allow-unauthenticated-cpes", *argv])


def test_defaults_are_the_endpoints() -> None:
    settings = load_settings(serve_args(), env={})
    assert settings.abandoned_after == 10.0
    assert (settings.retry_after_min, settings.retry_after_max) == (5, 300)
    endpoint = build_cwmp_endpoint(settings)
    assert endpoint.settings.abandoned_after == 10.0
    assert endpoint.settings.retry_after is not None
    assert (endpoint.settings.retry_after.minimum, endpoint.settings.retry_after.maximum) == (
        5,
        300,
    )


def test_environment_is_read_and_flags_win() -> None:
    env = {
        "TRACEACS_ABANDONED_AFTER": "4.5",
        "TRACEACS_RETRY_AFTER_MIN": "11",
        "TRACEACS_RETRY_AFTER_MAX": "99",
    }
    from_env = load_settings(serve_args(), env=env)
    assert from_env.abandoned_after == 4.5
    assert (from_env.retry_after_min, from_env.retry_after_max) == (11, 99)
    args = serve_args(
        "--abandoned-after", "2", "--retry-after-min", "20", "--retry-after-max", "30"
    )  # fmt: skip
    from_flags = load_settings(args, env=env)
    assert from_flags.abandoned_after == 2.0
    assert (from_flags.retry_after_min, from_flags.retry_after_max) == (20, 30)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--abandoned-after", "0"], {}, "abandoned-after must be a positive number"),
        ([], {"TRACEACS_ABANDONED_AFTER": "-3"}, "abandoned-after must be a positive number"),
        ([], {"TRACEACS_ABANDONED_AFTER": "nan"}, "abandoned-after must be a positive number"),
        ([], {"TRACEACS_ABANDONED_AFTER": "soon"}, "abandoned-after must be a number"),
        (
            ["--abandoned-after", "45"],
            {},
            r"abandoned-after \(45 s\) must not exceed the session timeout \(30 s\)",
        ),
        (
            ["--session-timeout", "5"],
            {"TRACEACS_ABANDONED_AFTER": "6"},
            "must not exceed the session timeout",
        ),
        (["--retry-after-min", "0"], {}, "retry-after-min must be at least 1 second"),
        ([], {"TRACEACS_RETRY_AFTER_MAX": "1.5"}, "retry-after-max must be an integer"),
        (
            ["--retry-after-min", "60", "--retry-after-max", "30"],
            {},
            r"retry-after-max \(30 s\) must not be below retry-after-min \(60 s\)",
        ),
        ([], {"TRACEACS_RETRY_AFTER_MIN": "400"}, "must not be below retry-after-min"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(
    argv: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(serve_args(*argv), env=env)


def test_the_default_abandoned_after_stays_valid_under_a_short_session_timeout() -> None:
    # Only an explicit --abandoned-after is checked against the timeout: existing
    # deployments with --session-timeout below 10 s keep starting.
    settings = load_settings(serve_args("--session-timeout", "2"), env={})
    assert (settings.session_timeout, settings.abandoned_after) == (2.0, 10.0)
    with pytest.raises(SettingsError, match="retry-after"):
        Settings(retry_after_min=10, retry_after_max=9)


@pytest.mark.parametrize("abandoned_after", [3.0, 20.0])
async def test_an_open_but_silent_session_is_replaced_after_the_configured_time(
    abandoned_after: float,
) -> None:
    """Shorter and longer than the default 10 s: the default would fail either case."""
    clock = FakeClock()
    factory = OneRpcFactory()
    settings = load_settings(
        serve_args("--abandoned-after", f"{abandoned_after:g}", "--session-timeout", "60"),
        env={},
    )
    endpoint = build_cwmp_endpoint(settings, factory, clock=clock)
    async with running(endpoint, sweep_interval=3600) as url, aiohttp.ClientSession() as first:
        await (await first.post(url, data=inform("HALF9"))).read()
        session = endpoint.registry.for_device(DEVICE.format("HALF9"))
        assert session is not None
        assert not connection_closed(session.connection)  # half-open: only silence tells

        clock.advance(abandoned_after - 0.5)
        answer = await inform_on_new_connection(url, "HALF9")
        assert isinstance(answer.body, m.CwmpFault)
        assert answer.body.fault_code == RETRY_REQUEST
        assert factory.journal.ends == []

        clock.advance(0.5)
        answer = await inform_on_new_connection(url, "HALF9")
        assert isinstance(answer.body, m.InformResponse)
        assert factory.journal.ends == ["abandoned"]


async def test_overload_retry_after_stays_within_the_configured_bounds() -> None:
    clock = FakeClock()  # frozen: every refusal books the next slot of the same second
    factory = OneRpcFactory()
    args = serve_args("--max-sessions", "1", "--retry-after-min", "7", "--retry-after-max", "9")
    endpoint = build_cwmp_endpoint(load_settings(args, env={}), factory, clock=clock)
    async with running(endpoint, sweep_interval=3600) as url, aiohttp.ClientSession() as held:
        async with held.post(url, data=inform("HOLD1")) as resp:
            assert resp.status == 200
        answers = []
        for n in range(20):
            async with (
                aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as cpe,
                cpe.post(url, data=inform(f"LATE{n}")) as resp,
            ):
                assert resp.status == 503
                answers.append(int(resp.headers["Retry-After"]))
    assert all(7 <= a <= 9 for a in answers), answers
    # 20 appointments at the floor rate need more than 2 s: the later ones hit the maximum.
    assert answers[-1] == 9
    assert len(factory.journal.informs) == 1


async def test_traceacs_serve_answers_503_with_retry_after_from_its_options(
    tmp_path: Path,
) -> None:
    await register(tmp_path / "data", "HOLD2")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "traceacs.cli", "serve",
        "--cwmp-port", "0", "--bind", "127.0.0.1", "--allow-unauthenticated-cpes",
        "--max-sessions", "1", "--session-timeout", "600", "--retry-after-min", "40",
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(tmp_path, TRACEACS_RETRY_AFTER_MAX="50"),
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        match, _ = await read_until(proc.stderr, LISTENING)
        url = match.group(1).decode()
        async with aiohttp.ClientSession() as held:
            async with held.post(url, data=inform("HOLD2")) as resp:  # holds the one slot
                assert isinstance(decode(await resp.read()).body, m.InformResponse)
            for serial in ("LATE1", "LATE2", "LATE3"):
                async with (
                    aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as cpe,
                    cpe.post(url, data=inform(serial)) as resp,
                ):
                    assert resp.status == 503
                    assert 40 <= int(resp.headers["Retry-After"]) <= 50
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=30)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--retry-after-min", "60", "--retry-after-max", "30"], {}, b"must not be below"),
        ([], {"TRACEACS_ABANDONED_AFTER": "0"}, b"abandoned-after must be a positive number"),
        (["--abandoned-after", "31"], {}, b"must not exceed the session timeout"),
    ],
)
async def test_traceacs_serve_refuses_bad_values_before_listening(
    tmp_path: Path, argv: list[str], env: dict[str, str], message: bytes
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "traceacs.cli", "serve", "--cwmp-port", "0",
        "--allow-unauthenticated-cpes", *argv,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(tmp_path, **env),
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 2, err
    assert err.startswith(b"traceacs serve: ")
    assert message in err
    assert b"Traceback" not in err
