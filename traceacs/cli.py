"""The `traceacs` command line: one sub-command per job an operator does."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from traceacs import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="traceacs",
        description="TraceACS: a TR-069 / CWMP ACS with provisioning traced end to end.",
    )
    parser.add_argument("--version", action="version", version=f"traceacs {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
