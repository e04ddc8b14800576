"""Shared steps of the reporting commands: load the settings, build the engine, fetch."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tokenwatch_desktop.core import paths
from tokenwatch_desktop.core.periods import PeriodSpec
from tokenwatch_desktop.core.report import Report
from tokenwatch_desktop.core.settings import Settings
from tokenwatch_desktop.engine import Engine, RefreshOptions, effective_accounts, select
from tokenwatch_desktop.providers.http import Http, RetryPolicy, make_client

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
    refresh = RefreshOptions(by=options.by, rescan=options.refresh_all)
    async with make_client(transport) as client:
        engine = Engine(
            settings,
            Http(client, CLI_RETRY),
            demo=options.demo,
            data_dir=paths.data_dir(),
            history=None if options.demo else _history(),
        )
        return await engine.refresh(accounts, spec, refresh)


def _history() -> object | None:
    try:
        from tokenwatch_desktop.core.history import SqliteHistory
    except ImportError:
        return None
    return SqliteHistory(paths.data_dir())
