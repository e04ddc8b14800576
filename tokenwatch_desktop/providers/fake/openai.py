"""Fake OpenAI admin API: `/v1/organization/costs` and `/v1/organization/usage/completions`.

Each key is one organization. Its completions activity per day comes from
`world.rng("openai", key, day)`. The costs are the same activity priced per line item, so
`expected_costs` gives tests the exact dollars the client must report. Amounts go out as JSON
numbers with their exact digits, and on some rows as numeric strings (the live API does both).

Scenarios: auth, forbidden, not_found, billing, rate_limit, server_error, malformed,
wrong_shape, three_pages, null_model (every other usage entry has a null `model`). The
rate limit holds on the costs endpoint only: the client sends usage requests at the same time,
and the world would count those as retries sent before `Retry-After`.
Keys starting `sk-proj-` or `sk-svcacct-` get the 401 of a key that is not an admin key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from tokenwatch_desktop.providers.fake import FakeRequest, FakeResponse, FakeWorld, reports
from tokenwatch_desktop.providers.fake.reports import Rejected

PREFIX = "openai"
MILLION = Decimal(1_000_000)
#: USD per million tokens: input (also cache writes), cached input, output.
PRICES = {
    "gpt-4.1-2025-04-14": (Decimal("2"), Decimal("0.5"), Decimal("8")),
    "gpt-4.1-mini-2025-04-14": (Decimal("0.4"), Decimal("0.1"), Decimal("1.6")),
    "gpt-4o-mini-2024-07-18": (Decimal("0.15"), Decimal("0.075"), Decimal("0.6")),
    "o3-2025-04-16": (Decimal("2"), Decimal("0.5"), Decimal("8")),
}
COST_LIMIT = (180, 7)  # maximum, default
COST_GROUPS = ("project_id", "line_item", "api_key_id")
USAGE_GROUPS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
TOKEN_SUMS = ("uncached", "cached", "written", "output", "requests")
MAX_DAYS = 3660


@dataclass(frozen=True)
class Organization:
    projects: tuple[str, ...]
    api_keys: tuple[str, ...]
    users: tuple[str, ...]
    models: tuple[str, ...]


def organization(world: FakeWorld, key: str) -> Organization:
    """Derive the projects, keys, users and models of the organization behind `key`."""
    rng = world.rng(PREFIX, key, "org")
    models = tuple(sorted(rng.sample(sorted(PRICES), rng.randint(2, len(PRICES)))))
    return Organization(
        projects=tuple(f"proj_{rng.getrandbits(48):012x}" for _ in range(rng.randint(1, 3))),
        api_keys=tuple(f"key_{rng.getrandbits(48):012x}" for _ in range(rng.randint(1, 3))),
        users=tuple(f"user-{rng.getrandbits(32):08x}" for _ in range(2)),
        models=models,
    )


def activity(world: FakeWorld, key: str, day: date) -> list[dict[str, Any]]:
    """Generate the completions entries of one day: who used which model, tokens, requests.

    Some days use the older row format without `input_uncached_tokens` and
    `input_cache_write_tokens`. Those days have no cache writes, because that format cannot
    show them.
    """
    if day > world.today:
        return []
    org = organization(world, key)
    rng = world.rng(PREFIX, key, day)
    if rng.random() < 0.15:
        return []
    modern = rng.random() < 0.7
    null_model = world.scenario(PREFIX, key) == "null_model"
    entries = []
    for index in range(rng.randint(1, 6)):
        model = rng.choice(org.models)
        entries.append({
            "model": None if null_model and index % 2 == 0 else model,
            "priced_as": model,
            "project_id": rng.choice(org.projects + (None,)),
            "api_key_id": rng.choice(org.api_keys + (None,)),
            "user_id": rng.choice(org.users),
            "batch": rng.random() < 0.1,
            "service_tier": rng.choice(("default", "default", "flex", "priority")),
            "uncached": _tokens(rng.random()),
            "cached": _tokens(rng.random()) if rng.random() < 0.6 else 0,
            "written": _tokens(rng.random()) if modern and rng.random() < 0.3 else 0,
            "output": _tokens(rng.random()),
            "requests": rng.randint(1, 400),
            "modern": modern,
        })
    return entries


def _tokens(fraction: float) -> int:
    """Token counts spread over orders of magnitude, so some line items cost under a cent."""
    return int(10 ** (fraction * 7))


def line_items(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Price one entry exactly as line items: input, cached input and output."""
    model = entry["priced_as"]
    price_in, price_cached, price_out = PRICES[model]
    parts = (
        ("input", entry["uncached"] + entry["written"], price_in),
        ("cached input", entry["cached"], price_cached),
        ("output", entry["output"], price_out),
    )
    return [
        {"line_item": f"{model}, {label}", "project_id": entry["project_id"],
         "api_key_id": entry["api_key_id"], "quantity": quantity,
         "amount": quantity * price / MILLION}
        for label, quantity, price in parts if quantity
    ]


