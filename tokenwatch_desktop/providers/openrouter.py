"""OpenRouter: spend from `/key` and `/activity`, and the credit balance from `/credits`.

`GET /key` works with any key and returns the key's spend today (`usage_daily`) and this month
(`usage_monthly`), in UTC. A management key may also read `GET /activity`: per day and model,
the last 30 completed UTC days, plus today through `?date=`. `GET /credits` gives the balance.
With a normal key only the periods `1d` and `mtd` have figures.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from tokenwatch_desktop.core import money
from tokenwatch_desktop.core.errors import ErrorKind, ParseError, ProviderError
from tokenwatch_desktop.core.periods import Period
from tokenwatch_desktop.core.records import (
    UNATTRIBUTED,
    AccountData,
    Balance,
    BreakdownRow,
    CostRow,
    CostSource,
    ProblemInfo,
    Tokens,
    UsageRow,
)
from tokenwatch_desktop.providers import registry
from tokenwatch_desktop.providers.base import FetchRequest, context
from tokenwatch_desktop.providers.http import CallContext

log = logging.getLogger(__name__)

INFO = registry.info("openrouter")
#: `/activity` without `date` covers this many completed UTC days before today.
ACTIVITY_DAYS = 30
REJECTED = (ErrorKind.AUTH, ErrorKind.PERMISSION)
CACHE_NOTE = ("OpenRouter does not report cached input tokens separately, so all prompt tokens "
              "are counted as uncached input.")

T = TypeVar("T")


@dataclass(frozen=True)
class KeyInfo:
    """The key's kind and spend counters (USD), as `/key` reports them."""

    management: bool
    usage_daily: Decimal | None
    usage_monthly: Decimal | None
    limit: Decimal | None = None
    limit_remaining: Decimal | None = None


@dataclass(frozen=True)
class ActivityRow:
    """One `/activity` row: one model's spend, tokens and requests on one UTC day."""

    day: date
    model: str | None
    cost: Decimal
    tokens: Tokens
    requests: int


@dataclass
class Activity:
    """Parsed `/activity` rows, and the rows that could not be read (with their day if known)."""

    rows: list[ActivityRow] = field(default_factory=list)
    bad_rows: list[tuple[str, date | None]] = field(default_factory=list)


async def fetch(request: FetchRequest) -> AccountData:
    """Read `/key`, then `/credits` and (for a management key) `/activity`."""
    if not request.key:
        raise ProviderError(
            ErrorKind.NO_KEY,
            f"OpenRouter (account {request.account.id}): no API key is stored; store one with "
            f"`tokenwatch setup {request.account.id}`.",
        )
    ctx = context(request, INFO, {"Authorization": f"Bearer {request.key}"})
    today = request.now.astimezone(UTC).date()

    key_info = parse_key(await request.http.request_json(ctx, "GET", "/key"), ctx.who)
    credits_call = _settled(_read_credits(request, ctx))
    if key_info.management:
        credits, activity = await asyncio.gather(
            credits_call, _settled(_read_activity(request, ctx, today))
        )
        result = _from_management(activity, key_info, request, today, ctx.who)
    else:
        credits = await credits_call
        result = _from_key(key_info, request, today, ctx.who)

    _add_credits(result, credits, key_info, ctx.who)
    _add_limit_note(result, key_info)
    return result


def parse_key(data: Any, who: str) -> KeyInfo:
    """Read the key's kind and spend counters from a `/key` response."""
    body = data.get("data") if isinstance(data, dict) else None
    if not isinstance(body, dict):
        raise ParseError(f"{who}: the /key response has no `data` object; {_CHECK}")
    management = body.get("is_management_key") is True or body.get("is_provisioning_key") is True
    return KeyInfo(
        management=management,
        usage_daily=_optional_money(body, "usage_daily", who),
        usage_monthly=_optional_money(body, "usage_monthly", who),
        limit=_lenient_money(body.get("limit")),
        limit_remaining=_lenient_money(body.get("limit_remaining")),
    )


def parse_credits(data: Any, who: str) -> tuple[Decimal, Decimal]:
    """Read `total_credits` and `total_usage` (USD) from a `/credits` response."""
    body = data.get("data") if isinstance(data, dict) else None
    if not isinstance(body, dict):
        raise ParseError(f"{who}: the /credits response has no `data` object; {_CHECK}")
    total = money.to_decimal(body.get("total_credits"), f"{who}: /credits total_credits")
    used = money.to_decimal(body.get("total_usage"), f"{who}: /credits total_usage")
    return total, used


