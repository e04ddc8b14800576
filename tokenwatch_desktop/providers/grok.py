"""Grok (xAI): daily spend and the prepaid balance from the xAI Management API billing endpoints.

Two calls run concurrently, and both decide the account's status:

* `POST /v1/billing/teams/{team_id}/usage`: USD per UTC day, summed over every line item;
* `GET /v1/billing/teams/{team_id}/prepaid/balance`: the prepaid credit ledger, in cents.

The Management API reports no token counts, so the account's tokens and requests are null.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

from tokenwatch_desktop.core import money
from tokenwatch_desktop.core.errors import ErrorKind, ParseError, ProviderError
from tokenwatch_desktop.core.periods import Period
from tokenwatch_desktop.core.records import AccountData, Balance, CostRow, CostSource, ProblemInfo
from tokenwatch_desktop.providers import registry
from tokenwatch_desktop.providers.base import FetchRequest, context
from tokenwatch_desktop.providers.http import CallContext

log = logging.getLogger(__name__)

INFO = registry.info("grok")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: The Management API returns 501 to a key without billing read access.
STATUS_KINDS = {501: ErrorKind.PERMISSION}
#: Keys of a usage response that may appear without `timeSeries`: protobuf's JSON mapping
#: leaves out empty lists and false booleans, so a period without spend can come back as `{}`.
_EMPTY_USAGE_KEYS = {"limitReached"}

T = TypeVar("T")


async def fetch(request: FetchRequest) -> AccountData:
    """Read the team's daily spend and prepaid balance; raise `ProviderError` when both fail."""
    team_id = _team_id(request)
    if not request.key:
        raise _account_error(request, ErrorKind.NO_KEY, "no management key is stored; store one "
                             f"with `tokenwatch setup {request.account.id}`.")
    ctx = context(request, INFO, {"Authorization": f"Bearer {request.key}"},
                  status_kinds=STATUS_KINDS)
    team_path = f"/v1/billing/teams/{quote(team_id, safe='')}"

    spend, balance = await asyncio.gather(
        _settled(_read_spend(request, ctx, team_path)),
        _settled(_read_balance(request, ctx, team_path)),
    )

    return _combine(spend, balance, request.period, ctx.who)


def usage_body(period: Period) -> dict[str, Any]:
    """Build the usage query: USD summed per UTC day and line item, end time exclusive."""
    return {
        "analyticsRequest": {
            "timeRange": {
                "startTime": _instant(period.start),
                "endTime": _instant(period.end + timedelta(days=1)),
                "timezone": "Etc/GMT",
            },
            "timeUnit": "TIME_UNIT_DAY",
            "values": [{"name": "usd", "aggregation": "AGGREGATION_SUM"}],
            "groupBy": ["description"],
            "filters": [],
        }
    }


def parse_usage(data: Any, period: Period, who: str) -> AccountData:
    """Sum every series of a usage response per UTC day, within `period`.

    A response that is not the documented object raises `ParseError`. A data point that cannot
    be read becomes one problem, and its day (when known) has no figure; the other days stay.
    """
    series_list = _series_list(data, who)
    result = AccountData(has_tokens=False, has_requests=False)
    totals: dict[date, Decimal] = {}
    bad_points: list[str] = []
    for series_index, series in enumerate(series_list):
        for point_index, point in enumerate(_points(series, series_index, who)):
            where = f"series {series_index + 1}, point {point_index + 1}"
            _add_point(point, where, period, totals, result.unknown_days, bad_points)

    result.costs = [CostRow(day, amount, CostSource.REPORTED)
                    for day, amount in sorted(totals.items())
                    if day not in result.unknown_days]
    if bad_points:
        result.problems.append(_bad_points_problem(bad_points, who))
    if data.get("limitReached") is True:
        result.problems.append(ProblemInfo(
            ErrorKind.INCOMPLETE.value,
            f"{who}: xAI capped the number of usage series (limitReached), so the spend shown "
            "is a lower bound. Choose a shorter period.",
        ))
    return result


def parse_balance(data: Any, who: str) -> Balance | None:
    """Read the remaining prepaid credit in USD from the ledger, or None when there is no ledger.

    The ledger is inverted: `total.val` is in cents and negative while credit remains, so
    remaining = −val / 100, and a positive `val` (a deficit) gives a negative remaining.
    """
    if not isinstance(data, dict):
        raise ParseError(f"{who}: the prepaid balance response is not a JSON object; {_CHECK}")
    if "total" not in data:
        return None
    total = data["total"]
    if not isinstance(total, dict):
        raise ParseError(f"{who}: the prepaid balance `total` is not an object; {_CHECK}")
    # NOTE: protobuf's JSON mapping leaves out a zero int64, so `{"total": {}}` is read as 0.
    cents = money.to_decimal(total.get("val", 0), f"{who}: prepaid balance total.val")
    return Balance(-cents / money.HUNDRED, "USD")


