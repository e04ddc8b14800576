"""Aggregation: one account's rows into per-day and per-model totals, and accounts into a total."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from tokenwatch_desktop.core.periods import Period
from tokenwatch_desktop.core.records import (
    UNATTRIBUTED,
    AccountData,
    AccountKind,
    AccountReport,
    CostSource,
    DayTotal,
    ModelTotal,
    ProblemInfo,
    Status,
    Tokens,
    UsageRow,
)

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class AccountIdentity:
    id: str
    provider: str
    name: str
    kind: AccountKind


def build_report(
    who: AccountIdentity,
    data: AccountData,
    period: Period,
    as_of: datetime,
    elapsed_ms: int,
) -> AccountReport:
    """Fill in every day of the period and the per-model table; decide ok or partial."""
    days = _days(data, period)
    known = [day.cost for day in days if day.cost is not None]
    cost: Decimal | None = sum(known, Decimal(0)) if known and data.has_cost else None
    if cost is None and data.period_cost is not None:
        cost = data.period_cost
    in_period = [row for row in data.usage if period.start <= row.day <= period.end]
    tokens = _sum_tokens(row.tokens for row in in_period) if data.has_tokens else None
    requests = _sum_requests(in_period) if data.has_requests else None
    problems = list(data.problems)
    missing = sorted(day for day in data.unknown_days if period.start <= day <= period.end)
    if data.has_cost and data.period_cost is None and missing and not problems:
        problems.append(ProblemInfo(
            "incomplete",
            f"{who.name} (account {who.id}): no figure came back for {len(missing)} of the "
            f"period's {period.length} days ({missing[0]} to {missing[-1]}), so the total is "
            "short; refresh later, and report the problem if it stays.",
        ))
    if data.unpriced_models:
        problems.append(ProblemInfo(
            "unpriced",
            "no price is known for " + ", ".join(sorted(data.unpriced_models))
            + "; their tokens are counted but the estimate is a lower bound. "
            "Add a price in the config's `prices` table.",
        ))
    return AccountReport(
        id=who.id, provider=who.provider, name=who.name, kind=who.kind,
        status=Status.PARTIAL if problems else Status.OK,
        error=problems[0] if problems else None,
        as_of=as_of, stale=False,
        cost=cost,
        cost_source=_account_source(data) if cost is not None else None,
        tokens=tokens, requests=requests,
        models=_models(in_period, data),
        days=days, balance=list(data.balance), breakdown=data.breakdown,
        elapsed_ms=elapsed_ms, notes=list(data.notes),
        unpriced_models=sorted(data.unpriced_models),
        period_start=period.start, period_end=period.end,
        day_boundary=period.day_boundary.value,
    )


def error_report(
    who: AccountIdentity, problem: ProblemInfo, period: Period, elapsed_ms: int,
    status: Status = Status.ERROR,
) -> AccountReport:
    """An account with no figures: an error, or a disabled account."""
    days = [DayTotal(day, None, None, None) for day in period.days()]
    return AccountReport(
        id=who.id, provider=who.provider, name=who.name, kind=who.kind, status=status,
        error=problem if status is Status.ERROR else None, as_of=None, stale=False,
        cost=None, cost_source=None, tokens=None, requests=None, models=[], days=days,
        balance=[], breakdown=None, elapsed_ms=elapsed_ms,
        period_start=period.start, period_end=period.end, day_boundary=period.day_boundary.value,
    )


def _account_source(data: AccountData) -> CostSource | None:
    return combine_sources(row.source for row in data.costs) or data.cost_source


def combine_sources(sources: Iterable[CostSource | None]) -> CostSource | None:
    """One source when all parts agree, `mixed` when they do not, None when there are none."""
    found = {source for source in sources if source is not None}
    if not found:
        return None
    if len(found) == 1:
        return found.pop()
    return CostSource.MIXED


def _days(data: AccountData, period: Period) -> list[DayTotal]:
    money: dict[date, Decimal] = defaultdict(Decimal)
    sources: dict[date, set[CostSource]] = defaultdict(set)
    for row in data.costs:
        money[row.day] += row.amount
        sources[row.day].add(row.source)
    tokens: dict[date, Tokens] = defaultdict(Tokens)
    for usage in data.usage:
        tokens[usage.day] = tokens[usage.day] + usage.tokens
    result = []
    for day in period.days():
        known = data.has_cost and day not in data.unknown_days
        result.append(DayTotal(
            day=day,
            cost=money[day] if known else None,
            cost_source=(combine_sources(sources[day]) or data.cost_source) if known else None,
            tokens=tokens.get(day, Tokens()) if data.has_tokens else None,
        ))
    return result


def _models(rows: Sequence[UsageRow], data: AccountData) -> list[ModelTotal]:
    groups: dict[str, list[UsageRow]] = defaultdict(list)
    for row in rows:
        groups[row.model or UNATTRIBUTED].append(row)
    models = []
    for name, group in groups.items():
        costs = [row.cost for row in group]
        priced = all(cost is not None for cost in costs) and bool(costs)
        models.append(ModelTotal(
            model=name,
            cost=sum((c for c in costs if c is not None), Decimal(0)) if priced else None,
            cost_source=combine_sources(row.cost_source for row in group) if priced else None,
            tokens=_sum_tokens(row.tokens for row in group) if data.has_tokens else None,
            requests=_sum_requests(group) if data.has_requests else None,
        ))
    models.sort(key=lambda m: (-(m.cost or Decimal(0)), -(m.tokens.total if m.tokens else 0),
                               m.model))
    return models


def _sum_tokens(items: Iterable[Tokens]) -> Tokens:
    total = Tokens()
    for item in items:
        total = total + item
    return total


def _sum_requests(rows: Iterable[UsageRow]) -> int | None:
    counts = [row.requests for row in rows]
    if any(count is None for count in counts):
        return None
    return sum(count for count in counts if count is not None)


@dataclass
class Totals:
    """The combined figures of a set of accounts, kept apart by kind (billed vs local)."""

    cost: Decimal | None = None
    complete: bool = True
    estimated: bool = False
    local_estimate: Decimal | None = None
    local_complete: bool = True
    unpriced_models: list[str] = field(default_factory=list)


def totals(accounts: Sequence[AccountReport]) -> Totals:
    """Sum billed accounts into `cost` and local-log accounts into `local_estimate`, never mixed."""
    result = Totals()
    unpriced: set[str] = set()
    for account in accounts:
        if account.status is Status.DISABLED:
            continue
        healthy = account.status is Status.OK
        if account.kind is AccountKind.BILLED:
            result.complete = result.complete and healthy
            if account.cost is not None:
                result.cost = (result.cost or Decimal(0)) + account.cost
                if account.cost_source in (CostSource.ESTIMATED, CostSource.MIXED):
                    result.estimated = True
        else:
            result.local_complete = result.local_complete and healthy
            if account.cost is not None:
                result.local_estimate = (result.local_estimate or Decimal(0)) + account.cost
        unpriced.update(account.unpriced_models)
    result.unpriced_models = sorted(unpriced)
    return result


def average_per_day(account: AccountReport) -> Decimal | None:
    """Mean cost per day over the days that have a figure."""
    known = [day.cost for day in account.days if day.cost is not None]
    if not known:
        return None
    return sum(known, Decimal(0)) / len(known)


def cost_per_million(account: AccountReport) -> Decimal | None:
    """Cost per million tokens, when both the cost and a non-zero token count are known."""
    if account.cost is None or account.tokens is None or account.tokens.total == 0:
        return None
    return account.cost * MILLION / account.tokens.total
