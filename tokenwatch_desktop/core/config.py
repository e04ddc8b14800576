"""The config file: where it is, reading it into `Settings`, writing it back, editing accounts.

YAML numbers with a fraction (`price: 3.75`) are read as `Decimal` from their text, never
through a binary float, so money written without quotes keeps its exact value. Quoted numeric
strings work too. Field checks live in `core.config_schema`.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from tokenwatch_desktop.core import config_schema as schema
from tokenwatch_desktop.core import paths, secrets
from tokenwatch_desktop.core.errors import TokenWatchError
from tokenwatch_desktop.core.money import plain
from tokenwatch_desktop.core.settings import AccountConfig, Budgets, PriceOverride, Settings
from tokenwatch_desktop.providers import registry

log = logging.getLogger(__name__)

HEADER = ("# Written by TokenWatch. The app rewrites this file when settings change, "
          "and comments are not kept.\n")
MIGRATED_NAME = "config.yaml.migrated"
FILE_MODE = 0o600
DIR_MODE = 0o700


class ConfigError(TokenWatchError):
    """The config file cannot be read or written, or an account edit is invalid."""


class _Loader(yaml.SafeLoader):
    """YAML 1.1 safe loader that keeps fractional numbers as `Decimal` and bad dates as text."""


def _construct_float(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal | str:
    assert isinstance(node, yaml.ScalarNode)
    text = str(loader.construct_scalar(node))
    try:
        value = Decimal(text.replace("_", ""))
    except InvalidOperation:
        return text  # `.inf`, `.nan`, `1:30.5`: kept as text, rejected where a number is expected
    return value if value.is_finite() else text


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except ValueError:
        assert isinstance(node, yaml.ScalarNode)
        return str(node.value)  # `2025-02-30`: the date check then names the field


_PLAIN_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int | str:
    """Read plain decimal integers; keep octal, hex, binary and sexagesimal forms as text.

    YAML 1.1 reads `0012` as octal 10 and `12:30` as 750, which would silently change a
    `team_id`; where a number is expected, the field check rejects the text with a message.
    """
    assert isinstance(node, yaml.ScalarNode)
    text = str(loader.construct_scalar(node))
    if not _PLAIN_INT.match(text):
        return text
    return int(text.replace("_", ""))


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


class _Dumper(yaml.SafeDumper):
    """Safe dumper that writes `Decimal` as a YAML number and tuples as lists."""


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    text = format(value, "f")
    return dumper.represent_scalar("tag:yaml.org,2002:float", text if "." in text else text + ".0")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # With allow_unicode, PyYAML 6.0 writes NEL and the Unicode line and paragraph separators
    # unescaped in plain style, and its reader then takes them for line breaks. Double quotes
    # make the emitter escape them.
    style = '"' if any(ch in value for ch in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(tuple, yaml.SafeDumper.represent_list)


def parse_yaml(text: str) -> tuple[Any, str | None]:
    """Parse config text; return the data and None, or None and why it is not valid YAML."""
    try:
        return yaml.load(text, Loader=_Loader), None  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return None, f"it is not valid YAML{where}"
    except RecursionError:
        return None, "it is nested too deeply to read"


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the config: `path` (`--config`), else TOKENWATCH_CONFIG, else the user config dir.

    Without `path` or TOKENWATCH_CONFIG, an old `~/.tokenwatch/config.yaml` is migrated first.
    A missing file gives the defaults. Raises `ConfigError` only when the file exists and cannot
    be read (permissions, a directory); bad content never raises.
    """
    env = os.environ if environ is None else environ
    target = paths.config_path(path, env)
    notes: list[str] = []
    source = target
    if not path and not env.get(paths.CONFIG_ENV):
        source = _migrate_legacy(target, notes)
    raw = _read_bytes(source)
    if raw is None:
        return Settings(path=target, warnings=notes)
    data, reason = parse_config(raw)
    if reason is not None:
        notes.append(_bad_file_warning(source, raw, reason, backup=source == target))
        return Settings(path=target, warnings=notes, file_problem=reason)
    settings = schema.build_settings(data or {}, target, legacy=source != target, source=source)
    settings.warnings[:0] = notes
    return settings


