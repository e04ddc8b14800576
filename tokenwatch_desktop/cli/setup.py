"""`tokenwatch setup`: create or update an account and store its key in the OS keyring."""

from __future__ import annotations

import argparse
import getpass
import sys
from dataclasses import replace
from pathlib import Path

from tokenwatch_desktop.core import secrets
from tokenwatch_desktop.core.errors import UsageError
from tokenwatch_desktop.core.settings import AccountConfig, Settings
from tokenwatch_desktop.providers import registry

EXIT_OK, EXIT_ERROR = 0, 1


def run_setup(options: argparse.Namespace) -> int:
    """Create or update the account, store the key (never in the config), then save the config."""
    from tokenwatch_desktop.core import config as config_file

    path = Path(options.config).expanduser() if options.config else None
    settings = config_file.load(path)
    for warning in settings.warnings:
        print(f"tokenwatch: warning: {warning}", file=sys.stderr)
    if settings.file_problem is not None:
        print(f"tokenwatch: {settings.path} was not changed because it could not be read; fix it, "
              "or move it away to start a new config, then run setup again.", file=sys.stderr)
        return EXIT_ERROR
    account = _account(settings, options, config_file.next_account_id)
    info = registry.info(account.provider)
    if "team_id" in info.required_options and not account.option("team_id"):
        raise UsageError(f"{info.display_name} accounts need --team-id (the xAI team id)")
    if info.needs_key:
        status = _store_key(account, info, options.key_stdin)
        if status != EXIT_OK:
            return status
    saved = config_file.save(_merge(settings, account), path)
    print(f"Saved account {account.id} ({info.display_name}) to {saved}.", file=sys.stderr)
    return EXIT_OK


def _account(settings: Settings, options: argparse.Namespace, next_id: object) -> AccountConfig:
    existing = settings.account(options.account) if options.account else None
    if existing is not None:
        provider = existing.provider
        if options.provider and registry.canonical(options.provider) != provider:
            raise UsageError(f"account {existing.id} is a {provider} account; choose another id "
                             f"for a {options.provider} account")
        account = existing
    else:
        provider = registry.canonical(options.provider or options.account or "")
        if provider not in registry.PROVIDERS:
            raise UsageError("name a provider with --provider; one of "
                             + ", ".join(registry.PROVIDERS))
        account_id = options.account or next_id(settings, provider)  # type: ignore[operator]
        account = AccountConfig(account_id, provider, enabled=True)
    if existing is not None and existing.problem is not None:
        return _repaired(existing, options)
    options_map = dict(account.options)
    if options.team_id:
        options_map["team_id"] = options.team_id
    return replace(
        account,
        name=options.name or account.name,
        base_url=options.base_url or account.base_url,
        options=options_map,
        problem=None,
    )


def _repaired(account: AccountConfig, options: argparse.Namespace) -> AccountConfig:
    """Apply setup's options to an invalid entry as the file has it, and check the result.

    Rebuilding the entry from the parsed account would drop the fields that made it invalid
    (an `enabled: "no"` would become enabled), so the user's own fields are kept and checked.
    """
    from tokenwatch_desktop.core import config_schema

    entry = dict(account.raw) if isinstance(account.raw, dict) else {"id": account.id}
    entry["provider"] = account.provider
    for field, value in (("name", options.name), ("base_url", options.base_url),
                         ("team_id", options.team_id)):
        if value:
            entry[field] = value
    parsed, problems = config_schema.parse_account(entry, account.id, account.provider)
    if problems:
        raise UsageError(f"account {account.id} is invalid in the config file: "
                         + "; ".join(problems) + ". Fix the file, then run setup again")
    return parsed


def _store_key(account: AccountConfig, info: registry.ProviderInfo, from_stdin: bool) -> int:
    try:
        secrets.call_with_timeout(secrets.check_backend)
    except secrets.KeyringProblem as exc:
        print(f"tokenwatch: account {account.id}: no key can be stored: {exc.message}.",
              file=sys.stderr)
        return EXIT_ERROR
    raw = _read_key(account, info, from_stdin)
    try:
        key = secrets.clean_key(raw)
    except secrets.InvalidKey as exc:
        raise UsageError(f"account {account.id}: {exc}") from None
    if info.key_prefixes and not key.startswith(info.key_prefixes):
        print(f"tokenwatch: warning: this key does not start with {' or '.join(info.key_prefixes)}; "
              f"{info.display_name} needs {info.key_kind}. It is stored anyway.", file=sys.stderr)
    try:
        masked = secrets.store_key(account.id, key)
    except secrets.KeyringProblem as exc:
        print(f"tokenwatch: account {account.id}: the key was not stored: {exc.message}.",
              file=sys.stderr)
        return EXIT_ERROR
    print(f"Stored key {masked} for account {account.id} in the keyring "
          f"({secrets.backend_name()}).", file=sys.stderr)
    return EXIT_OK


def _read_key(account: AccountConfig, info: registry.ProviderInfo, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            raise UsageError("no key on standard input; pipe the key in with --key-stdin")
        return line
    if not sys.stdin.isatty():
        raise UsageError("standard input is not a terminal, so the key cannot be typed hidden; "
                         "pipe it in with --key-stdin")
    prompt = f"Key for {info.display_name} account {account.id} ({info.key_kind}); input is hidden: "
    return getpass.getpass(prompt, stream=sys.stderr)


def _merge(settings: Settings, account: AccountConfig) -> Settings:
    accounts = [account if a.id == account.id else a for a in settings.accounts]
    if settings.account(account.id) is None:
        accounts.append(account)
    return replace(settings, accounts=accounts, warnings=[])
