"""Check the config file's parsed YAML and turn it into `Settings`.

Nothing here raises for bad content. An invalid account keeps its entry and gets a `config`
problem; an invalid setting falls back to its default with a warning in `Settings.warnings`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tokenwatch_desktop.core.errors import ErrorKind, ParseError
from tokenwatch_desktop.core.money import to_decimal
from tokenwatch_desktop.core.periods import PERIODS, DayBoundary
from tokenwatch_desktop.core.records import ProblemInfo
from tokenwatch_desktop.core.settings import (
    ACCOUNT_ID,
    REFRESH_MINUTES,
    AccountConfig,
    Budgets,
    PriceOverride,
    Settings,
)
from tokenwatch_desktop.providers import registry

VERSION = 1
TOP_LEVEL = ("version", "period", "day_boundary", "refresh_minutes", "budgets", "prices",
             "accounts")
COMMON_FIELDS = ("id", "provider", "name", "enabled", "base_url")
PRICE_FIELDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
NOTIFY_RANGE = (1, 1000)

# `api_key`, `key`, `token`, `secret`, `password` and names ending in them (`admin_key`,
# `access-token`), plus the plural `keys`/`api_keys` a file might use for a table of keys, and
# the names of the headers keys travel in (`authorization`, `bearer`, `credentials`).
# `max_tokens` does not match: only a singular `token` ending counts.
_SECRET_NAME = re.compile(
    r"^(?:.*[_-])?(?:api[_-]?)?(?:key|token|secret|password|passphrase)$|^(?:api[_-]?)?keys$"
    r"|^(?:.*[_-])?(?:authorization|bearer|credentials?)$",
    re.IGNORECASE,
)


class Invalid(ValueError):
    """One field's value is unusable; the message names the field and the valid values."""


def is_secret_field(name: object) -> bool:
    """Return whether a field name looks like it contains an API key or password."""
    return isinstance(name, str) and bool(_SECRET_NAME.match(name.strip()))


def strip_secrets(value: Any) -> Any:
    """Return a copy of a YAML value without secret-looking mapping keys, at any depth."""
    if isinstance(value, dict):
        return {k: strip_secrets(v) for k, v in value.items() if not is_secret_field(k)}
    if isinstance(value, list | tuple):
        return [strip_secrets(item) for item in value]
    return value


def secret_paths(value: Any, prefix: str) -> list[str]:
    """List the dotted names of the secret-looking fields inside a YAML value, for warnings."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if is_secret_field(key):
                found.append(name)
            else:
                found.extend(secret_paths(item, name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found.extend(secret_paths(item, f"{prefix}[{index}]"))
    return found


def top_level_problem(data: Any) -> str | None:
    """Return why the parsed file cannot be used at all, or None when it can (None is empty)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        return f"the top level is a {_type_name(data)}, not a mapping of settings"
    version = data.get("version")
    if version is not None and (isinstance(version, bool) or version != VERSION):
        return (f"version {_short(version)} is not supported (this TokenWatch reads "
                f"version {VERSION})")
    accounts = data.get("accounts")
    if accounts is not None and not isinstance(accounts, list):
        return f"`accounts` is a {_type_name(accounts)}, not a list of accounts"
    return None


def build_settings(
    data: dict[Any, Any], path: Path, *, legacy: bool = False, source: Path | None = None
) -> Settings:
    """Turn a checked top-level mapping into `Settings`, collecting problems and warnings.

    `path` becomes `Settings.path`; messages name `source` (the file read) when it differs.
    With `legacy`, secret fields are expected (an old file being migrated): they are dropped
    without marking their accounts invalid, because the caller has already explained why.
    """
    settings = Settings(path=path)
    warn = settings.warnings.append
    settings.period = _setting(data, "period", settings.period, _period, warn)
    settings.day_boundary = _setting(data, "day_boundary", settings.day_boundary, _boundary, warn)
    settings.refresh_minutes = _setting(data, "refresh_minutes", settings.refresh_minutes,
                                        _refresh_minutes, warn)
    settings.budgets = _budgets(data.get("budgets"), warn)
    settings.prices = _prices(data.get("prices"), warn)
    settings.accounts = build_accounts(data.get("accounts") or [], source or path, legacy=legacy)
    settings.extra = _extra(data, warn, legacy)
    return settings


def _setting(data: dict[Any, Any], name: str, default: Any, parse: Any, warn: Any) -> Any:
    if data.get(name) is None:
        return default
    try:
        return parse(data[name])
    except Invalid as exc:
        warn(f"{name}: {exc}; using the default {_shown(default)}")
        return default


