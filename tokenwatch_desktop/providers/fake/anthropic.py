"""Fake Anthropic Admin API: the cost report and the messages usage report.

Each key is one organization. Its usage per day comes from `world.rng("anthropic", key, day)`.
The cost report prices the same usage per token type (batch at half price), adds web searches
and code execution, and leaves Priority Tier out as the real report does. `expected_costs` gives
tests the exact dollars the client must report. Amounts are cents as decimal strings.

Scenarios: auth, forbidden, not_found, billing, rate_limit, server_error, malformed,
wrong_shape, three_pages, null_model (every other usage entry has a null `model`). The rate
limit holds on the cost report only: the client sends usage requests at the same time, and the
world would count those as retries sent before `Retry-After`. Keys starting `sk-ant-api` are
normal API keys and get the 401 that the Admin API sends them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from tokenwatch_desktop.providers.fake import FakeRequest, FakeResponse, FakeWorld, reports
from tokenwatch_desktop.providers.fake.reports import Rejected

PREFIX = "anthropic"
VERSION = "2023-06-01"
FAST_MODE_BETA = "fast-mode-2026-02-01"
CENTS_PER_MILLION = Decimal(100) / Decimal(1_000_000)
#: USD per million tokens: input, output, cache read, 5-minute cache write, 1-hour cache write.
PRICES = {
    "claude-sonnet-4-5-20250929": ("Claude Sonnet 4.5", (Decimal("3"), Decimal("15"),
                                   Decimal("0.3"), Decimal("3.75"), Decimal("6"))),
    "claude-haiku-4-5-20251001": ("Claude Haiku 4.5", (Decimal("1"), Decimal("5"),
                                  Decimal("0.1"), Decimal("1.25"), Decimal("2"))),
    "claude-opus-4-1-20250805": ("Claude Opus 4.1", (Decimal("15"), Decimal("75"),
                                 Decimal("1.5"), Decimal("18.75"), Decimal("30"))),
}
TOKEN_TYPES = (
    ("uncached_input_tokens", "uncached", "Input Tokens"),
    ("output_tokens", "output", "Output Tokens"),
    ("cache_read_input_tokens", "cache_read", "Cache Read"),
    ("cache_creation.ephemeral_5m_input_tokens", "cache_5m", "5m Cache Write"),
    ("cache_creation.ephemeral_1h_input_tokens", "cache_1h", "1h Cache Write"),
)
WEB_SEARCH_CENTS = Decimal(1)  # $10 per 1,000 searches
COST_LIMIT = (31, 7)  # maximum, default
COST_FIELDS = ("description", "cost_type", "model", "token_type", "service_tier",
               "context_window", "inference_geo", "workspace_id")
DESCRIPTION_FIELDS = COST_FIELDS[:-1]
USAGE_GROUPS = ("api_key_id", "workspace_id", "model", "service_tier", "context_window",
                "inference_geo", "account_id", "service_account_id", "speed")
TOKEN_SUMS = ("uncached", "cache_read", "cache_5m", "cache_1h", "output", "web_searches")
MAX_DAYS = 3660


@dataclass(frozen=True)
class Organization:
    workspaces: tuple[str | None, ...]
    api_keys: tuple[str | None, ...]
    models: tuple[str, ...]


def organization(world: FakeWorld, key: str) -> Organization:
    """Derive the workspaces (None is the default one), API keys (None is the Console) and models."""
    rng = world.rng(PREFIX, key, "org")
    workspaces = tuple(f"wrkspc_{rng.getrandbits(64):016x}" for _ in range(rng.randint(1, 2)))
    api_keys = tuple(f"apikey_{rng.getrandbits(64):016x}" for _ in range(rng.randint(1, 3)))
    models = tuple(sorted(rng.sample(sorted(PRICES), rng.randint(1, len(PRICES)))))
    return Organization((None, *workspaces), (None, *api_keys), models)


def activity(world: FakeWorld, key: str, day: date) -> list[dict[str, Any]]:
    """Generate the usage entries of one day: model, workspace, key, tier and token counts."""
    if day > world.today:
        return []
    org = organization(world, key)
    rng = world.rng(PREFIX, key, day)
    if rng.random() < 0.15:
        return []
    null_model = world.scenario(PREFIX, key) == "null_model"
    entries = []
    for index in range(rng.randint(1, 6)):
        model = rng.choice(org.models)
        entries.append({
            "model": None if null_model and index % 2 == 0 else model,
            "priced_as": model,
            "workspace_id": rng.choice(org.workspaces),
            "api_key_id": rng.choice(org.api_keys),
            "service_tier": rng.choice(("standard",) * 6 + ("batch", "priority")),
            "context_window": "0-200k", "inference_geo": "global",
            "account_id": None, "service_account_id": None, "speed": None,
            "uncached": _tokens(rng.random()),
            "cache_read": _tokens(rng.random()) if rng.random() < 0.7 else 0,
            "cache_5m": _tokens(rng.random()) if rng.random() < 0.4 else 0,
            "cache_1h": _tokens(rng.random()) if rng.random() < 0.2 else 0,
            "output": _tokens(rng.random()),
            "web_searches": rng.randint(0, 5) if rng.random() < 0.2 else 0,
        })
    return entries


def _tokens(fraction: float) -> int:
    return int(10 ** (fraction * 7))


def cost_items(world: FakeWorld, key: str, day: date) -> list[dict[str, Any]]:
    """List the cost report's line items of one day in cents, leaving Priority Tier out."""
    items = []
    for entry in activity(world, key, day):
        if entry["service_tier"] == "priority":
            continue
        items.extend(_token_items(entry))
        if entry["web_searches"]:
            items.append(_item(entry["web_searches"] * WEB_SEARCH_CENTS, "Web Search Usage",
                               "web_search", entry["workspace_id"]))
    rng = world.rng(PREFIX, key, day, "code")
    if items and rng.random() < 0.3:
        cents = Decimal(rng.randint(1, 40)) / 2  # some amounts end in ".5"
        items.append(_item(cents, "Code Execution Usage", "code_execution", None))
    return items


