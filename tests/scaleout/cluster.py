"""Real ACS processes behind a real nginx on 127.0.0.1, for the test and the benchmark.

`serve_workers` runs ``traceacs serve --workers N`` (the supervisor and its N worker
processes, sharing one PostgreSQL database); `nginx_in_front` runs a private nginx
master (its own prefix, pid and logs under a temporary directory, never the system
service) balancing round-robin over the workers, without stickiness.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from bench.nginx import free_port, free_port_pair, nginx_argv, nginx_binary, nginx_config

LISTENING = re.compile(rb"CWMP endpoint listening on (http://127\.0\.0\.1:\d+/)")


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEACS_", "OTEL_"))}
    env["TRACEACS_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


async def _wait_listening(stream: asyncio.StreamReader, count: int) -> list[str]:
    urls: list[str] = []
    seen = b""
    while len(urls) < count:
        line = await asyncio.wait_for(stream.readline(), timeout=60)
        if not line:
            raise AssertionError(f"serve output ended before {count} workers listened: {seen!r}")
        seen += line
        match = LISTENING.search(line)
        if match:
            urls.append(match.group(1).decode())
    return urls


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


@contextlib.asynccontextmanager
async def serve_workers(
    database_url: str, data_dir: Path, workers: int, **env: str
) -> AsyncIterator[list[str]]:
    """``traceacs serve --workers N``; yields the workers' CWMP URLs once all listen."""
    base, api_base, files_base = free_port_pair(), free_port_pair(), free_port_pair()
    if workers > 2:
        raise ValueError("free_port_pair reserves two ports")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "traceacs.cli", "serve",
        "--workers", str(workers),
        "--cwmp-port", str(base), "--api-port", str(api_base),
        "--files-port", str(files_base),
        "--database-url", database_url,
        "--allow-unauthenticated-cpes",
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(data_dir, **env),
    )  # fmt: skip
    assert proc.stderr is not None
    drain: asyncio.Task[None] | None = None
    try:
        urls = await _wait_listening(proc.stderr, workers)
        drain = asyncio.create_task(_drain(proc.stderr))  # keep the pipe from filling
        yield sorted(urls)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain


@contextlib.asynccontextmanager
async def nginx_in_front(
    binary: str, prefix: Path, upstreams: list[str], *, keepalive: bool = True
) -> AsyncIterator[str]:
    """A private nginx balancing over ``upstreams``; yields its URL once it answers."""
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(prefix, port, upstreams, keepalive=keepalive))
    proc = await asyncio.create_subprocess_exec(
        *nginx_argv(binary, prefix),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/acs"
    try:
        await _wait_answers(url, proc)
        yield url
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGQUIT)  # graceful stop of the master and worker
            try:
                await asyncio.wait_for(proc.wait(), timeout=15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _wait_answers(url: str, proc: asyncio.subprocess.Process) -> None:
    """Poll until nginx answers an empty POST (204 from a worker), with a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    async with aiohttp.ClientSession() as http:
        while True:
            if proc.returncode is not None:
                raise AssertionError(f"nginx exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.post(url, data=b"") as response:
                    if response.status == 204:
                        return
            if loop.time() > deadline:
                raise AssertionError("nginx did not answer within 30 s")
            await asyncio.sleep(0.05)


__all__ = ["nginx_binary", "nginx_in_front", "serve_workers"]
