"""Fake of the xAI Management API billing endpoints: usage analytics and the prepaid ledger.

Routes: `POST /v1/billing/teams/{team_id}/usage` (USD per day and line item, as JSON numbers)
and `GET /v1/billing/teams/{team_id}/prepaid/balance` (cents as strings, negative while credit
remains). A team id is served when it is in `world.xai_teams` (default `demo-team`) or starts
with `team-`; any other id gets 404. Error bodies are gRPC-gateway style `{code, message, details}`.

Scenarios: `auth` (401), `forbidden` (403), `no_billing_access` (501), `not_found` (404),
`billing` (402), `server_error` (500), `malformed`, `wrong_shape`, `deficit` (a positive ledger
total) and `limit_reached` (one series only, with `limitReached: true`). The `rate_limit`
scenario applies to the usage route only. The client sends both calls at once, so a limit on
both routes would count the balance call's first attempt as an early retry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tokenwatch_desktop.providers.fake import FakeRequest, FakeResponse, FakeWorld

PREFIX = "xai"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DESCRIPTIONS = ("Chat grok-4-0709", "Chat grok-3-mini", "Image grok-2-image-1212")
_ROUTE = re.compile(r"^/v1/billing/teams/(?P<team>[^/]+)/(?P<rest>usage|prepaid/balance)$")
_FAILURES = {
    "auth": (401, 16, "invalid management key"),
    "forbidden": (403, 7, "the management key lacks the billing read permission"),
    "no_billing_access": (501, 12, "billing access is not enabled for this key"),
    "not_found": (404, 5, "team not found"),
    "billing": (402, 9, "the team has an unpaid balance"),
    "server_error": (500, 13, "internal error"),
}
_VALUES = [{"name": "usd", "aggregation": "AGGREGATION_SUM"}]


def handle(world: FakeWorld, request: FakeRequest) -> FakeResponse:
    """Serve one request to the xAI fake."""
    key = request.bearer()
    if not key:
        return _error(401, 16, "missing management key")
    match = _ROUTE.match(request.path)
    if match is not None and match["rest"] == "usage":
        limited = world.rate_limited(PREFIX, key)
        if limited is not None:
            return limited
    scenario = world.scenario(PREFIX, key)
    if scenario in _FAILURES:
        return _error(*_FAILURES[scenario])
    if match is None:
        return _error(404, 5, f"no route {request.path}")
    team = match["team"]
    if not serves_team(world, team):
        return _error(404, 5, f"team {team} not found")
    if scenario == "malformed":
        return FakeResponse(200, b"<html><body>502 Bad Gateway</body></html>")
    if scenario == "wrong_shape":
        return FakeResponse(200, {"timeSeries": {"total": 5}, "total": "5"})
    if match["rest"] == "usage" and request.method == "POST":
        return _usage(world, key, team, request)
    if match["rest"] == "prepaid/balance" and request.method == "GET":
        return FakeResponse(200, balance_body(world, key, team))
    return _error(405, 12, f"method {request.method} not allowed")


def serves_team(world: FakeWorld, team: str) -> bool:
    """Tell whether the fake has a team with this id."""
    return team in world.xai_teams or team.startswith("team-")


def daily_items(world: FakeWorld, key: str, team: str, day: date) -> dict[str, Decimal]:
    """Compute one day's spend per line item in USD (empty after today)."""
    if day > world.today:
        return {}
    rng = world.rng(PREFIX, key, team, day.isoformat())
    items = {}
    for description in DESCRIPTIONS:
        if rng.random() < 0.7:
            items[description] = Decimal(rng.randrange(0, 90_000)) / Decimal(10_000)
    return items


def expected_spend(world: FakeWorld, key: str, team: str, start: date,
                   end: date) -> dict[date, Decimal]:
    """Compute the exact spend per day (inclusive range, zero days included) for a key and team."""
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return {day: sum(daily_items(world, key, team, day).values(), Decimal(0)) for day in days}


def ledger_cents(world: FakeWorld, key: str, team: str) -> int:
    """Compute the prepaid ledger total in cents: negative while credit remains."""
    rng = world.rng(PREFIX, key, team, "ledger")
    if world.scenario(PREFIX, key) == "deficit":
        return rng.randrange(100, 5_000)
    return -rng.randrange(1_000, 100_000)


def expected_remaining(world: FakeWorld, key: str, team: str) -> Decimal:
    """Compute the remaining prepaid credit in USD that the client should report."""
    return Decimal(-ledger_cents(world, key, team)) / Decimal(100)


def balance_body(world: FakeWorld, key: str, team: str) -> dict[str, Any]:
    """Build the prepaid balance response: the ledger with two invented changes and its total."""
    total = ledger_cents(world, key, team)
    purchase = total - 1_250
    changes = [
        {"changeOrigin": "PURCHASE", "amount": {"val": str(purchase)},
         "createTime": "2026-01-15T09:30:00Z"},
        {"changeOrigin": "SPEND", "amount": {"val": "1250"}, "createTime": "2026-02-01T00:00:00Z"},
    ]
    return {"changes": changes, "total": {"val": str(total)}}


def _usage(world: FakeWorld, key: str, team: str, request: FakeRequest) -> FakeResponse:
    try:
        start, end, grouped = _read_query(request)
    except ValueError as exc:
        return _error(400, 3, f"invalid analytics request: {exc}")
    days = [start + timedelta(days=n) for n in range((end - start).days)]
    days = [day for day in days if day <= world.today]
    items = {day: daily_items(world, key, team, day) for day in days}
    if grouped:
        series = [_series([name], days, {d: v.get(name) for d, v in items.items()})
                  for name in DESCRIPTIONS if any(name in v for v in items.values())]
    else:
        totals = {day: sum(v.values(), Decimal(0)) for day, v in items.items()}
        series = [_series([], days, totals)]
    limited = world.scenario(PREFIX, key) == "limit_reached"
    return FakeResponse(200, {"timeSeries": series[:1] if limited else series,
                              "limitReached": limited})


def _read_query(request: FakeRequest) -> tuple[date, date, bool]:
    """Check the analytics body as the fake understands it; raise `ValueError` when invalid."""
    try:
        query = request.json()["analyticsRequest"]
        time_range = query["timeRange"]
        start = datetime.strptime(time_range["startTime"], TIME_FORMAT)
        end = datetime.strptime(time_range["endTime"], TIME_FORMAT)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"timeRange is missing or not 'YYYY-MM-DD HH:MM:SS' ({exc})") from None
    if time_range.get("timezone") != "Etc/GMT":
        raise ValueError("this fake serves timezone Etc/GMT only")
    if query.get("timeUnit") != "TIME_UNIT_DAY" or query.get("values") != _VALUES:
        raise ValueError("this fake serves timeUnit TIME_UNIT_DAY with the usd SUM value only")
    if start.time() != datetime.min.time() or end.time() != datetime.min.time() or end <= start:
        raise ValueError("startTime and endTime must be midnights, endTime after startTime")
    group_by = query.get("groupBy", [])
    if group_by not in ([], ["description"]):
        raise ValueError(f"unsupported groupBy {group_by!r}")
    return start.date(), end.date(), bool(group_by)


def _series(group: list[str], days: list[date],
            values: Mapping[date, Decimal | None]) -> dict[str, Any]:
    points = [{"timestamp": f"{day.isoformat()}T00:00:00Z",
               "values": [values.get(day) or Decimal(0)]} for day in days]
    return {"group": group, "groupLabels": group, "dataPoints": points}


def _error(status: int, code: int, message: str) -> FakeResponse:
    return FakeResponse(status, {"code": code, "message": message, "details": []})
