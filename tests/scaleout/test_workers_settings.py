"""`--workers` and `--session-store`: what they accept, refuse, and hand to each worker."""

from __future__ import annotations

import argparse

import pytest

from traceacs.cli import build_parser
from traceacs.config import SettingsError, load_settings
from traceacs.workers import serve_argv, worker_arguments

PG = "postgresql://acs@db/traceacs"


def serve_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_the_default_keeps_sessions_in_the_process() -> None:
    settings = load_settings(serve_args(), env={})
    assert (settings.session_store, settings.workers, settings.worker_name) == ("memory", 1, "")


def test_session_store_and_workers_come_from_options_or_environment() -> None:
    env = {"TRACEACS_SESSION_STORE": "database", "TRACEACS_WORKERS": "3"}
    settings = load_settings(serve_args("--database-url", PG), env=env)
    assert (settings.session_store, settings.workers) == ("database", 3)
    settings = load_settings(serve_args("--database-url", PG, "--workers", "2"), env=env)
    assert settings.workers == 2


def test_several_workers_need_postgresql() -> None:
    with pytest.raises(SettingsError, match="PostgreSQL"):
        load_settings(serve_args("--workers", "2"), env={})


def test_several_workers_need_fixed_ports() -> None:
    with pytest.raises(SettingsError, match="base ports"):
        load_settings(serve_args("--workers", "2", "--database-url", PG, "--cwmp-port", "0"), {})


def test_bad_values_are_refused_clearly() -> None:
    with pytest.raises(SettingsError, match="workers must be at least 1"):
        load_settings(serve_args("--workers", "0"), env={})
    with pytest.raises(SettingsError, match="session store"):
        load_settings(serve_args(), env={"TRACEACS_SESSION_STORE": "redis"})


def test_each_worker_gets_its_ports_its_name_and_the_shared_store() -> None:
    argv = ["--database-url", PG, "--workers", "2", "--cwmp-port", "9000", "--stun-port", "3478"]
    settings = load_settings(serve_args(*argv), env={})
    for index in (0, 1):
        command = worker_arguments(argv, settings, index)
        assert command[1:4] == ["-m", "traceacs.cli", "serve"]
        parsed = load_settings(build_parser().parse_args(command[3:]), env={})
        assert parsed.workers == 1
        assert parsed.worker_name == str(index)
        assert parsed.session_store == "database"
        assert parsed.cwmp_port == 9000 + index
        assert parsed.api_port == settings.api_port + index
        assert parsed.files_port == settings.files_port + index
        assert parsed.database_url == PG
        assert parsed.stun_port == (3478 if index == 0 else 0)  # one STUN listener


def test_the_serve_options_are_those_after_the_command() -> None:
    assert serve_argv(["serve", "--workers", "2"]) == ["--workers", "2"]
