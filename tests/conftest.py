"""Suite-wide fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own data directory: commands run without ``--data-dir``
    would otherwise create ``./traceacs-data`` (and its secret key) in the checkout,
    shared by every later test and run."""
    monkeypatch.setenv("TRACEACS_DATA_DIR", str(tmp_path / "traceacs-data"))