def _token_items(entry: dict[str, Any]) -> list[dict[str, Any]]:
    name, prices = PRICES[entry["priced_as"]]
    discount = Decimal("0.5") if entry["service_tier"] == "batch" else Decimal(1)
    items = []
    for (token_type, field, label), price in zip(TOKEN_TYPES, prices, strict=True):
        if not entry[field]:
            continue
        item = _item(entry[field] * price * CENTS_PER_MILLION * discount,
                     f"{name} Usage - {label}", "tokens", entry["workspace_id"])
        item.update(model=entry["priced_as"], token_type=token_type,
                    service_tier=entry["service_tier"], context_window=entry["context_window"],
                    inference_geo=entry["inference_geo"])
        items.append(item)
    return items


def _item(cents: Decimal, description: str, cost_type: str,
          workspace: str | None) -> dict[str, Any]:
    return {"amount": cents, "description": description, "cost_type": cost_type, "model": None,
            "token_type": None, "service_tier": None, "context_window": None,
            "inference_geo": None, "workspace_id": workspace}


def expected_costs(world: FakeWorld, key: str, first: date, last: date) -> dict[date, Decimal]:
    """Return exact dollars per day from `first` to `last` (inclusive), as the report sums them."""
    return {
        day: sum((item["amount"] for item in cost_items(world, key, day)), Decimal(0)) / 100
        for day in reports.days_between(first, last + timedelta(days=1))
    }


def expected_usage(world: FakeWorld, key: str, first: date, last: date,
                   field: str = "model") -> dict[str | None, dict[str, int]]:
    """Sum tokens per value of `field` (model, api_key_id, service_tier...) over the days."""
    totals: dict[str | None, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TOKEN_SUMS, 0))
    for day in reports.days_between(first, last + timedelta(days=1)):
        for entry in activity(world, key, day):
            for name in TOKEN_SUMS:
                totals[entry[field]][name] += entry[name]
    return dict(totals)


