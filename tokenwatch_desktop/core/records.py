"""Records that every provider returns and every view reads: tokens, money, days, models."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


class CostSource(enum.StrEnum):
    """Where a money figure comes from."""

    REPORTED = "reported"  #: a provider cost endpoint
    ESTIMATED = "estimated"  #: tokens × a price table
    MIXED = "mixed"  #: a sum of reported and estimated parts


class AccountKind(enum.StrEnum):
    BILLED = "billed"
    LOCAL = "local"


class Status(enum.StrEnum):
    """State of one account after a refresh."""

    OK = "ok"
    PARTIAL = "partial"  #: some figures are missing or invalid; the rest are shown
    ERROR = "error"  #: nothing usable came back
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Tokens:
    """Token counts normalised across providers.

    `input` counts uncached input only; `cached_input` counts cache reads; `cache_write`
    counts cache creation (5-minute and 1-hour together); `output` includes reasoning.
    """

    input: int = 0
    cached_input: int = 0
    cache_write: int = 0
    output: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(
            self.input + other.input,
            self.cached_input + other.cached_input,
            self.cache_write + other.cache_write,
            self.output + other.output,
        )

    @property
    def total(self) -> int:
        return self.input + self.cached_input + self.cache_write + self.output

    def as_dict(self) -> dict[str, int]:
        return {
            "input": self.input,
            "cached_input": self.cached_input,
            "cache_write": self.cache_write,
            "output": self.output,
        }


ZERO_TOKENS = Tokens()


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Tokens, requests and (when known) cost of one model on one day.

    `day` is a UTC day for billed providers and a `day_boundary` day for local logs.
    `model` is None when the provider did not say which model was used.
    """

    day: date
    model: str | None
    tokens: Tokens
    requests: int | None = None
    cost: Decimal | None = None
    cost_source: CostSource | None = None


@dataclass(frozen=True, slots=True)
class CostRow:
    """Money reported or estimated for one day, optionally labelled by a group (line item)."""

    day: date
    amount: Decimal
    source: CostSource
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    remaining: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    """One group of a `--by project|key` split: a project, an API key, a workspace."""

    group: str
    cost: Decimal | None
    tokens: Tokens | None


@dataclass
class AccountData:
    """What one provider fetch returns, before the engine fills in the period's days.

    A provider lists `costs` (money per day) and `usage` (tokens per model and day). Days in
    `unknown_days` have no figure at all (the API cannot cover them); the engine reports their
    cost as null. `problems` are errors that did not stop the fetch: each makes the account
    partial. `notes` are caveats shown next to the figures. `cost_source` is None for
    balance-only providers; `has_cost`, `has_tokens` and `has_requests` are False when the
    provider has no such data at all (their JSON fields are then null, not zero).
    """

    costs: list[CostRow] = field(default_factory=list)
    usage: list[UsageRow] = field(default_factory=list)
    cost_source: CostSource | None = CostSource.REPORTED
    has_cost: bool = True
    has_tokens: bool = True
    has_requests: bool = True
    unknown_days: set[date] = field(default_factory=set)
    balance: list[Balance] = field(default_factory=list)
    breakdown: list[BreakdownRow] | None = None
    problems: list[ProblemInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unpriced_models: set[str] = field(default_factory=set)
    #: A cost total for the whole period when the API gives no per-day figures
    #: (OpenRouter's `usage_monthly` with a normal key).
    period_cost: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ProblemInfo:
    """An error kind and message, kept as plain data so records stay free of exceptions."""

    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class DayTotal:
    day: date
    cost: Decimal | None
    cost_source: CostSource | None
    tokens: Tokens | None


@dataclass(frozen=True, slots=True)
class ModelTotal:
    model: str
    cost: Decimal | None
    cost_source: CostSource | None
    tokens: Tokens | None
    requests: int | None


UNATTRIBUTED = "(unattributed)"


@dataclass
class AccountReport:
    """One account's figures for one period, with its status: what tables and JSON show."""

    id: str
    provider: str
    name: str
    kind: AccountKind
    status: Status
    error: ProblemInfo | None
    as_of: datetime | None
    stale: bool
    cost: Decimal | None
    cost_source: CostSource | None
    tokens: Tokens | None
    requests: int | None
    models: list[ModelTotal]
    days: list[DayTotal]
    balance: list[Balance]
    breakdown: list[BreakdownRow] | None
    elapsed_ms: int
    notes: list[str] = field(default_factory=list)
    unpriced_models: list[str] = field(default_factory=list)
    period_start: date | None = None
    period_end: date | None = None
    day_boundary: str = "utc"
