"""OpenAI: daily costs from `/organization/costs` and the model table from completions usage.

Both endpoints need an admin key, take Unix seconds, return daily buckets in UTC and page by
bucket count. Costs are dollars, sent as a JSON number or (seen live) a numeric string.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from tokenwatch_desktop.core import money
from tokenwatch_desktop.core.errors import ErrorKind, ParseError, ProviderError
from tokenwatch_desktop.core.records import (
    AccountData,
    BreakdownRow,
    CostRow,
    CostSource,
    Tokens,
    UsageRow,
)
from tokenwatch_desktop.providers import buckets, registry
from tokenwatch_desktop.providers.base import FetchRequest, context
from tokenwatch_desktop.providers.buckets import Collected, Row
from tokenwatch_desktop.providers.http import CallContext

COSTS_PATH = "/organization/costs"
USAGE_PATH = "/organization/usage/completions"
#: Maximum `limit` (daily buckets per page) of each endpoint.
COSTS_MAX_BUCKETS = 180
USAGE_MAX_BUCKETS = 31
#: Cost rows are reported to settle up to two days late.
SETTLING_DAYS = 2
SETTLING_NOTE = "OpenAI's last two days may still change (costs settle late)."
#: `request.by` → (cost `group_by` value, label of rows whose group field is null).
BREAKDOWNS = {"project": ("project_id", "(no project)"), "key": ("api_key_id", "(no API key)")}


async def fetch(request: FetchRequest) -> AccountData:
    """Fetch costs and usage (and a breakdown when asked) concurrently for the period."""
    ctx = _context(request)
    breakdown = BREAKDOWNS.get(request.by or "")

    async with buckets.task_group() as group:
        costs = group.create_task(_costs(ctx, request, "line_item"))
        usage = group.create_task(_usage(ctx, request))
        split = group.create_task(_costs(ctx, request, breakdown[0])) if breakdown else None

    data = AccountData(costs=costs.result().rows, usage=usage.result().rows)
    data.unknown_days = set(request.period.days()) - costs.result().days
    buckets.add_invalid(data, ctx, "cost", costs.result())
    buckets.add_invalid(data, ctx, "usage", usage.result())
    if split is not None and breakdown is not None:
        buckets.add_invalid(data, ctx, "breakdown cost", split.result())
        data.breakdown = _breakdown(split.result().rows, breakdown[1])
    if request.period.end >= request.now.astimezone(UTC).date() - timedelta(SETTLING_DAYS - 1):
        data.notes.append(SETTLING_NOTE)
    return data


def _context(request: FetchRequest) -> CallContext:
    info = registry.info("openai")
    if not request.key:
        raise ProviderError(
            ErrorKind.NO_KEY,
            f"OpenAI (account {request.account.id}): no key is stored. This needs "
            f"{info.key_kind}; store one with `tokenwatch setup {request.account.id}`.",
        )
    return context(request, info, {"Authorization": f"Bearer {request.key}"})


async def _costs(ctx: CallContext, request: FetchRequest, group_by: str) -> Collected[CostRow]:
    """Fetch daily cost rows grouped by `group_by`, each labelled with that field's value."""
    return await buckets.fetch_report(ctx, request.http, request.period, COSTS, (group_by,),
                                      lambda row, day: _cost_row(row, day, group_by),
                                      f"{ctx.who}, costs")


async def _usage(ctx: CallContext, request: FetchRequest) -> Collected[UsageRow]:
    """Fetch completions usage per day and model."""
    return await buckets.fetch_report(ctx, request.http, request.period, USAGE, ("model",),
                                      _usage_row, f"{ctx.who}, completions usage")


def _window_params(start: date, end: date) -> list[tuple[str, str]]:
    """Build the query of one window: UTC midnights, end exclusive, one page of buckets."""
    days = (end - start).days + 1
    return [
        ("start_time", str(_unix(start))),
        ("end_time", str(_unix(end + timedelta(days=1)))),
        ("bucket_width", "1d"),
        ("limit", str(days)),
    ]


def _unix(day: date) -> int:
    return int(datetime.combine(day, time(), tzinfo=UTC).timestamp())


def _bucket_day(bucket: Mapping[str, Any], where: str) -> date:
    start = bucket.get("start_time")
    if isinstance(start, bool) or not isinstance(start, int):
        raise ParseError(f"{where}: a bucket's `start_time` is {start!r}, expected Unix seconds")
    try:
        return datetime.fromtimestamp(start, UTC).date()
    except (OverflowError, OSError, ValueError):
        raise ParseError(f"{where}: a bucket's `start_time` {start} is out of range") from None


COSTS = buckets.Report(COSTS_PATH, COSTS_MAX_BUCKETS, _window_params, _bucket_day)
USAGE = buckets.Report(USAGE_PATH, USAGE_MAX_BUCKETS, _window_params, _bucket_day)


def _cost_row(row: Row, day: date, group_by: str) -> CostRow:
    where = f"OpenAI costs on {day}"
    amount = row.get("amount")
    if not isinstance(amount, Mapping):
        raise ParseError(f"{where}: a row has no `amount`")
    currency = amount.get("currency")
    if currency is not None and (not isinstance(currency, str) or currency.lower() != "usd"):
        raise ParseError(f"{where}: `amount.currency` is {currency!r}, expected usd")
    value = money.to_decimal(amount.get("value"), f"{where}: `amount.value`")
    label = buckets.optional_text(row, group_by, where)
    return CostRow(day, value, CostSource.REPORTED, label)


def _usage_row(row: Row, day: date) -> UsageRow:
    where = f"OpenAI completions usage on {day}"
    total_input = buckets.count(row, "input_tokens", where)
    cached = buckets.count(row, "input_cached_tokens", where, required=False)
    written = buckets.count(row, "input_cache_write_tokens", where, required=False)
    uncached = buckets.optional_count(row, "input_uncached_tokens", where)
    if uncached is None:
        # `input_tokens` includes cache reads and cache writes.
        uncached = total_input - cached - written
        if uncached < 0:
            raise ParseError(f"{where}: `input_tokens` {total_input} is less than its cached "
                             f"({cached}) and cache-write ({written}) parts")
    tokens = Tokens(uncached, cached, written, buckets.count(row, "output_tokens", where))
    requests = buckets.count(row, "num_model_requests", where)
    return UsageRow(day, buckets.optional_text(row, "model", where), tokens, requests)


def _breakdown(rows: list[CostRow], null_label: str) -> list[BreakdownRow]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row.label or null_label] += row.amount
    ordered = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return [BreakdownRow(group, cost, None) for group, cost in ordered]
