"""Anthropic: daily costs from the Admin API cost report, tokens from the messages usage report.

Both endpoints need an Admin API key, take RFC 3339 instants, return daily buckets in UTC and
page by bucket count (at most 31 daily buckets per page). Cost report amounts are cents as
decimal strings. The cost report leaves out Priority Tier cost and cannot split by API key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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

COST_PATH = "/v1/organizations/cost_report"
USAGE_PATH = "/v1/organizations/usage_report/messages"
API_VERSION = "2023-06-01"
#: Maximum `limit` (daily buckets per page) of both endpoints.
MAX_BUCKETS = 31
PRIORITY_TIERS = frozenset({"priority", "priority_on_demand"})
DEFAULT_WORKSPACE = "default workspace"
CONSOLE = "Console/Workbench"


@dataclass(frozen=True, slots=True)
class LabelledUsage:
    """A usage row and the value of the extra grouping field it was read with."""

    row: UsageRow
    label: str | None


async def fetch(request: FetchRequest) -> AccountData:
    """Fetch the cost and usage reports (and a breakdown when asked) concurrently."""
    ctx = _context(request)

    async with buckets.task_group() as group:
        costs = group.create_task(_costs(ctx, request, "description"))
        usage = group.create_task(_usage(ctx, request, ("model", "service_tier"), "service_tier"))
        by_workspace = (group.create_task(_costs(ctx, request, "workspace_id"))
                        if request.by == "project" else None)
        by_key = (group.create_task(_usage(ctx, request, ("api_key_id",), "api_key_id"))
                  if request.by == "key" else None)

    data = AccountData(costs=costs.result().rows, has_requests=False)
    data.usage = [item.row for item in usage.result().rows]
    data.unknown_days = set(request.period.days()) - costs.result().days
    buckets.add_invalid(data, ctx, "cost report", costs.result())
    buckets.add_invalid(data, ctx, "usage report", usage.result())
    _note_priority(data, usage.result().rows)
    if by_workspace is not None:
        buckets.add_invalid(data, ctx, "workspace cost", by_workspace.result())
        data.breakdown = _workspace_breakdown(by_workspace.result().rows)
    if by_key is not None:
        buckets.add_invalid(data, ctx, "API key usage", by_key.result())
        data.breakdown = _key_breakdown(by_key.result().rows)
    return data


def _context(request: FetchRequest) -> CallContext:
    info = registry.info("anthropic")
    if not request.key:
        raise ProviderError(
            ErrorKind.NO_KEY,
            f"Anthropic (account {request.account.id}): no key is stored. This needs "
            f"{info.key_kind}; store one with `tokenwatch setup {request.account.id}`.",
        )
    headers = {"x-api-key": request.key, "anthropic-version": API_VERSION}
    return context(request, info, headers)


async def _costs(ctx: CallContext, request: FetchRequest, group_by: str) -> Collected[CostRow]:
    """Fetch daily cost rows grouped by `group_by`, each labelled with that field's value."""
    return await buckets.fetch_report(ctx, request.http, request.period, COSTS, (group_by,),
                                      lambda row, day: _cost_row(row, day, group_by),
                                      f"{ctx.who}, cost report")


async def _usage(ctx: CallContext, request: FetchRequest, group_by: Sequence[str],
                 label: str) -> Collected[LabelledUsage]:
    """Fetch token usage per day grouped by `group_by`, each row labelled by its `label` field."""
    return await buckets.fetch_report(ctx, request.http, request.period, USAGE, group_by,
                                      lambda row, day: _usage_row(row, day, label),
                                      f"{ctx.who}, usage report")


def _window_params(start: date, end: date) -> list[tuple[str, str]]:
    """Build the query of one window: UTC midnights, `ending_at` exclusive, one page of buckets."""
    days = (end - start).days + 1
    return [
        ("starting_at", _instant(start)),
        ("ending_at", _instant(end + timedelta(days=1))),
        ("bucket_width", "1d"),
        ("limit", str(days)),
    ]


def _instant(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _bucket_day(bucket: Mapping[str, Any], where: str) -> date:
    start = bucket.get("starting_at")
    if not isinstance(start, str):
        raise ParseError(f"{where}: a bucket's `starting_at` is {start!r}, expected RFC 3339")
    try:
        instant = datetime.fromisoformat(start)
    except ValueError:
        raise ParseError(f"{where}: a bucket's `starting_at` {start!r} is not RFC 3339") from None
    if instant.tzinfo is None:
        raise ParseError(f"{where}: a bucket's `starting_at` {start!r} has no time zone")
    return instant.astimezone(UTC).date()


COSTS = buckets.Report(COST_PATH, MAX_BUCKETS, _window_params, _bucket_day)
USAGE = buckets.Report(USAGE_PATH, MAX_BUCKETS, _window_params, _bucket_day)


def _cost_row(row: Row, day: date, group_by: str) -> CostRow:
    where = f"Anthropic cost report on {day}"
    currency = row.get("currency")
    if currency is not None and (not isinstance(currency, str) or currency.upper() != "USD"):
        raise ParseError(f"{where}: `currency` is {currency!r}, expected USD")
    amount = money.cents_to_dollars(row.get("amount"), f"{where}: `amount` (cents)")
    return CostRow(day, amount, CostSource.REPORTED, buckets.optional_text(row, group_by, where))


def _usage_row(row: Row, day: date, label: str) -> LabelledUsage:
    where = f"Anthropic usage report on {day}"
    tokens = Tokens(
        input=buckets.count(row, "uncached_input_tokens", where),
        cached_input=buckets.count(row, "cache_read_input_tokens", where, required=False),
        cache_write=_cache_writes(row, where),
        output=buckets.count(row, "output_tokens", where),
    )
    model = buckets.optional_text(row, "model", where)
    return LabelledUsage(UsageRow(day, model, tokens), buckets.optional_text(row, label, where))


def _cache_writes(row: Row, where: str) -> int:
    """Sum cache writes: the 5-minute plus 1-hour split when present, else a flat total if any."""
    creation = row.get("cache_creation")
    if isinstance(creation, Mapping):
        nested = f"{where}: cache_creation"
        return (buckets.count(creation, "ephemeral_5m_input_tokens", nested, required=False)
                + buckets.count(creation, "ephemeral_1h_input_tokens", nested, required=False))
    if creation is not None:
        raise ParseError(f"{where}: `cache_creation` is not an object")
    return buckets.count(row, "cache_creation_input_tokens", where, required=False)


def _note_priority(data: AccountData, rows: list[LabelledUsage]) -> None:
    priority = sum(item.row.tokens.total for item in rows if item.label in PRIORITY_TIERS)
    if priority:
        data.notes.append(
            f"Anthropic's cost report leaves out Priority Tier cost: {priority:,} tokens in this "
            "period ran on Priority Tier, so the bill is higher than the cost shown."
        )


def _workspace_breakdown(rows: list[CostRow]) -> list[BreakdownRow]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row.label or DEFAULT_WORKSPACE] += row.amount
    ordered = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return [BreakdownRow(group, cost, None) for group, cost in ordered]


def _key_breakdown(rows: list[LabelledUsage]) -> list[BreakdownRow]:
    """Sum tokens per API key. The cost is None because the cost report cannot split by key."""
    totals: dict[str, Tokens] = defaultdict(Tokens)
    for item in rows:
        group = item.label or CONSOLE
        totals[group] = totals[group] + item.row.tokens
    ordered = sorted(totals.items(), key=lambda item: (-item[1].total, item[0]))
    return [BreakdownRow(group, None, tokens) for group, tokens in ordered]
