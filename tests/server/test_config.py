from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from traceacs.cli import build_parser
from traceacs.config import Settings, SettingsError, default_database_url, load_settings


def serve_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_defaults() -> None:
    settings = load_settings(serve_args(), env={})
    assert settings.cwmp_port == 7547
    assert settings.api_port == 7557
    assert settings.files_port == 7567
    assert settings.bind == "127.0.0.1"
    assert settings.data_dir == Path("traceacs-data")
    assert settings.database_url == default_database_url(Path("traceacs-data"))
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("traceacs-data/traceacs.db")
    assert settings.cpe_auth == "both"
    assert settings.allow_unauthenticated_cpes is False
    assert settings.session_timeout == 30.0
    assert settings.tls is False


def test_environment_is_read() -> None:
    env = {
        "TRACEACS_CWMP_PORT": "17547",
        "TRACEACS_API_PORT": "17557",
        "TRACEACS_FILES_PORT": "17567",
        "TRACEACS_BIND": "0.0.0.0",  # noqa: S104
        "TRACEACS_DATA_DIR": "/var/lib/traceacs",
        "TRACEACS_CPE_AUTH": "digest",
        "TRACEACS_CPE_SHARED_SECRET": "fleet",
        "TRACEACS_ALLOW_UNAUTHENTICATED_CPES": "yes",
        "TRACEACS_SESSION_TIMEOUT": "12.5",
        "TRACEACS_MAX_SESSIONS": "9",
    }
    settings = load_settings(serve_args(), env=env)
    assert (settings.cwmp_port, settings.api_port, settings.bind) == (17547, 17557, "0.0.0.0")  # noqa: S104
    assert settings.files_port == 17567
    assert settings.database_url == "sqlite:////var/lib/traceacs/traceacs.db"
    assert settings.cpe_auth == "digest"
    assert settings.cpe_shared_secret == "fleet"
    assert settings.allow_unauthenticated_cpes is True
    assert settings.session_timeout == 12.5
    assert settings.max_sessions == 9


def test_flags_win_over_environment() -> None:
    args = serve_args(
        "--cwmp-port", "1", "--files-port", "4", "--bind", "::1", "--database-url", "postgresql://db/acs",
        "--cpe-auth", "basic", "--allow-unauthenticated-cpes", "--max-sessions", "3",
    )  # fmt: skip
    env = {
        "TRACEACS_CWMP_PORT": "2",
        "TRACEACS_FILES_PORT": "5",
        "TRACEACS_BIND": "10.0.0.1",
        "TRACEACS_CPE_AUTH": "digest",
    }
    settings = load_settings(args, env=env)
    assert (settings.cwmp_port, settings.bind, settings.cpe_auth) == (1, "::1", "basic")
    assert settings.files_port == 4
    assert settings.database_url == "postgresql://db/acs"
    assert settings.allow_unauthenticated_cpes is True
    assert settings.max_sessions == 3


def test_shared_secret_has_no_flag_and_no_repr() -> None:
    with pytest.raises(SystemExit):
        serve_args("--cpe-shared-secret", "x")
    settings = load_settings(serve_args(), env={"TRACEACS_CPE_SHARED_SECRET": "topsecret"})
    assert "topsecret" not in repr(settings)


def test_secret_key_comes_from_the_environment_only_and_has_no_repr() -> None:
    with pytest.raises(SystemExit):
        serve_args("--secret-key", "x")
    settings = load_settings(serve_args(), env={"TRACEACS_SECRET_KEY": "sealing-key-text"})
    assert settings.secret_key == "sealing-key-text"
    assert "sealing-key-text" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRACEACS_CWMP_PORT": "http"}, "integer"),
        ({"TRACEACS_CWMP_PORT": "70000"}, "TCP port"),
        ({"TRACEACS_FILES_PORT": "-1"}, "files_port must be a TCP port"),
        ({"TRACEACS_SESSION_TIMEOUT": "0"}, "positive"),
        ({"TRACEACS_CPE_AUTH": "ntlm"}, "basic, digest, both"),
        ({"TRACEACS_ALLOW_UNAUTHENTICATED_CPES": "maybe"}, "true or false"),
        ({"TRACEACS_TLS_CERT": "/c.pem"}, "both a certificate"),
        ({"TRACEACS_MAX_SESSIONS": "0"}, "at least 1"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(serve_args(), env=env)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.cwmp_port = 1  # type: ignore[misc]


def test_commands_without_serve_options_still_get_the_store() -> None:
    settings = load_settings(argparse.Namespace(data_dir="/srv/acs"), env={})
    assert settings.database_url == "sqlite:////srv/acs/traceacs.db"