def parse_activity(data: Any, who: str, into: Activity,
                   keep: Callable[[date], bool] = lambda day: True) -> None:
    """Add the rows of one `/activity` response whose day passes `keep` to `into`.

    A response without a `data` list raises `ParseError`; a row that cannot be read is kept in
    `into.bad_rows` and the other rows stay.
    """
    rows = data.get("data") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ParseError(f"{who}: the /activity response has no `data` list; {_CHECK}")
    for index, row in enumerate(rows):
        day = _row_day(row)
        if day is not None and not keep(day):
            continue
        try:
            into.rows.append(_parse_row(row, day))
        except ParseError as exc:
            into.bad_rows.append((f"row {index + 1}: {exc.message}", day))


_CHECK = "check that the base URL points to the OpenRouter API (https://openrouter.ai/api/v1)."


async def _settled(call: Awaitable[T]) -> T | ProviderError:
    """Await one call and return its `ProviderError` instead of raising it."""
    try:
        return await call
    except ProviderError as exc:
        return exc


async def _read_credits(request: FetchRequest, ctx: CallContext) -> tuple[Decimal, Decimal]:
    return parse_credits(await request.http.request_json(ctx, "GET", "/credits"), ctx.who)


async def _read_activity(request: FetchRequest, ctx: CallContext, today: date) -> Activity:
    """Fetch the activity days the period needs: the 30-day window and, separately, today."""
    period = request.period
    calls: list[tuple[list[tuple[str, str]], Callable[[date], bool]]] = []
    if period.start < today and period.end >= today - timedelta(days=ACTIVITY_DAYS):
        calls.append(([], lambda day: day < today))
    if period.start <= today <= period.end:
        calls.append(([("date", today.isoformat())], lambda day: day == today))

    answers = await asyncio.gather(*(
        _settled(request.http.request_json(ctx, "GET", "/activity", params=query))
        for query, _ in calls
    ))

    activity = Activity()
    for (_, keep), answer in zip(calls, answers, strict=True):
        if isinstance(answer, ProviderError):
            raise answer
        parse_activity(answer, ctx.who, activity, keep)
    return activity


def _from_management(activity: Activity | ProviderError, key_info: KeyInfo,
                     request: FetchRequest, today: date, who: str) -> AccountData:
    if isinstance(activity, ProviderError):
        log.warning("%s: /activity failed (%s); using the /key counters", who,
                    activity.kind.value)
        return _from_key(key_info, request, today, who, activity)
    period = request.period
    rows = [row for row in activity.rows if period.start <= row.day <= period.end]
    result = AccountData(notes=[CACHE_NOTE])
    result.costs = [CostRow(row.day, row.cost, CostSource.REPORTED, row.model) for row in rows]
    result.usage = [UsageRow(row.day, row.model, row.tokens, row.requests, row.cost,
                             CostSource.REPORTED) for row in rows]
    _mark_uncovered(result, period, today, who)
    _mark_bad_rows(result, activity.bad_rows, period, who)
    if request.by == "model":
        result.breakdown = breakdown_by_model(rows)
    return result


def breakdown_by_model(rows: Sequence[ActivityRow]) -> list[BreakdownRow]:
    """Sum activity rows per model, largest cost first."""
    costs: dict[str, Decimal] = {}
    tokens: dict[str, Tokens] = {}
    for row in rows:
        name = row.model or UNATTRIBUTED
        costs[name] = costs.get(name, Decimal(0)) + row.cost
        tokens[name] = tokens.get(name, Tokens()) + row.tokens
    ordered = sorted(costs, key=lambda name: (-costs[name], name))
    return [BreakdownRow(name, costs[name], tokens[name]) for name in ordered]


def _mark_uncovered(result: AccountData, period: Period, today: date, who: str) -> None:
    first_covered = today - timedelta(days=ACTIVITY_DAYS)
    older = {day for day in period.days() if day < first_covered}
    if not older:
        return
    result.unknown_days |= older
    result.problems.append(ProblemInfo(
        ErrorKind.INCOMPLETE.value,
        f"{who}: daily activity is available for the last {ACTIVITY_DAYS} days only, so "
        f"the {len(older)} days before {first_covered} have no figure. Choose a period of "
        f"{ACTIVITY_DAYS} days or less for a complete total.",
    ))


def _mark_bad_rows(result: AccountData, bad_rows: list[tuple[str, date | None]],
                   period: Period, who: str) -> None:
    bad_rows = [(text, day) for text, day in bad_rows
                if day is None or period.start <= day <= period.end]
    if not bad_rows:
        return
    log.warning("%s: %d /activity rows could not be read", who, len(bad_rows))
    result.unknown_days |= {day for _, day in bad_rows if day is not None}
    result.problems.append(ProblemInfo(
        ErrorKind.BAD_RESPONSE.value,
        f"{who}: {len(bad_rows)} /activity row(s) could not be read (first: {bad_rows[0][0]}); "
        "the days they belong to have no figure. Try again later, and report the problem if "
        "it stays.",
    ))