def parse_config(raw: bytes) -> tuple[Any, str | None]:
    """Decode and parse a config file; return the data and None, or None and why it is bad."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "it is not UTF-8 text"
    data, reason = parse_yaml(text)
    return data, reason or schema.top_level_problem(data)


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror or exc}; check "
                          "that it is a file you can read, or pass another one with --config") \
            from None


def _bad_file_warning(path: Path, raw: bytes, reason: str, *, backup: bool) -> str:
    if not backup:
        return (f"the old config file {path} could not be read because {reason}; it was left as "
                "it is and defaults are used. Fix it, or run `tokenwatch setup` to start a new "
                "config")
    try:
        copy = _backup_bad(path, raw, reason)
    except ConfigError as exc:
        return (f"the config file {path} could not be read because {reason}, and no copy could "
                f"be saved ({exc}). Defaults are used; fix the file before the app rewrites it")
    return (f"the config file {path} could not be read because {reason}. A copy was saved as "
            f"{copy.name} and defaults are used. Fix the file, or move it away and run "
            "`tokenwatch setup` to write a new one")


def _backup_bad(path: Path, raw: bytes, reason: str) -> Path:
    """Copy a bad file to `<name>.bad-<timestamp>`, reusing an identical earlier copy."""
    for earlier in sorted(path.parent.glob(path.name + ".bad-*")):
        try:
            if earlier.read_bytes() == raw:
                return earlier
        except OSError:
            continue
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    copy = Path(schema.free_id(f"{path}.bad-{stamp}", (str(p) for p in path.parent.iterdir())))
    _write_atomic(copy, raw)
    log.warning("config file %s is unusable (%s); copied to %s", path, reason, copy)
    return copy


def _migrate_legacy(target: Path, notes: list[str]) -> Path:
    """Move `~/.tokenwatch/config.yaml` to `target` once; return the file to read this time.

    The old file is read instead of `target` while its keys cannot be moved (no keyring).
    """
    legacy = paths.legacy_config()
    if not legacy.is_file():
        return target
    if target.exists():
        notes.append(f"the old config file {legacy} is not read because {target} exists; "
                     "delete the old file, which may contain plaintext API keys")
        return target
    data, reason = parse_config(_read_bytes(legacy) or b"")
    if reason is not None:
        return legacy  # `load` reports it and uses defaults; the old file is left untouched
    data = data or {}
    accounts = schema.build_accounts(data.get("accounts") or [], legacy, legacy=True)
    keys = schema.legacy_keys(data, accounts)
    if keys and not _move_keys(keys, legacy, notes):
        return legacy
    clean = schema.strip_secrets(data)
    try:
        write_yaml(target, clean)
        write_yaml(legacy.with_name(MIGRATED_NAME), clean)
        legacy.unlink()
    except (ConfigError, OSError) as exc:
        log.warning("migrating config %s failed: %s", legacy, exc)
        notes.append(f"the old config file {legacy} could not be migrated ({exc}); it is read "
                     "as it is this time")
        return legacy
    notes.append(f"moved the config from {legacy} to {target}"
                 + (f" and {len(keys)} API key(s) into the keyring" if keys else "")
                 + f"; the old file is kept, without keys, as {legacy.with_name(MIGRATED_NAME)}")
    log.info("migrated config %s to %s (%d keys to the keyring)", legacy, target, len(keys))
    return target


def _move_keys(keys: list[schema.LegacyKey], legacy: Path, notes: list[str]) -> bool:
    """Store each old plaintext key in the keyring; False when the keyring cannot take them."""
    try:
        secrets.call_with_timeout(secrets.check_backend)
        for item in keys:
            _move_key(item, notes)
    except secrets.KeyringProblem as exc:
        notes.append(f"the old config file {legacy} holds API keys in plaintext and is not "
                     f"migrated yet, because {exc.message}. It is read as it is until a keyring "
                     "is available")
        return False
    return True


def _move_key(item: schema.LegacyKey, notes: list[str]) -> None:
    try:
        secrets.store_key(item.account_id, item.value)
    except secrets.InvalidKey as exc:
        notes.append(f"account {item.account_id}: the key in the old config's `{item.field}` "
                     f"field was not moved because {exc}; store it with "
                     f"`tokenwatch setup {item.account_id}`")


def save(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings atomically with mode 0600; return the path written.

    Secret-looking fields are never written, wherever they sit. Unknown top-level keys from
    the file (`Settings.extra`) are kept. Raises `ConfigError` when the file cannot be written.
    """
    target = path or settings.path or paths.config_path()
    write_yaml(target, to_data(settings))
    log.info("saved the config to %s", target)
    return target


def to_data(settings: Settings) -> dict[Any, Any]:
    """Convert the settings to the YAML mapping that `save` writes."""
    data: dict[Any, Any] = {
        "version": schema.VERSION,
        "period": settings.period,
        "day_boundary": settings.day_boundary.value,
        "refresh_minutes": settings.refresh_minutes,
    }
    budgets = _budgets_data(settings.budgets)
    if budgets:
        data["budgets"] = budgets
    if settings.prices:
        data["prices"] = [_price_data(price) for price in settings.prices]
    data["accounts"] = [_account_data(account) for account in settings.accounts]
    for key, value in settings.extra.items():
        if key not in data and not schema.is_secret_field(key):
            data[key] = value
    return dict(schema.strip_secrets(data))


def _budgets_data(budgets: Budgets) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if budgets.monthly_total is not None:
        data["monthly_total"] = plain(budgets.monthly_total)
    if budgets.accounts:
        data["accounts"] = {k: plain(v) for k, v in budgets.accounts.items()}
    if budgets.notify_at != Budgets().notify_at:
        data["notify_at"] = list(budgets.notify_at)
    return data


