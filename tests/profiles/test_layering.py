"""The port and the embedded source must stay importable without aiohttp."""

from __future__ import annotations

import subprocess
import sys


def test_source_and_embedded_do_not_import_aiohttp() -> None:
    code = (
        "import sys, traceacs.profiles.source, traceacs.profiles.embedded;"
        "sys.exit(1 if 'aiohttp' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
