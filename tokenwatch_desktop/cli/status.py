"""`tokenwatch status`: accounts, where each key comes from, last refresh, directories. Never a key."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tokenwatch_desktop.core import paths, secrets
from tokenwatch_desktop.core.settings import AccountConfig, Settings
from tokenwatch_desktop.engine import effective_accounts
from tokenwatch_desktop.providers import registry

EXIT_OK = 0


def run_status(options: argparse.Namespace) -> int:
    from tokenwatch_desktop.core import config as config_file

    path = Path(options.config).expanduser() if options.config else None
    settings = config_file.load(path)
    for warning in settings.warnings:
        print(f"tokenwatch: warning: {warning}", file=sys.stderr)
    rows = asyncio.run(_rows(settings))
    document = {
        "schema": 1,
        "config_path": str(settings.path or paths.config_path(options.config)),
        "data_dir": str(paths.data_dir()),
        "cache_dir": str(paths.cache_dir()),
        "log_dir": str(paths.log_dir()),
        "accounts": rows,
    }
    if options.json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(_text(document))
    return EXIT_OK


async def _rows(settings: Settings) -> list[dict[str, Any]]:
    accounts = effective_accounts(settings, os.environ)
    return list(await asyncio.gather(*(_row(account) for account in accounts)))


async def _row(account: AccountConfig) -> dict[str, Any]:
    """One account's key source and keyring state; keyring calls run concurrently with a timeout."""
    info = registry.PROVIDERS.get(registry.canonical(account.provider))
    source, state = "none", None
    if info is not None and info.needs_key:
        lookup = await secrets.lookup_key(account.id)
        source = lookup.source
        state = lookup.state.value if lookup.state else None
    return {
        "id": account.id,
        "provider": account.provider,
        "enabled": account.enabled is not False,
        "key_source": source,
        "keyring_state": state,
        "last_refresh": _last_refresh(account.id),
        "problem": account.problem.message if account.problem else None,
    }


def _last_refresh(account_id: str) -> str | None:
    try:
        from tokenwatch_desktop.core.history import last_refresh
    except ImportError:
        return None
    when: datetime | None = last_refresh(paths.data_dir(), account_id)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def _text(document: dict[str, Any]) -> str:
    lines = [f"Config file: {document['config_path']}",
             f"Data: {document['data_dir']}",
             f"Cache: {document['cache_dir']}",
             f"Logs: {document['log_dir']}", ""]
    if not document["accounts"]:
        lines.append("No accounts. Add one with `tokenwatch setup --provider openai`, or try "
                     "`tokenwatch all --demo`.")
    for row in document["accounts"]:
        state = f", keyring {row['keyring_state']}" if row["keyring_state"] else ""
        enabled = "" if row["enabled"] else ", disabled"
        refreshed = row["last_refresh"] or "never"
        source = "no key" if row["key_source"] == "none" else f"key from {row['key_source']}"
        lines.append(f"{row['id']} ({row['provider']}{enabled}): {source}{state}; "
                     f"last refresh {refreshed}")
        if row["problem"]:
            lines.append(f"  config problem: {row['problem']}")
    return "\n".join(lines) + "\n"
