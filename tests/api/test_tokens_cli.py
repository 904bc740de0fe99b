"""``traceacs tokens create|list|revoke`` against a SQLite store in ``tmp_path``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from traceacs.auth.tokens import ApiToken, authenticate, hash_token
from traceacs.cli import main
from traceacs.config import default_database_url
from traceacs.storage import open_repository
from traceacs.storage.api_store import SqlApiStore


def run(capsys: pytest.CaptureFixture[str], data_dir: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["tokens", *argv, "--data-dir", str(data_dir)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check(data_dir: Path, token: str) -> tuple[ApiToken | None, list[str]]:
    async def work() -> tuple[ApiToken | None, list[str]]:
        repo = await open_repository(default_database_url(data_dir))
        try:
            rows = await repo.db.fetch("SELECT token_hash FROM api_tokens")
            found = await authenticate(SqlApiStore(repo.db), token)
            return found, [r["token_hash"] for r in rows]
        finally:
            await repo.close()

    return asyncio.run(work())


def test_create_list_revoke(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, tmp_path, "create", "--role", "write", "--name", "oss")
    assert code == 0
    token = out.strip()
    assert token.startswith("tacs_")
    assert "shown only now" in err
    found, hashes = check(tmp_path, token)
    assert found is not None
    assert (found.name, found.role) == ("oss", "write")
    assert hashes == [hash_token(token)]  # stored hashed, never in clear

    code, out, _ = run(capsys, tmp_path, "create", "--role", "read", "--json")
    assert code == 0
    created = json.loads(out)
    assert (created["role"], created["name"]) == ("read", "read-token")

    code, out, _ = run(capsys, tmp_path, "list")
    assert code == 0
    assert "oss" in out
    assert "read-token" in out
    assert token not in out
    code, out, _ = run(capsys, tmp_path, "list", "--json")
    listed = json.loads(out)
    assert [(t["id"], t["revoked_at"]) for t in listed] == [(1, None), (2, None)]

    code, out, _ = run(capsys, tmp_path, "revoke", "1")
    assert code == 0
    assert check(tmp_path, token)[0] is None
    code, _, err = run(capsys, tmp_path, "revoke", "1")
    assert code == 4
    assert "no active token" in err
    code, out, _ = run(capsys, tmp_path, "list", "--json")
    assert json.loads(out)[0]["revoked_at"] is not None


def test_bad_role_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["tokens", "create", "--role", "admin", "--data-dir", str(tmp_path)])
    assert exit_info.value.code == 2


def test_list_without_a_store_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, tmp_path / "missing", "list")
    assert code == 3
    assert "no TraceACS store" in err
