"""The committed tables are exactly what tools/gen_datamodel.py makes from the XML."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import gen_datamodel

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "traceacs" / "datamodel"

pytestmark = pytest.mark.skipif(
    not gen_datamodel.DEFAULT_SOURCE.is_dir(),
    reason=f"the BBF XML is not at {gen_datamodel.DEFAULT_SOURCE} (../shared absent)",
)


@pytest.fixture(scope="module")
def generated() -> dict[str, bytes]:
    return gen_datamodel.generate(gen_datamodel.DEFAULT_SOURCE)


@pytest.mark.parametrize("file_name", sorted(gen_datamodel.MODELS))
def test_committed_table_matches_generator(generated: dict[str, bytes], file_name: str) -> None:
    committed = (PACKAGE_DIR / file_name).read_bytes()
    assert committed == generated[file_name], (
        f"{file_name} is stale: run `.venv/bin/python -m tools.gen_datamodel`"
    )


@pytest.mark.parametrize("file_name", sorted(gen_datamodel.MODELS))
def test_table_is_compact(file_name: str) -> None:
    assert (PACKAGE_DIR / file_name).stat().st_size < 256 * 1024


def test_generation_is_deterministic(generated: dict[str, bytes]) -> None:
    assert gen_datamodel.generate(gen_datamodel.DEFAULT_SOURCE) == generated
