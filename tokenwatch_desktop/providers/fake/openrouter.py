"""Fake of OpenRouter's `/key`, `/credits` and `/activity`, with money as JSON numbers in USD.

A key containing `mgmt`, or a demo mode key, is a management key. `/key` serves any key.
`/credits` and `/activity` return 403 to a normal key (the current OpenRouter reference requires
a management key), except that in the `zero_credits` scenario `/credits` returns 200 with zeros,
as OpenRouter has been seen to do. `/activity` without `date` returns the last 30 completed UTC
days, and `date` may name any of those days or today. Spend counters in `/key` are sums of the
same daily rows.

Scenarios: `auth` (401), `forbidden` (403), `not_found` (404), `billing` (402), `server_error`
(500), `rate_limit` (429), `malformed`, `wrong_shape`, `null_model` (rows with `model: null`),
`zero_credits`, `credits_forbidden` and `activity_forbidden` (403 for every key).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tokenwatch_desktop.providers.fake import FakeRequest, FakeResponse, FakeWorld

PREFIX = "openrouter"
#: The base URL ends in `/openrouter/api/v1`; routing strips only `/openrouter`.
API_PREFIX = "/api/v1"
ACTIVITY_DAYS = 30
MODELS = (
    ("anthropic/claude-sonnet-4.5", "anthropic/claude-4.5-sonnet-20250929", "Anthropic"),
    ("openai/gpt-4o-mini", "openai/gpt-4o-mini-2024-07-18", "OpenAI"),
    ("google/gemini-2.5-flash", "google/gemini-2.5-flash", "Google"),
    ("deepseek/deepseek-chat-v3", "deepseek/deepseek-chat-v3-0324", "DeepInfra"),
)
_FAILURES = {
    "auth": (401, "No auth credentials found"),
    "forbidden": (403, "Forbidden"),
    "not_found": (404, "Not Found"),
    "billing": (402, "Insufficient credits; add more at https://openrouter.ai/settings/credits"),
    "server_error": (500, "Internal Server Error"),
}
_MANAGEMENT_ONLY = (403, "This endpoint requires a management key")


@dataclass(frozen=True)
class FakeRow:
    """One model's activity on one day, as the fake reports it."""

    day: date
    model: str
    permaslug: str
    provider: str
    usage: Decimal
    requests: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int


def handle(world: FakeWorld, request: FakeRequest) -> FakeResponse:
    """Serve one request to the OpenRouter fake."""
    key = request.bearer()
    if not key:
        return _error(401, "No auth credentials found")
    limited = world.rate_limited(PREFIX, key)
    if limited is not None:
        return limited
    scenario = world.scenario(PREFIX, key)
    if scenario in _FAILURES:
        return _error(*_FAILURES[scenario])
    route = {"/key": _key, "/auth/key": _key, "/credits": _credits, "/activity": _activity}
    handler = route.get(request.path.removeprefix(API_PREFIX))
    if handler is None or request.method != "GET":
        return _error(404, f"no route {request.method} {request.path}")
    if scenario == "malformed":
        return FakeResponse(200, b"<!DOCTYPE html><title>Just a moment...</title>")
    if scenario == "wrong_shape":
        return FakeResponse(200, {"data": "unexpected"})
    return handler(world, key, request)


def is_management(key: str) -> bool:
    """Tell whether the fake treats a key as a management key.

    Demo mode's keys (`demo-key-<account>`) count as management keys, so the demo shows daily
    figures for every period.
    """
    return "mgmt" in key or key.startswith("demo-key-")


def day_rows(world: FakeWorld, key: str, day: date) -> list[FakeRow]:
    """Compute one day's activity rows for a key (none after today)."""
    if day > world.today:
        return []
    rng = world.rng(PREFIX, key, day.isoformat())
    rows = []
    for model, permaslug, provider in MODELS:
        if rng.random() < 0.4:
            continue
        completion = rng.randrange(0, 200_000)
        rows.append(FakeRow(
            day=day, model=model, permaslug=permaslug, provider=provider,
            usage=Decimal(rng.randrange(0, 5_000_000)) / Decimal(1_000_000),
            requests=rng.randrange(1, 400), prompt_tokens=rng.randrange(0, 2_000_000),
            completion_tokens=completion, reasoning_tokens=rng.randrange(0, completion + 1),
        ))
    return rows