def _price_data(price: PriceOverride) -> dict[str, Any]:
    data: dict[str, Any] = {"vendor": price.vendor, "model": price.model}
    for name in schema.PRICE_FIELDS:
        amount = getattr(price, name)
        if amount is not None:
            data[name] = plain(amount)
    if price.start is not None:
        data["from"] = price.start
    return data


def _account_data(account: AccountConfig) -> Any:
    if account.problem is not None and account.raw is not None:
        if isinstance(account.raw, dict) and "id" not in account.raw:
            return {"id": account.id, **account.raw}  # keep the id the loader gave it
        return account.raw
    data: dict[str, Any] = {"id": account.id, "provider": account.provider}
    for name in ("name", "enabled", "base_url"):
        value = getattr(account, name)
        if value is not None:
            data[name] = value
    for name, value in account.options.items():
        data.setdefault(name, value)
    return data


def write_yaml(path: Path, data: Any) -> None:
    """Write a YAML document with the rewrite notice as its first line, atomically, mode 0600."""
    try:
        body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                         default_flow_style=False)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot write the config file {path}: a value cannot be written "
                          f"as YAML ({exc})") from None
    _write_atomic(path, (HEADER + body).encode("utf-8"))


def _write_atomic(path: Path, content: bytes) -> None:
    """Write a temp file in the same directory, fsync it, rename it over `path`, fsync the folder."""
    try:
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}; check that its folder "
                          "is writable") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(temp, FILE_MODE)
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}; check the free space "
                          "and that the folder is writable") from None
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open a directory; the rename is still atomic there
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def next_account_id(settings: Settings, provider: str) -> str:
    """Return the next free id for a provider's account: `openai`, `openai-2`, `openai-3`, ..."""
    return schema.free_id(registry.canonical(provider), (a.id for a in settings.accounts))


def add_account(settings: Settings, account: AccountConfig) -> Settings:
    """Return a copy of `settings` with `account` appended; raise `ConfigError` if invalid."""
    if settings.account(account.id) is not None:
        raise ConfigError(f"an account with the id {account.id} exists already; choose another "
                          f"id, such as {next_account_id(settings, account.provider)}")
    checked = _checked(account)
    return replace(settings, accounts=[*settings.accounts, checked], warnings=[])


def update_account(settings: Settings, account_id: str, **changes: Any) -> Settings:
    """Return a copy of `settings` with fields of one account changed (`name=...`).

    The id cannot change, because the keyring entry and the history are keyed by it: add a new
    account instead. Raises `ConfigError` for an unknown id or an invalid result.
    """
    current = settings.account(account_id)
    if current is None:
        raise ConfigError(f"there is no account {account_id}; run `tokenwatch status` to list them")
    if changes.get("id", account_id) != account_id:
        raise ConfigError("an account id cannot be changed; add a new account and remove this one")
    updated = _checked(replace(current, **changes))
    accounts = [updated if a.id == account_id else a for a in settings.accounts]
    return replace(settings, accounts=accounts, warnings=[])


def remove_account(settings: Settings, account_id: str) -> Settings:
    """Return a copy of `settings` without the account and its budget.

    The keyring entry stays: `remove_account_and_key` deletes both.
    """
    if settings.account(account_id) is None:
        raise ConfigError(f"there is no account {account_id}; run `tokenwatch status` to list them")
    accounts = [a for a in settings.accounts if a.id != account_id]
    table = {k: v for k, v in settings.budgets.accounts.items() if k != account_id}
    return replace(settings, accounts=accounts, budgets=replace(settings.budgets, accounts=table),
                   warnings=[])


def remove_account_and_key(settings: Settings, account_id: str) -> Settings:
    """Delete the account's keyring entry, then return `settings` without the account.

    With no keyring at all there is no entry to delete. A locked or unanswering keyring raises
    `secrets.KeyringProblem` and leaves the account in place, so that no key is orphaned.
    """
    result = remove_account(settings, account_id)
    try:
        secrets.call_with_timeout(secrets.check_backend)
    except secrets.KeyringProblem as exc:
        if exc.state is not secrets.KeyringState.UNAVAILABLE or exc.timed_out:
            raise
        log.info("account %s removed; no keyring, so no key to delete", account_id)
        return result
    secrets.delete_key(account_id)
    return result


def _checked(account: AccountConfig) -> AccountConfig:
    """Run the loader's field checks on an edited account; raise `ConfigError` on a problem."""
    fields: dict[str, Any] = {**account.options, "id": account.id, "provider": account.provider,
                              "name": account.name, "enabled": account.enabled,
                              "base_url": account.base_url}
    secret = [name for name in fields if schema.is_secret_field(name)]
    if secret:
        raise ConfigError(f"account {account.id}: the option `{secret[0]}` looks like an API key; "
                          f"store keys with `tokenwatch setup {account.id}`, never in the config")
    provider = registry.canonical(account.provider)
    parsed, problems = schema.parse_account(
        {k: v for k, v in fields.items() if v is not None}, account.id, provider)
    if problems:
        raise ConfigError(f"account {account.id}: " + "; ".join(problems))
    return parsed
