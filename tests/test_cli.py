from __future__ import annotations

import pytest

from traceacs.cli import main


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "traceacs" in capsys.readouterr().out
