"""Command line: thin wrappers around the library functions."""

from __future__ import annotations

import argparse
import logging
import sys

from ..console import to_console
from ..errors import ConfigError, DataError
from .parse_run import add_run_commands
from .parse_use import add_use_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mtl-aug", description=__doc__)
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print warnings and errors only (progress bars and command results aside)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_commands(sub)
    add_use_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    to_console(logging.WARNING if args.quiet else logging.INFO)
    try:
        args.func(args)
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