def _period(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in PERIODS:
        return value.strip().lower()
    raise Invalid(f"{_short(value)} is not a period; use one of {', '.join(PERIODS)}")


def _boundary(value: Any) -> DayBoundary:
    if isinstance(value, str) and value.strip().lower() in ("utc", "local"):
        return DayBoundary(value.strip().lower())
    raise Invalid(f"{_short(value)} is not a day boundary; use utc or local")


def _refresh_minutes(value: Any) -> int:
    low, high = REFRESH_MINUTES
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    raise Invalid(f"{_short(value)} is not a whole number of minutes from {low} to {high}")


def money(value: Any, what: str) -> Decimal:
    """Parse a non-negative USD amount from a YAML number (already `Decimal`) or numeric text."""
    if isinstance(value, float):
        raise Invalid(f"{what} must be written as text, such as \"3.50\"")
    try:
        amount = to_decimal(value, what)
    except ParseError as exc:
        raise Invalid(exc.message) from None
    if amount < 0:
        raise Invalid(f"{what} is {amount}; use an amount of 0 or more")
    return amount


def _budgets(value: Any, warn: Any) -> Budgets:
    if value is None:
        return Budgets()
    if not isinstance(value, dict):
        warn(f"budgets is a {_type_name(value)}, not a mapping; no budgets are set")
        return Budgets()
    total = _optional_budget(value.get("monthly_total"), "budgets.monthly_total", warn)
    accounts: dict[str, Decimal] = {}
    table = value.get("accounts") or {}
    if not isinstance(table, dict):
        warn("budgets.accounts is not a mapping of account id to amount; it is ignored")
        table = {}
    for account_id, amount in table.items():
        parsed = _optional_budget(amount, f"budgets.accounts.{account_id}", warn)
        if parsed is not None and isinstance(account_id, str):
            accounts[account_id] = parsed
    for name in sorted(str(k) for k in value if k not in ("monthly_total", "accounts",
                                                             "notify_at")):
        warn(f"budgets.{name} is not a known budget field and is ignored")
    return Budgets(total, accounts, _notify_at(value.get("notify_at"), warn))


def _optional_budget(value: Any, what: str, warn: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = money(value, what)
    except Invalid as exc:
        warn(f"{exc}; this budget is ignored")
        return None
    if amount == 0:
        warn(f"{what} is 0; set an amount above 0, or remove it. This budget is ignored")
        return None
    return amount


def _notify_at(value: Any, warn: Any) -> tuple[int, ...]:
    default = Budgets().notify_at
    if value is None:
        return default
    low, high = NOTIFY_RANGE
    items = value if isinstance(value, list) else [value]
    good = [i for i in items if isinstance(i, int) and not isinstance(i, bool) and low <= i <= high]
    if not items or len(good) != len(items):
        warn(f"budgets.notify_at must be a list of whole percentages from {low} to {high}; "
             f"using {list(default)}")
        return default
    return tuple(sorted(set(good)))


def _prices(value: Any, warn: Any) -> list[PriceOverride]:
    if value is None:
        return []
    if not isinstance(value, list):
        warn(f"prices is a {_type_name(value)}, not a list of price entries; no overrides used")
        return []
    result = []
    for index, entry in enumerate(value):
        try:
            result.append(_price(entry, index, warn))
        except Invalid as exc:
            warn(f"prices[{index}]: {exc}; this price entry is ignored")
    return result


def _price(entry: Any, index: int, warn: Any) -> PriceOverride:
    if not isinstance(entry, dict):
        raise Invalid(f"it is a {_type_name(entry)}, not a mapping")
    vendor = _text_field(entry, "vendor", required=True)
    model = _text_field(entry, "model", required=True)
    amounts = {name: money(entry[name], name) for name in PRICE_FIELDS
               if entry.get(name) is not None}
    if not amounts:
        raise Invalid(f"it gives no price; set at least one of {', '.join(PRICE_FIELDS)}")
    for name in sorted(str(k) for k in entry if k not in (*PRICE_FIELDS, "vendor", "model",
                                                          "from")):
        warn(f"prices[{index}]: {name} is not a known price field and is ignored")
    return PriceOverride(vendor=str(vendor), model=str(model), start=_start(entry.get("from")),
                         **amounts)


def _start(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Invalid(f"from is {_short(value)}; write a date such as 2025-09-29")


def _text_field(entry: dict[Any, Any], name: str, *, required: bool = False) -> str | None:
    value = entry.get(name)
    if value is None:
        if required:
            raise Invalid(f"{name} is missing")
        return None
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{name} is {_short(value)}; write it as text")
    return value.strip()


def build_accounts(entries: list[Any], path: Path, *, legacy: bool = False) -> list[AccountConfig]:
    """Build one `AccountConfig` per entry, in file order; invalid ones carry a `config` problem."""
    accounts: list[AccountConfig] = []
    taken: set[str] = set()
    for index, entry in enumerate(entries):
        account = _account(entry, index, taken, legacy)
        if account.problem is not None:
            message = f"{account.problem.message}. Fix it in {path}"
            account = _with_problem(account, message)
        taken.add(account.id)
        accounts.append(account)
    return accounts


def _account(entry: Any, index: int, taken: set[str], legacy: bool) -> AccountConfig:
    if not isinstance(entry, dict):
        account_id = free_id(f"account-{index + 1}", taken)
        message = f"account entry {index + 1} is a {_type_name(entry)}, not a mapping of fields"
        return _with_problem(AccountConfig(account_id, ""), message, strip_secrets(entry))
    clean = strip_secrets(entry)
    provider = _provider_of(clean)
    account_id = _id_of(clean, provider, index, taken)
    secrets = [str(k) for k in entry if is_secret_field(k)]
    problems = [] if legacy else [_secret_problem(name, account_id) for name in secrets]
    account, field_problems = parse_account(clean, account_id, provider)
    problems += field_problems
    if account_id in taken:
        problems.append(f"the id {account_id} is used by an earlier account; give each "
                        "account its own id")
    if not problems:
        return account
    text = f"account {_shown_id(account_id)}: " + "; ".join(problems)
    return _with_problem(account, text, clean)


def _secret_problem(name: str, account_id: str) -> str:
    return (f"the field `{name}` looks like an API key, and keys are never kept in the config "
            f"file. Remove that field and store the key with `tokenwatch setup {account_id}`")


def _provider_of(entry: dict[Any, Any]) -> str:
    value = entry.get("provider")
    if isinstance(value, str):
        return registry.canonical(value.strip().lower())
    return ""


def _id_of(entry: dict[Any, Any], provider: str, index: int, taken: set[str]) -> str:
    value = entry.get("id")
    if value is not None:
        return _id_text(value).strip()
    base = provider if ACCOUNT_ID.match(provider) else f"account-{index + 1}"
    return free_id(base, taken)


def _id_text(value: Any) -> str:
    """Text of an id as typed; numbers as normalised plain digits, so that an invalid id reads
    the same after the file is written back and read again."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, list):
        return "[" + ", ".join(_id_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_id_text(k)}: {_id_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def free_id(base: str, taken: Iterable[str]) -> str:
    """Return `base` when it is free, else the first free one of `base-2`, `base-3`, ..."""
    used = set(taken)
    if base not in used:
        return base
    number = 2
    while f"{base}-{number}" in used:
        number += 1
    return f"{base}-{number}"


def parse_account(
    entry: dict[Any, Any], account_id: str, provider: str
) -> tuple[AccountConfig, list[str]]:
    """Build an account from its (secret-free) fields; return it with what is wrong, if anything."""
    problems: list[str] = []
    if not ACCOUNT_ID.match(account_id):
        problems.append(f"the id {_short(account_id)} is invalid; use lower-case letters, digits "
                        "and '-' (such as work-openai)")
    other = registry.canonical(account_id)
    if other in registry.PROVIDERS and other != registry.canonical(provider):
        # `tokenwatch <id>` would select the other provider's accounts, and its environment key
        # would be read for this one.
        problems.append(f"the id {account_id} is the name of another provider; choose another "
                        f"id for this {provider} account")
    problems += _provider_problems(entry, provider)
    name = _checked(problems, lambda: _text_field(entry, "name"))
    enabled = _checked(problems, lambda: _enabled(entry.get("enabled")))
    base_url = _checked(problems, lambda: check_base_url(entry.get("base_url")))
    options = {str(k): v for k, v in entry.items() if k not in COMMON_FIELDS}
    if any(not isinstance(k, str) for k in entry):
        problems.append("every field name must be text")
    options, option_problems = _options(options, provider)
    problems += option_problems
    account = AccountConfig(account_id, provider, name, enabled, base_url, options)
    return account, problems


def _provider_problems(entry: dict[Any, Any], provider: str) -> list[str]:
    known = ", ".join(registry.PROVIDERS)
    raw = entry.get("provider")
    if raw is None:
        return [f"the provider is missing; set provider to one of {known}"]
    if provider not in registry.PROVIDERS:
        return [f"the provider {_short(raw)} is unknown; use one of {known}"]
    missing = [name for name in registry.info(provider).required_options
               if entry.get(name) is None or str(entry.get(name)).strip() == ""]
    return [f"{name} is missing; a {registry.info(provider).display_name} account needs it "
            f"(add `{name}: ...` to the account)" for name in missing]


def _checked(problems: list[str], parse: Any) -> Any:
    try:
        return parse()
    except Invalid as exc:
        problems.append(str(exc))
        return None


def _enabled(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise Invalid(f"enabled is {_short(value)}; use true or false")


def check_base_url(value: Any) -> str | None:
    """Check a base URL: http or https, with a host, and no user name or password in it."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"base_url is {_short(value)}; write a URL such as https://api.example.com")
    url = value.strip()
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise Invalid("base_url is not a valid URL; write one such as "
                      "https://api.example.com") from None
    if parts.username is not None or parts.password is not None:
        raise Invalid("base_url contains a user name or password; remove it, and store the key "
                      "with `tokenwatch setup`")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        raise Invalid(f"base_url {_short(url)} is not an http:// or https:// URL with a host")
    return url


def _options(options: dict[str, Any], provider: str) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    for name in ("team_id",):
        value = options.get(name)
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            options[name] = str(value)
        elif value is not None and not isinstance(value, str):
            problems.append(f"{name} is {_short(value)}; write it as text")
    paths = options.get("paths")
    if isinstance(paths, str):
        options["paths"] = [paths]
    elif paths is not None and not (isinstance(paths, list)
                                    and all(isinstance(p, str) and p for p in paths)):
        problems.append("paths must be a list of folders, such as [~/.claude/projects]")
    return options, problems


def _with_problem(account: AccountConfig, message: str, raw: Any = None) -> AccountConfig:
    keep = raw if raw is not None else account.raw
    return replace(account, problem=ProblemInfo(ErrorKind.CONFIG.value, message), raw=keep)


def _extra(data: dict[Any, Any], warn: Any, legacy: bool) -> dict[Any, Any]:
    extra: dict[Any, Any] = {}
    for key, value in data.items():
        if key in TOP_LEVEL:
            continue
        if is_secret_field(key):
            if not legacy:
                warn(f"the top-level field `{key}` looks like an API key; it is ignored and "
                     "removed when the app rewrites the file. Store keys with "
                     "`tokenwatch setup <account>`")
            continue
        for name in secret_paths(value, str(key)):
            warn(f"the field `{name}` looks like an API key; it is removed when the app rewrites "
                 "the file")
        warn(f"the top-level field `{key}` is not a known setting; it is kept as it is")
        extra[key] = strip_secrets(value)
    return extra


@dataclass(frozen=True)
class LegacyKey:
    """A plaintext key found in an old config file, with the account it belongs to."""

    account_id: str
    value: str
    field: str

    def __repr__(self) -> str:
        return f"LegacyKey(account_id={self.account_id!r}, field={self.field!r})"


def legacy_keys(data: dict[Any, Any], accounts: list[AccountConfig]) -> list[LegacyKey]:
    """Find plaintext keys in an old file: accounts' secret fields and a top-level `keys` table."""
    found: dict[str, LegacyKey] = {}
    entries = data.get("accounts") or []
    for entry, account in zip(entries, accounts, strict=False):
        if not isinstance(entry, dict):
            continue
        for key, value in entry.items():
            if is_secret_field(key) and isinstance(value, str) and value.strip():
                found.setdefault(account.id, LegacyKey(account.id, value, str(key)))
    for key, table in data.items():
        if not (is_secret_field(key) and isinstance(table, dict)):
            continue
        for account_id, value in table.items():
            if isinstance(account_id, str) and isinstance(value, str) and value.strip():
                found.setdefault(account_id, LegacyKey(account_id, value, str(key)))
    return list(found.values())


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "text value"
    if value is None:
        return "empty value"
    return type(value).__name__ + " value"


def _short(value: Any) -> str:
    text = f"'{value}'" if isinstance(value, str) else repr(value)
    if isinstance(value, Decimal):
        text = format(value, "f")
    return text if len(text) <= 40 else text[:37] + "..."


def _shown(value: Any) -> str:
    return str(value.value) if isinstance(value, DayBoundary) else str(value)


def _shown_id(account_id: str) -> str:
    return account_id if ACCOUNT_ID.match(account_id) else _short(account_id)
