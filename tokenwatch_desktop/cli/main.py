"""The `tokenwatch` command: spend per provider or account, `all`, `setup`, `status`, `export`.

Exit status: 0 when no selected account has status `error`, 1 when at least one has (the others
are still printed), 2 for invalid usage (unknown provider or account, bad period, bad date).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from tokenwatch_desktop import __version__
from tokenwatch_desktop.core.errors import UsageError
from tokenwatch_desktop.core.periods import PERIODS, parse_spec
from tokenwatch_desktop.core.report import Report, to_json

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
COMMANDS = ("setup", "status", "export")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors raise instead of exiting, so `main` owns exit codes."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(message)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", help="config file to use instead of the default")
    parser.add_argument("--debug", action="store_true",
                        help="log each HTTP call (method, path, status, time) to stderr; never a key")
    parser.add_argument("--demo", action="store_true",
                        help="use built-in sample accounts served by an in-process fake")


def _add_period(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--period", metavar="P",
                        help=f"one of {', '.join(PERIODS)} (default: the config's, else 30d)")
    parser.add_argument("--since", metavar="DATE", help="first day, YYYY-MM-DD (inclusive)")
    parser.add_argument("--until", metavar="DATE", help="last day, YYYY-MM-DD (inclusive)")


def report_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tokenwatch",
        description="Show what you spend on LLM APIs and what your coding agents use.",
        epilog="Other commands: tokenwatch setup | status | export (each with --help).",
    )
    parser.add_argument("target", metavar="PROVIDER|ACCOUNT|all",
                        help="a provider id (every account of it), an account id, or all")
    _add_period(parser)
    parser.add_argument("--by", choices=("model", "project", "key"),
                        help="also split costs by project or API key where the provider can")
    parser.add_argument("--json", action="store_true", help="print one JSON document (schema 1)")
    parser.add_argument("--refresh-all", action="store_true",
                        help="rescan local logs from the start instead of only what was appended")
    parser.add_argument("--version", action="version", version=f"tokenwatch {__version__}")
    _add_common(parser)
    return parser


def setup_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tokenwatch setup",
                     description="Create or update an account and store its key in the OS keyring.")
    parser.add_argument("account", nargs="?", help="account id (default: the provider id)")
    parser.add_argument("--provider", help="provider id for a new account")
    parser.add_argument("--name", help="display name")
    parser.add_argument("--team-id", help="xAI team id (Grok accounts)")
    parser.add_argument("--base-url", help="API base URL, for a proxy or a test server")
    parser.add_argument("--key-stdin", action="store_true",
                        help="read the key from standard input instead of a masked prompt")
    parser.add_argument("--config", metavar="PATH", help="config file to use instead of the default")
    parser.add_argument("--debug", action="store_true", help="log decisions to stderr")
    return parser


def status_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tokenwatch status",
                     description="Accounts, where each key comes from, last refresh, directories.")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--config", metavar="PATH", help="config file to use instead of the default")
    parser.add_argument("--debug", action="store_true", help="log decisions to stderr")
    return parser


def export_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tokenwatch export",
                     description="Export every account's daily figures as CSV or JSON.")
    parser.add_argument("--format", choices=("csv", "json"), required=True, help="output format")
    _add_period(parser)
    _add_common(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (also used by the console script)."""
    args = list(sys.argv[1:] if argv is None else argv)
    from tokenwatch_desktop.core.config import ConfigError

    try:
        status = _dispatch(args)
    except (UsageError, ConfigError) as exc:
        print(f"tokenwatch: {exc}", file=sys.stderr)
        status = EXIT_USAGE
    except KeyboardInterrupt:
        print("tokenwatch: interrupted", file=sys.stderr)
        status = 130
    if argv is None:
        sys.exit(status)
    return status


def _dispatch(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        report_parser().print_help()
        return EXIT_OK if args else EXIT_USAGE
    command = args[0]
    if command == "setup":
        from tokenwatch_desktop.cli.setup import run_setup

        options = setup_parser().parse_args(args[1:])
        _logging(options.debug)
        return run_setup(options)
    if command == "status":
        from tokenwatch_desktop.cli.status import run_status

        options = status_parser().parse_args(args[1:])
        _logging(options.debug)
        return run_status(options)
    if command == "export":
        options = export_parser().parse_args(args[1:])
        options.target, options.by, options.json, options.refresh_all = "all", None, False, False
    else:
        options = report_parser().parse_args(args)
    _logging(options.debug)
    return _run_report(options)


def _logging(debug: bool) -> None:
    from tokenwatch_desktop.core import logs

    logs.setup(debug=debug, to_stderr=True, log_file=True)


def _run_report(options: argparse.Namespace) -> int:
    from tokenwatch_desktop.cli.run import fetch_report, load_settings

    settings = load_settings(options.config)
    for warning in settings.warnings:
        print(f"tokenwatch: warning: {warning}", file=sys.stderr)
    spec = parse_spec(options.period, options.since, options.until, settings.period)
    report = asyncio.run(fetch_report(settings, options.target, spec, options))
    _print(report, options)
    return EXIT_ERROR if report.has_error else EXIT_OK


def _print(report: Report, options: argparse.Namespace) -> None:
    if getattr(options, "format", None) == "csv":
        from tokenwatch_desktop.cli.tables import write_csv

        write_csv(report, sys.stdout)
    elif options.json or getattr(options, "format", None) == "json":
        sys.stdout.write(json.dumps(to_json(report), indent=2) + "\n")
    else:
        from tokenwatch_desktop.cli.tables import render

        sys.stdout.write(render(report))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
