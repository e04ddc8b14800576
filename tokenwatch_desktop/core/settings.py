"""The configuration as the program uses it: settings, budgets, price overrides, accounts.

Reading and writing the YAML file lives in `core.config`; this module holds only the records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from tokenwatch_desktop.core.periods import DayBoundary
from tokenwatch_desktop.core.records import ProblemInfo

ACCOUNT_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
REFRESH_MINUTES = (5, 1440)


@dataclass(frozen=True)
class AccountConfig:
    """One configured source: a provider plus its own key (looked up by `id`), URL and options.

    `enabled` is None when the file does not say; local-log accounts are then enabled when their
    directories exist. `options` holds provider-specific keys (`team_id`, `paths`, ...).
    `problem` is set when the entry is invalid: the account then reports a `config` error.
    `raw` is the entry as the file had it (secret fields removed) when it is invalid, so that
    rewriting the file keeps what the user typed instead of a guess.
    """

    id: str
    provider: str
    name: str | None = None
    enabled: bool | None = None
    base_url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    problem: ProblemInfo | None = None
    raw: Any = field(default=None, compare=False, repr=False)

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


@dataclass(frozen=True)
class PriceOverride:
    """USD per million tokens for one vendor's model, from a date on (inclusive)."""

    vendor: str
    model: str
    input: Decimal | None = None
    output: Decimal | None = None
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    start: date | None = None


@dataclass(frozen=True)
class Budgets:
    monthly_total: Decimal | None = None
    accounts: dict[str, Decimal] = field(default_factory=dict)
    notify_at: tuple[int, ...] = (50, 80, 100)


@dataclass
class Settings:
    """Everything the config file sets, with defaults for what it leaves out.

    `path` is where the file was (or would be) read from; `warnings` collects what the loader
    wants the user to see (a backed-up bad file, unknown keys, a migration waiting for a keyring).
    `extra` keeps unknown top-level keys so a rewrite does not drop them. `file_problem` says
    why the file at `path` could not be read (the defaults stand in for it); a command that would
    rewrite the file stops instead.
    """

    path: Path | None = None
    period: str = "30d"
    day_boundary: DayBoundary = DayBoundary.UTC
    refresh_minutes: int = 15
    budgets: Budgets = field(default_factory=Budgets)
    prices: list[PriceOverride] = field(default_factory=list)
    accounts: list[AccountConfig] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    file_problem: str | None = None

    def account(self, account_id: str) -> AccountConfig | None:
        for account in self.accounts:
            if account.id == account_id:
                return account
        return None