def handle(world: FakeWorld, request: FakeRequest) -> FakeResponse:
    """Return the response to one request below `/anthropic`."""
    key = request.headers.get("x-api-key")
    if not key:
        return error(401, "authentication_error", "x-api-key header is required")
    if key.startswith("sk-ant-api"):
        return error(401, "authentication_error", "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return error(400, "invalid_request_error", "anthropic-version: header is required")
    failure = _scenario_response(world, request, key)
    if failure is not None:
        return failure
    route = ROUTES.get((request.method, request.path))
    if route is None:
        return error(404, "not_found_error", f"Not found: {request.method} {request.path}")
    try:
        body = route(world, request, key)
    except Rejected as exc:
        return error(400, "invalid_request_error", str(exc))
    return FakeResponse(200, body, {"request-id": _request_id()})


def error(status: int, kind: str, message: str) -> FakeResponse:
    """Build a response in Anthropic's error shape, with its `request-id` header."""
    request_id = _request_id()
    body = {"type": "error", "error": {"type": kind, "message": message},
            "request_id": request_id}
    return FakeResponse(status, body, {"request-id": request_id})


def _request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


def _scenario_response(world: FakeWorld, request: FakeRequest,
                       key: str) -> FakeResponse | None:
    scenario = world.scenario(PREFIX, key)
    if scenario == "rate_limit":
        if request.path != "/v1/organizations/cost_report":
            return None
        limited = world.rate_limited(PREFIX, key)
        if limited is not None:
            shaped = error(429, "rate_limit_error", "Number of requests has exceeded your rate "
                           "limit; retry after the time in the retry-after header.")
            limited.body, limited.headers = shaped.body, {**limited.headers, **shaped.headers}
        return limited
    if scenario == "malformed":
        return FakeResponse(200, b"upstream connect error or disconnect/reset before headers",
                            {"Content-Type": "text/plain"})
    if scenario == "wrong_shape":
        return FakeResponse(200, {"data": [{"starting_at": "2026-03-01T00:00:00Z",
                                            "results": "none"}], "has_more": False})
    failures: dict[str, Callable[[], FakeResponse]] = {
        "auth": lambda: error(401, "authentication_error", "invalid x-api-key"),
        "forbidden": lambda: error(403, "permission_error",
                                   "This key does not have permission to read usage reports."),
        "not_found": lambda: error(404, "not_found_error", "Organization not found."),
        "billing": lambda: error(402, "billing_error", "Your credit balance is too low."),
        "server_error": lambda: error(500, "api_error", "Internal server error"),
    }
    make = failures.get(scenario)
    return make() if make is not None else None


def _cost_report(world: FakeWorld, request: FakeRequest, key: str) -> dict[str, Any]:
    if (request.value("bucket_width") or "1d") != "1d":
        raise Rejected("bucket_width: only '1d' is supported for the cost report")
    size = reports.limit(request, *COST_LIMIT)
    groups = reports.group_by(request, ("workspace_id", "description"))
    keys = [*(DESCRIPTION_FIELDS if "description" in groups else ()),
            *(("workspace_id",) if "workspace_id" in groups else ())]

    def bucket(day: date) -> list[dict[str, Any]]:
        rows = reports.grouped(cost_items(world, key, day), keys, COST_FIELDS, ("amount",))
        return [{**row, "amount": cents_text(row["amount"]), "currency": "USD",
                 "billing_region": "us"} for row in rows]

    return _report(world, request, key, size, bucket)


def cents_text(cents: Decimal) -> str:
    """Format cents as the report does: "5475.00" for whole cents, else every digit ("0.5")."""
    if cents == cents.to_integral_value():
        return f"{cents:.2f}"
    return format(cents.normalize(), "f")


def _usage_report(world: FakeWorld, request: FakeRequest, key: str) -> dict[str, Any]:
    width = request.value("bucket_width") or "1d"
    if width not in reports.USAGE_LIMITS:
        raise Rejected(f"bucket_width must be one of 1m, 1h, 1d, got {width!r}")
    size = reports.limit(request, *reports.USAGE_LIMITS[width])
    if width != "1d":
        raise Rejected("this fake serves daily buckets only")
    keys = reports.group_by(request, USAGE_GROUPS)
    if "speed" in keys and FAST_MODE_BETA not in request.headers.get("anthropic-beta", ""):
        raise Rejected(f"group_by speed needs the anthropic-beta header {FAST_MODE_BETA}")

    def bucket(day: date) -> list[dict[str, Any]]:
        rows = reports.grouped(activity(world, key, day), keys, USAGE_GROUPS, TOKEN_SUMS)
        return [_usage_result(row) for row in rows]

    return _report(world, request, key, size, bucket)


def _usage_result(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "uncached_input_tokens": row["uncached"],
        "cache_creation": {"ephemeral_5m_input_tokens": row["cache_5m"],
                           "ephemeral_1h_input_tokens": row["cache_1h"]},
        "cache_read_input_tokens": row["cache_read"],
        "output_tokens": row["output"],
        "server_tool_use": {"web_search_requests": row["web_searches"]},
        **{name: row[name] for name in USAGE_GROUPS if name != "speed"},
        "data_residency": "global",  # not in the documented shape: clients must ignore it
    }


def _report(world: FakeWorld, request: FakeRequest, key: str, size: int,
            bucket: Callable[[date], list[dict[str, Any]]]) -> dict[str, Any]:
    first, end = _range(world, request)
    days = reports.days_between(first, end)
    paging = reports.page(world, request, len(days), size,
                          world.scenario(PREFIX, key) == "three_pages")
    data = [{"starting_at": _instant(day), "ending_at": _instant(day + timedelta(days=1)),
             "results": bucket(day)} for day in days[paging.start:paging.stop]]
    return {"data": data, "has_more": paging.next_page is not None,
            "next_page": paging.next_page}


def _range(world: FakeWorld, request: FakeRequest) -> tuple[date, date]:
    """Return the first day (the one `starting_at` falls in) and the exclusive end day."""
    start = _parse_instant(request.value("starting_at"), "starting_at")
    if start is None:
        raise Rejected("starting_at: field required")
    end = _parse_instant(request.value("ending_at"), "ending_at")
    first = start.date()
    last = end.date() if end is not None else world.today + timedelta(days=1)
    if last <= first:
        raise Rejected("Invalid date range: ending date must be after starting date")
    if (last - first).days > MAX_DAYS:
        raise Rejected(f"the range may cover at most {MAX_DAYS} days")
    return first, last


def _parse_instant(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise Rejected(f"{name}: invalid RFC 3339 datetime {text!r}") from None
    if instant.tzinfo is None:
        raise Rejected(f"{name}: the datetime needs a time zone")
    return instant.astimezone(UTC)


def _instant(day: date) -> str:
    return datetime.combine(day, time(), tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


ROUTES: dict[tuple[str, str], Callable[[FakeWorld, FakeRequest, str], dict[str, Any]]] = {
    ("GET", "/v1/organizations/cost_report"): _cost_report,
    ("GET", "/v1/organizations/usage_report/messages"): _usage_report,
}