def expected_daily(world: FakeWorld, key: str, start: date, end: date) -> dict[date, Decimal]:
    """Compute the exact spend per day (inclusive range, zero days included)."""
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return {day: sum((row.usage for row in day_rows(world, key, day)), Decimal(0))
            for day in days}


def expected_month(world: FakeWorld, key: str) -> Decimal:
    """Compute `usage_monthly`: the spend from the first of today's month to today."""
    daily = expected_daily(world, key, world.today.replace(day=1), world.today)
    return sum(daily.values(), Decimal(0))


def expected_credits(world: FakeWorld, key: str) -> tuple[Decimal, Decimal]:
    """Compute `total_credits` and `total_usage` of a management key."""
    rng = world.rng(PREFIX, key, "credits")
    total = Decimal(rng.randrange(50, 1_000))
    used = Decimal(rng.randrange(0, 4_000_000)) / Decimal(100_000)
    return total, used


def _key(world: FakeWorld, key: str, request: FakeRequest) -> FakeResponse:
    today = world.today
    week_start = today - timedelta(days=today.weekday())
    daily = expected_daily(world, key, today - timedelta(days=120), today)
    monthly = expected_month(world, key)
    limit = Decimal(100) if "limited" in key else None
    body = {
        "label": f"sk-or-v1-{key[-3:]}", "limit": limit,
        "limit_remaining": None if limit is None else limit - monthly,
        "limit_reset": "monthly" if limit is not None else None,
        "usage": sum(daily.values(), Decimal(0)), "usage_daily": daily[today],
        "usage_weekly": sum(v for d, v in daily.items() if d >= week_start),
        "usage_monthly": monthly,
        "byok_usage": 0, "byok_usage_daily": 0, "byok_usage_weekly": 0, "byok_usage_monthly": 0,
        "include_byok_in_limit": False, "is_free_tier": False,
        "is_management_key": is_management(key), "is_provisioning_key": False,
        "creator_user_id": "user_fake01", "expires_at": None,
        "rate_limit": {"requests": -1, "interval": "10s", "note": "deprecated"},
    }
    return FakeResponse(200, {"data": body})


def _credits(world: FakeWorld, key: str, request: FakeRequest) -> FakeResponse:
    scenario = world.scenario(PREFIX, key)
    if scenario == "credits_forbidden":
        return _error(*_MANAGEMENT_ONLY)
    if not is_management(key):
        if scenario == "zero_credits":
            return FakeResponse(200, {"data": {"total_credits": 0, "total_usage": 0}})
        return _error(*_MANAGEMENT_ONLY)
    total, used = expected_credits(world, key)
    return FakeResponse(200, {"data": {"total_credits": total, "total_usage": used}})


def _activity(world: FakeWorld, key: str, request: FakeRequest) -> FakeResponse:
    if world.scenario(PREFIX, key) == "activity_forbidden" or not is_management(key):
        return _error(*_MANAGEMENT_ONLY)
    today = world.today
    first = today - timedelta(days=ACTIVITY_DAYS)
    requested = request.value("date")
    if requested is None:
        days = [first + timedelta(days=n) for n in range(ACTIVITY_DAYS)]
    else:
        try:
            day = date.fromisoformat(requested)
        except ValueError:
            return _error(400, f"invalid date {requested!r}; use YYYY-MM-DD")
        if not first <= day <= today:
            return _error(400, "date must be within the last 30 days")
        days = [day]
    null_model = world.scenario(PREFIX, key) == "null_model"
    rows = [_row_json(row, null_model) for day in days for row in day_rows(world, key, day)]
    return FakeResponse(200, {"data": rows})


def _row_json(row: FakeRow, null_model: bool) -> dict[str, Any]:
    return {
        "date": row.day.isoformat(), "model": None if null_model else row.model,
        "model_permaslug": row.permaslug,
        "endpoint_id": str(uuid.uuid5(uuid.NAMESPACE_URL, row.permaslug + "@" + row.provider)),
        "provider_name": row.provider, "usage": row.usage, "byok_usage_inference": 0,
        "requests": row.requests, "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens, "reasoning_tokens": row.reasoning_tokens,
    }


def _error(status: int, message: str) -> FakeResponse:
    return FakeResponse(status, {"error": {"code": status, "message": message}})
