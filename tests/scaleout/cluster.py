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
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

NGINX = "/usr/sbin/nginx"
LISTENING = re.compile(rb"CWMP endpoint listening on (http://127\.0\.0\.1:\d+/)")


def nginx_binary() -> str | None:
    return NGINX if os.access(NGINX, os.X_OK) else shutil.which("nginx")


def free_port_pair() -> int:
    """A port P with P and P + 1 free (worker i listens on base + i)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no two consecutive free ports")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    base, api_base = free_port_pair(), free_port_pair()
    if workers > 2:
        raise ValueError("free_port_pair reserves two ports")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "traceacs.cli", "serve",
        "--workers", str(workers),
        "--cwmp-port", str(base), "--api-port", str(api_base),
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


def nginx_config(prefix: Path, port: int, upstreams: list[str], *, keepalive: bool) -> str:
    servers = "\n".join(
        f"        server {u.removeprefix('http://').rstrip('/')};" for u in upstreams
    )
    user = "user root root;" if os.geteuid() == 0 else ""
    pool = "        keepalive 16;" if keepalive else ""
    return f"""
{user}
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 2m;
    upstream traceacs_cwmp {{
{servers}
{pool}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://traceacs_cwmp;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


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
        binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
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