def expected_costs(world: FakeWorld, key: str, first: date, last: date) -> dict[date, Decimal]:
    """Return exact dollars per day from `first` to `last` (inclusive), as the costs sum them."""
    result = {}
    for day in reports.days_between(first, last + timedelta(days=1)):
        items = [item for entry in activity(world, key, day) for item in line_items(entry)]
        result[day] = sum((item["amount"] for item in items), Decimal(0))
    return result


def expected_usage(world: FakeWorld, key: str, first: date,
                   last: date) -> dict[str | None, dict[str, int]]:
    """Sum tokens per model (None for a null model) from `first` to `last` inclusive."""
    totals: dict[str | None, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TOKEN_SUMS, 0))
    for day in reports.days_between(first, last + timedelta(days=1)):
        for entry in activity(world, key, day):
            for name in TOKEN_SUMS:
                totals[entry["model"]][name] += entry[name]
    return dict(totals)


def handle(world: FakeWorld, request: FakeRequest) -> FakeResponse:
    """Return the response to one request below `/openai`."""
    key = request.bearer()
    if not key:
        return error(401, "No API key was provided in the Authorization header.",
                     "invalid_request_error")
    if key.startswith(("sk-proj-", "sk-svcacct-")):
        return _wrong_key_kind()
    failure = _scenario_response(world, request, key)
    if failure is not None:
        return failure
    route = ROUTES.get((request.method, request.path))
    if route is None:
        return error(404, f"Unknown request URL: {request.method} {request.path}.",
                     "invalid_request_error")
    try:
        return FakeResponse(200, route(world, request, key))
    except Rejected as exc:
        return error(400, str(exc), "invalid_request_error")


def error(status: int, message: str, kind: str, code: str | None = None) -> FakeResponse:
    """Build a response in OpenAI's error shape."""
    return FakeResponse(status, {"error": {"message": message, "type": kind, "param": None,
                                           "code": code}})


def _wrong_key_kind() -> FakeResponse:
    return error(401, "This endpoint requires an admin API key.", "invalid_request_error",
                 "insufficient_permissions")


def _scenario_response(world: FakeWorld, request: FakeRequest,
                       key: str) -> FakeResponse | None:
    scenario = world.scenario(PREFIX, key)
    if scenario == "rate_limit":
        if request.path != "/v1/organization/costs":
            return None
        limited = world.rate_limited(PREFIX, key)
        if limited is not None:
            limited.body = {"error": {"message": "Rate limit reached for admin requests.",
                                      "type": "requests", "param": None,
                                      "code": "rate_limit_exceeded"}}
        return limited
    if scenario == "malformed":
        return FakeResponse(200, b"<html><body>502 Bad Gateway</body></html>",
                            {"Content-Type": "text/html"})
    if scenario == "wrong_shape":
        return FakeResponse(200, {"object": "page", "data": {"buckets": "soon"},
                                  "has_more": False})
    failures: dict[str, Callable[[], FakeResponse]] = {
        "auth": _wrong_key_kind,
        "forbidden": lambda: error(403, "Missing scopes: api.usage.read.",
                                   "invalid_request_error", "insufficient_permissions"),
        "not_found": lambda: error(404, "No such organization.", "invalid_request_error"),
        "billing": lambda: error(402, "Your organization has no billing details.",
                                 "billing_error"),
        "server_error": lambda: error(500, "The server had an error while processing your "
                                      "request.", "server_error"),
    }
    make = failures.get(scenario)
    return make() if make is not None else None


