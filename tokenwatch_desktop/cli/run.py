"""Shared steps of the reporting commands: load the settings, build the engine, fetch."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tokenwatch_desktop.core import paths, secrets
from tokenwatch_desktop.core.errors import UsageError
from tokenwatch_desktop.core.periods import PeriodSpec
from tokenwatch_desktop.core.report import Report
from tokenwatch_desktop.core.settings import AccountConfig, Settings
from tokenwatch_desktop.engine import Engine, RefreshOptions, effective_accounts, select
from tokenwatch_desktop.providers import registry
from tokenwatch_desktop.providers.http import Http, RetryPolicy, make_client

if TYPE_CHECKING:
    from tokenwatch_desktop.core.history import SqliteHistory

#: The command line waits for a `Retry-After` of up to a minute; longer ends with `rate_limited`.
CLI_RETRY = RetryPolicy(max_wait=60.0)


def load_settings(config: str | None) -> Settings:
    from tokenwatch_desktop.core import config as config_file

    return config_file.load(Path(config).expanduser() if config else None)


async def fetch_report(
    settings: Settings, target: str, spec: PeriodSpec, options: argparse.Namespace
) -> Report:
    """Fetch the selected accounts (or the demo accounts) and return the report."""
    if options.demo:
        from tokenwatch_desktop.providers.fake import FakeWorld
        from tokenwatch_desktop.providers.fake.demo import demo_settings
        from tokenwatch_desktop.providers.fake.transport import fake_transport

        settings = demo_settings(settings)
        transport = fake_transport(FakeWorld())
        accounts = select(settings.accounts, target)
    else:
        transport = None
        accounts = select(effective_accounts(settings, os.environ), target)
        _check_selection(target, accounts)
    refresh = RefreshOptions(by=options.by, rescan=options.refresh_all)
    history = None if options.demo else _history()
    try:
        async with make_client(transport) as client:
            engine = Engine(settings, Http(client, CLI_RETRY), demo=options.demo,
                            data_dir=paths.data_dir(), history=history)
            return await engine.refresh(accounts, spec, refresh)
    finally:
        if history is not None:
            history.close()


def _check_selection(target: str, accounts: list[AccountConfig]) -> None:
    """Say how to add an account when the selection is empty (an error for a named provider)."""
    if accounts:
        return
    if target == "all":
        print("tokenwatch: no account is configured; add one with `tokenwatch setup --provider "
              "openai` (or another provider), or try `tokenwatch all --demo`.", file=sys.stderr)
        return
    provider = registry.canonical(target)
    raise UsageError(
        f"no {provider} account is configured; add one with `tokenwatch setup --provider "
        f"{provider}` or set {secrets.env_name(provider)}"
    )


def _history() -> SqliteHistory:
    from tokenwatch_desktop.core.history import SqliteHistory

    return SqliteHistory(paths.data_dir())
