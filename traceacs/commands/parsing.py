"""How the operator commands declare themselves, so every ``--help`` looks the same.

Each leaf command gets the store options of ``serve`` (``--data-dir``,
``--database-url``), a wrapped description, and an epilog listing the exit codes and
a few examples kept as written.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from traceacs.commands.output import EXIT_CODES_HELP
from traceacs.config import add_store_arguments

Commands = Any  # argparse's _SubParsersAction is private


def non_negative_int(text: str) -> int:
    """An ``argparse`` type for counts such as ``--limit`` and ``--offset``: a clear
    usage error for ``abc`` or ``-1`` instead of a traceback or a silent empty page."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _epilog(examples: str) -> str:
    if not examples:
        return EXIT_CODES_HELP
    return f"{EXIT_CODES_HELP}\n\nexamples:\n{textwrap.indent(examples, '  ')}"


def group_parser(commands: Commands, name: str, help_text: str, description: str) -> Commands:
    """``traceacs <name> ACTION``: returns the sub-parsers to add actions to."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help_text,
        description=textwrap.fill(description, 79),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)


def leaf_parser(
    group: Commands,
    name: str,
    help_text: str,
    description: str,
    examples: str = "",
    *,
    store: bool = True,
) -> argparse.ArgumentParser:
    """One action, with the store options unless ``store=False``."""
    parser: argparse.ArgumentParser = group.add_parser(
        name,
        help=help_text,
        description=textwrap.fill(description, 79),
        epilog=_epilog(examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if store:
        add_store_arguments(parser)
    return parser