_CHECK = "check that the base URL points to the xAI Management API (https://management-api.x.ai)."


async def _read_spend(request: FetchRequest, ctx: CallContext, team_path: str) -> AccountData:
    data = await request.http.request_json(ctx, "POST", team_path + "/usage",
                                           body=usage_body(request.period))
    return parse_usage(data, request.period, ctx.who)


async def _read_balance(request: FetchRequest, ctx: CallContext, team_path: str) -> Balance | None:
    data = await request.http.request_json(ctx, "GET", team_path + "/prepaid/balance")
    return parse_balance(data, ctx.who)


async def _settled(call: Awaitable[T]) -> T | ProviderError:
    """Await one call and return its `ProviderError` instead of raising it."""
    try:
        return await call
    except ProviderError as exc:
        return exc


def _combine(spend: AccountData | ProviderError, balance: Balance | None | ProviderError,
             period: Period, who: str) -> AccountData:
    if isinstance(spend, ProviderError) and isinstance(balance, ProviderError):
        raise spend
    if isinstance(spend, ProviderError):
        log.warning("%s: the spend call failed (%s); showing the balance only", who,
                    spend.kind.value)
        result = AccountData(has_tokens=False, has_requests=False,
                             unknown_days=set(period.days()), problems=[spend.as_problem()])
    else:
        result = spend

    if isinstance(balance, ProviderError):
        log.warning("%s: the balance call failed (%s)", who, balance.kind.value)
        result.problems.append(balance.as_problem())
    elif balance is None:
        result.notes.append("xAI reports no prepaid credit ledger for this team.")
    else:
        result.balance.append(balance)
    return result


def _team_id(request: FetchRequest) -> str:
    value = request.account.option("team_id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise _account_error(
            request, ErrorKind.CONFIG,
            "the account has no `team_id`. Add `team_id: <your team id>` to this account in the "
            f"config file, or run `tokenwatch setup {request.account.id} --team-id ID`; the team "
            "id is shown in the xAI console's team settings.",
        )
    return value.strip()


def _account_error(request: FetchRequest, kind: ErrorKind, text: str) -> ProviderError:
    return ProviderError(kind, f"{INFO.display_name} (account {request.account.id}): {text}")


def _series_list(data: Any, who: str) -> list[Any]:
    if not isinstance(data, dict):
        raise ParseError(f"{who}: the usage response is not a JSON object; {_CHECK}")
    if "timeSeries" not in data and set(data) <= _EMPTY_USAGE_KEYS:
        return []
    series = data.get("timeSeries")
    if not isinstance(series, list):
        raise ParseError(f"{who}: the usage response has no `timeSeries` list; {_CHECK}")
    return series


def _points(series: Any, index: int, who: str) -> list[Any]:
    if not isinstance(series, dict):
        raise ParseError(f"{who}: usage series {index + 1} is not an object; {_CHECK}")
    points = series.get("dataPoints", [])
    if not isinstance(points, list):
        raise ParseError(f"{who}: usage series {index + 1} has no `dataPoints` list; {_CHECK}")
    return points


def _add_point(point: Any, where: str, period: Period, totals: dict[date, Decimal],
               unknown: set[date], bad_points: list[str]) -> None:
    day = _point_day(point)
    if day is None:
        bad_points.append(f"{where}: missing or invalid timestamp")
        return
    if not period.start <= day <= period.end:
        log.debug("ignoring an xAI usage point for %s, outside %s..%s", day, period.start,
                  period.end)
        return
    try:
        amount = _point_value(point)
    except ParseError as exc:
        bad_points.append(f"{where} ({day}): {exc.message}")
        unknown.add(day)
        return
    totals[day] = totals.get(day, Decimal(0)) + amount


def _point_day(point: Any) -> date | None:
    if not isinstance(point, dict) or not isinstance(point.get("timestamp"), str):
        return None
    try:
        instant = datetime.fromisoformat(point["timestamp"])
    except ValueError:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)  # the query requested Etc/GMT
    return instant.astimezone(UTC).date()


def _point_value(point: dict[str, Any]) -> Decimal:
    values = point.get("values")
    if not isinstance(values, list) or not values:
        raise ParseError("no `values` list")
    return money.to_decimal(values[0], "values[0]")


def _bad_points_problem(bad_points: list[str], who: str) -> ProblemInfo:
    log.warning("%s: %d xAI usage points could not be read", who, len(bad_points))
    return ProblemInfo(
        ErrorKind.BAD_RESPONSE.value,
        f"{who}: {len(bad_points)} usage data point(s) could not be read (first: "
        f"{bad_points[0]}); the days they belong to have no figure. Try again later, and "
        "report the problem if it stays.",
    )


def _instant(day: date) -> str:
    return datetime.combine(day, time()).strftime(TIME_FORMAT)