def _costs(world: FakeWorld, request: FakeRequest, key: str) -> dict[str, Any]:
    if (request.value("bucket_width") or "1d") != "1d":
        raise Rejected("bucket_width must be '1d' for costs")
    size = reports.limit(request, *COST_LIMIT)
    keys = reports.group_by(request, COST_GROUPS)

    def bucket(day: date) -> list[dict[str, Any]]:
        items = [item for entry in activity(world, key, day) for item in line_items(entry)]
        rows = reports.grouped(items, keys, COST_GROUPS, ("amount", "quantity"))
        rng = world.rng(PREFIX, key, day, "format")
        return [_cost_result(row, rng.random() < 0.3, "line_item" in keys) for row in rows]

    return _report(world, request, key, size, bucket)


def _cost_result(row: dict[str, Any], as_string: bool, with_quantity: bool) -> dict[str, Any]:
    value = row["amount"]
    return {
        "object": "organization.costs.result",
        "amount": {"value": format(value, "f") if as_string else value, "currency": "usd"},
        "line_item": row["line_item"],
        "project_id": row["project_id"],
        "api_key_id": row["api_key_id"],
        "quantity": Decimal(row["quantity"]).quantize(Decimal("0.1")) if with_quantity else None,
        "organization_region": "us",  # not in the documented shape: clients must ignore it
    }


def _usage(world: FakeWorld, request: FakeRequest, key: str) -> dict[str, Any]:
    width = request.value("bucket_width") or "1d"
    if width not in reports.USAGE_LIMITS:
        raise Rejected(f"bucket_width must be one of 1m, 1h, 1d, got {width!r}")
    size = reports.limit(request, *reports.USAGE_LIMITS[width])
    if width != "1d":
        raise Rejected("this fake serves daily buckets only")
    keys = reports.group_by(request, USAGE_GROUPS)

    def bucket(day: date) -> list[dict[str, Any]]:
        entries = activity(world, key, day)
        rows = reports.grouped(entries, keys, USAGE_GROUPS, TOKEN_SUMS)
        modern = all(entry["modern"] for entry in entries)
        return [_usage_result(row, modern) for row in rows]

    return _report(world, request, key, size, bucket)


def _usage_result(row: dict[str, Any], modern: bool) -> dict[str, Any]:
    result = {
        "object": "organization.usage.completions.result",
        "input_tokens": row["uncached"] + row["cached"] + row["written"],
        "output_tokens": row["output"],
        "num_model_requests": row["requests"],
        "input_cached_tokens": row["cached"],
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        **{name: row[name] for name in USAGE_GROUPS},
        "api_source": "api",  # seen in newer specs only: clients must ignore it
    }
    if modern:
        result["input_cache_write_tokens"] = row["written"]
        result["input_uncached_tokens"] = row["uncached"]
    return result


def _report(world: FakeWorld, request: FakeRequest, key: str, size: int,
            bucket: Callable[[date], list[dict[str, Any]]]) -> dict[str, Any]:
    first, end = _range(world, request)
    days = reports.days_between(first, end)
    paging = reports.page(world, request, len(days), size,
                          world.scenario(PREFIX, key) == "three_pages")
    data = [
        {"object": "bucket", "start_time": _unix(day), "end_time": _unix(day + timedelta(days=1)),
         "results": bucket(day)}
        for day in days[paging.start:paging.stop]
    ]
    return {"object": "page", "data": data, "has_more": paging.next_page is not None,
            "next_page": paging.next_page}


def _range(world: FakeWorld, request: FakeRequest) -> tuple[date, date]:
    """Return the request's first day and exclusive end day, from Unix seconds."""
    start = _seconds(request.value("start_time"), "start_time")
    if start is None:
        raise Rejected("start_time is required")
    end = _seconds(request.value("end_time"), "end_time")
    first = datetime.fromtimestamp(start, UTC).date()
    if end is None:
        last = world.today + timedelta(days=1)
    else:
        moment = datetime.fromtimestamp(end, UTC)
        last = moment.date() + timedelta(days=1 if moment.time() != time() else 0)
    if last <= first:
        raise Rejected("end_time must be after start_time")
    if (last - first).days > MAX_DAYS:
        raise Rejected(f"the range may cover at most {MAX_DAYS} days")
    return first, last


def _seconds(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) > 32503680000:
        raise Rejected(f"{name} must be Unix seconds, got {text!r}")
    return int(text)


def _unix(day: date) -> int:
    return int(datetime.combine(day, time(), tzinfo=UTC).timestamp())


ROUTES: dict[tuple[str, str], Callable[[FakeWorld, FakeRequest, str], dict[str, Any]]] = {
    ("GET", "/v1/organization/costs"): _costs,
    ("GET", "/v1/organization/usage/completions"): _usage,
}
