"""A private nginx in front of ACS workers: its config, for the benchmark and the tests.

The master runs with its own prefix, pid file and logs under a temporary directory, on
127.0.0.1, in the foreground: the system's nginx service is never used or touched.
Round robin (nginx's default), no stickiness; keep-alive connections to the workers.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
from pathlib import Path

NGINX = "/usr/sbin/nginx"


def nginx_binary() -> str | None:
    """The nginx executable (Debian's), or None when it is not installed."""
    return NGINX if os.access(NGINX, os.X_OK) else shutil.which("nginx")


def nginx_config(prefix: Path, port: int, upstreams: list[str], *, keepalive: bool = True) -> str:
    """nginx.conf balancing POSTs on 127.0.0.1:``port`` over ``upstreams`` (base URLs)."""
    servers = "\n".join(
        f"        server {u.removeprefix('http://').rstrip('/')};" for u in upstreams
    )
    user = "user root root;" if os.geteuid() == 0 else ""  # workers may read the prefix
    pool = "        keepalive 64;" if keepalive else ""
    return f"""
{user}
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
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


def nginx_argv(binary: str, prefix: Path) -> list[str]:
    return [
        binary,
        "-p",
        str(prefix),
        "-c",
        str(prefix / "nginx.conf"),
        "-e",
        str(prefix / "error.log"),
    ]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_pair() -> int:
    """A port P with P and P + 1 free (`traceacs serve --workers` uses base + i).

    Drawn below Linux's ephemeral range (32768-60999): a port the kernel handed us
    would be handed to other processes' outgoing connections too, and P + 1 could be
    taken by one between this check and the worker's bind.
    """
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two consecutive free ports")
