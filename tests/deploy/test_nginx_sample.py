"""deploy/nginx/traceacs.conf is a valid nginx configuration, balanced without stickiness."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from bench.nginx import nginx_binary

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "traceacs.conf"


def nginx_or_skip() -> str:
    binary = nginx_binary()
    if binary is None:
        reason = "nginx not installed (sh tests/scaleout/ensure-nginx.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the nginx sample must be checked)")
        pytest.skip(reason)
    return binary


def test_the_sample_passes_nginx_t(tmp_path: Path) -> None:
    binary = nginx_or_skip()
    wrapper = tmp_path / "nginx.conf"
    wrapper.write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    client_body_temp_path {tmp_path}/body;\n"
        f"    proxy_temp_path {tmp_path}/proxy;\n"
        f"    fastcgi_temp_path {tmp_path}/f; uwsgi_temp_path {tmp_path}/u;\n"
        f"    scgi_temp_path {tmp_path}/s;\n"
        "    access_log off;\n"
        f"    include {SAMPLE};\n"
        "}\n"
    )
    checked = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(wrapper), "-e", str(tmp_path / "e.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_the_sample_has_no_stickiness_and_never_replays_a_post() -> None:
    directives = [line.split("#", 1)[0].strip() for line in SAMPLE.read_text().splitlines()]
    active = [d for d in directives if d]
    assert not [d for d in active if re.match(r"(ip_hash|hash|sticky)\b", d)]
    assert "proxy_next_upstream error timeout;" in active  # no non_idempotent
    assert sum(d.startswith("server 127.0.0.1:") for d in active) == 4  # 2 CWMP, 2 files