def _from_key(key_info: KeyInfo, request: FetchRequest, today: date, who: str,
              activity_error: ProviderError | None = None) -> AccountData:
    """Build the figures from the `/key` counters: today's spend for `1d`, the month's for `mtd`."""
    period = request.period
    result = AccountData(has_tokens=False, has_requests=False, unknown_days=set(period.days()))
    if activity_error is not None and activity_error.kind in REJECTED:
        result.notes.append(
            "This management key may not read /activity, so only the /key counters are used."
        )
    elif activity_error is not None:
        result.problems.append(activity_error.as_problem())

    if period.start == period.end == today:
        _use_counter(result, key_info.usage_daily, "usage_daily", who, today)
    elif period.start == today.replace(day=1) and period.end == today:
        _use_counter(result, key_info.usage_monthly, "usage_monthly", who, None)
    else:
        result.problems.append(_per_day_problem(request, who, activity_error is not None))
    if request.by == "model":
        result.problems.append(ProblemInfo(
            ErrorKind.PERMISSION.value,
            f"{who}: a breakdown by model needs an OpenRouter management key that may read "
            f"/activity; store one with `tokenwatch setup {request.account.id}`.",
        ))
    return result


def _use_counter(result: AccountData, value: Decimal | None, name: str, who: str,
                 day: date | None) -> None:
    """Put a `/key` counter in place: as `day`'s cost, or as the period's total when `day` is None."""
    if value is None:
        result.problems.append(ProblemInfo(
            ErrorKind.BAD_RESPONSE.value,
            f"{who}: the /key response has no `{name}`, so the period has no figure. Try again "
            "later, and report the problem if it stays.",
        ))
        return
    if day is not None:
        result.unknown_days.discard(day)
        result.costs.append(CostRow(day, value, CostSource.REPORTED))
        return
    result.period_cost = value
    result.notes.append(
        "With this key OpenRouter reports the month's total only; per-day figures need a "
        "management key."
    )


def _per_day_problem(request: FetchRequest, who: str, management: bool) -> ProblemInfo:
    key_kind = "a management key that may read /activity" if management else "a management key"
    return ProblemInfo(
        ErrorKind.PERMISSION.value,
        f"{who}: per-day spend needs {key_kind}. With this key only the periods 1d (today) and "
        f"mtd (month to date) have figures; store a management key with "
        f"`tokenwatch setup {request.account.id}`, or choose 1d or mtd.",
    )


def _add_credits(result: AccountData, credits: tuple[Decimal, Decimal] | ProviderError,
                 key_info: KeyInfo, who: str) -> None:
    if isinstance(credits, ProviderError):
        if credits.kind not in REJECTED:
            result.problems.append(credits.as_problem())
            return
        log.info("%s: /credits rejected the key (%s)", who, credits.kind.value)
        result.notes.append("The credit balance needs an OpenRouter management key; this key "
                            "may not read /credits.")
        return
    total, used = credits
    if not key_info.management and total == 0 and used == 0:
        # OpenRouter has been seen to return zeros to a normal key instead of an error.
        result.notes.append("OpenRouter returned zero credits for a key that is not a "
                            "management key, which means the balance is not readable with this "
                            "key; the balance needs a management key.")
        return
    result.balance.append(Balance(total - used, "USD"))


def _add_limit_note(result: AccountData, key_info: KeyInfo) -> None:
    if key_info.limit is None:
        return
    text = f"This key has a spending limit of {money.display(key_info.limit)}"
    if key_info.limit_remaining is not None:
        text += f", {money.display(key_info.limit_remaining)} of it left"
    result.notes.append(text + ".")


def _optional_money(body: dict[str, Any], name: str, who: str) -> Decimal | None:
    value = body.get(name)
    if value is None:
        return None
    return money.to_decimal(value, f"{who}: /key {name}")


def _lenient_money(value: object) -> Decimal | None:
    try:
        return None if value is None else money.to_decimal(value, "limit")
    except ParseError:
        return None


def _row_day(row: Any) -> date | None:
    text = row.get("date") if isinstance(row, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _parse_row(row: Any, day: date | None) -> ActivityRow:
    if day is None:
        raise ParseError("missing or invalid `date`")
    model = row.get("model")
    if model is not None and not isinstance(model, str):
        raise ParseError("`model` is not a string")
    cost = money.to_decimal(row.get("usage"), "usage")
    tokens = Tokens(input=_count(row, "prompt_tokens"), output=_count(row, "completion_tokens"))
    return ActivityRow(day, model or None, cost, tokens, _count(row, "requests"))


def _count(row: dict[str, Any], name: str) -> int:
    """Read a count; a missing one is 0, as the report format counts an omitted sub-field."""
    value = row.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ParseError(f"`{name}` is {shown}, expected a non-negative integer")
    return value
