"""A fake of every provider's billing API, built from the documented shapes.

One `FakeWorld` handles requests as plain data (`FakeRequest` → `FakeResponse`). Two adapters
serve it: `transport.fake_transport` in-process through `httpx.MockTransport` (demo mode, unit
tests) and `server.LoopbackServer` over a real socket on 127.0.0.1 (end-to-end tests and
benchmarks). The first path segment picks the provider: an account whose base URL is
`<root>/openai/v1` talks to the OpenAI fake.

Figures are derived from the key and the day, so two keys give two different organizations and
the same key always gives the same numbers. Scenarios switch a provider (or one key of it) into a
failure mode: see `SCENARIOS`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

#: Base-URL suffix per provider, appended to the fake's root URL.
BASE_PATHS = {
    "openai": "/openai/v1",
    "anthropic": "/anthropic",
    "grok": "/xai",
    "openrouter": "/openrouter/api/v1",
    "deepseek": "/deepseek",
}

_ROUTES = {
    "openai": "tokenwatch_desktop.providers.fake.openai",
    "anthropic": "tokenwatch_desktop.providers.fake.anthropic",
    "xai": "tokenwatch_desktop.providers.fake.xai",
    "openrouter": "tokenwatch_desktop.providers.fake.openrouter",
    "deepseek": "tokenwatch_desktop.providers.fake.deepseek",
}

#: Failure modes a provider module may implement. Each module documents the ones it supports.
SCENARIOS = (
    "ok",
    "auth",  # 401 with the provider's error body
    "forbidden",  # 403
    "not_found",  # 404 (a wrong team id)
    "billing",  # 402
    "rate_limit",  # 429 with Retry-After; retries before the deadline are rejected and counted
    "server_error",  # 500
    "malformed",  # 200 with a body that is not JSON
    "wrong_shape",  # 200 with JSON of the wrong shape
    "three_pages",  # force results over three pages
    "null_model",  # grouping fields come back null
    "no_billing_access",  # xAI: 501 for a key without billing read access
    "deficit",  # xAI: the prepaid ledger total is positive (the team owes money)
    "limit_reached",  # xAI: usage analytics sets `limitReached: true`
    "zero_credits",  # OpenRouter: /credits returns 200 with zeros for a normal key
    "credits_forbidden",  # OpenRouter: /credits returns 403 (for a management key too)
    "activity_forbidden",  # OpenRouter: /activity answers 403 (for a management key too)
    "two_currencies",  # DeepSeek: balances in CNY and USD
    "not_available",  # DeepSeek: `is_available: false`
)


@dataclass
class FakeRequest:
    method: str
    path: str  # path below the provider prefix, e.g. "/v1/organization/costs"
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def values(self, name: str) -> list[str]:
        """Return all values of a query parameter, sent as `name=...` or `name[]=...`, repeated."""
        return [v for k, v in self.query if k == name or k == name + "[]"]

    def value(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else None

    def json(self) -> Any:
        return json.loads(self.body or b"null", parse_float=Decimal)


@dataclass
class FakeResponse:
    status: int
    body: Any = None  # bytes are sent as they are; anything else is encoded as JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return dump_json(self.body).encode()


def dump_json(value: Any) -> str:
    """Encode JSON with `Decimal` written as a number with its exact digits."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{dump_json(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dump_json(v) for v in value) + "]"
    return json.dumps(value)


@dataclass
class RateLimit:
    retry_after: int
    deadline: float = 0.0
    served: bool = False


#: How many answered calls `FakeWorld.calls` keeps: demo mode runs for days.
CALL_LOG_LIMIT = 10_000


class CallLog(list[tuple[str, str, str]]):
    """The calls the fake answered, oldest first: only the latest `limit` are kept.

    A list, so tests compare it with lists; `total` counts every call ever appended.
    """

    def __init__(self, limit: int = CALL_LOG_LIMIT) -> None:
        super().__init__()
        self.limit = limit
        self.total = 0

    def append(self, call: tuple[str, str, str]) -> None:
        super().append(call)
        self.total += 1
        if len(self) > self.limit:
            del self[: len(self) - self.limit]


class FakeWorld:
    """State of the fake: today's date, latency, scenarios, counters. Thread-safe."""

    def __init__(self, today: date | None = None, latency: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.today = today or datetime.now(UTC).date()
        self.latency = latency
        self.clock = clock
        self.page_size: int | None = None  # force a smaller page than the request's limit
        #: Answer every request with a 401 whose message repeats the key, as some real APIs do,
        #: so tests can check that no key reaches any output.
        self.echo_key = False
        #: Team ids the xAI fake serves; any id starting with `team-` is served as well.
        self.xai_teams: set[str] = {"demo-team"}
        self._scenarios: dict[tuple[str, str | None], str] = {}
        self._rate_limits: dict[tuple[str, str | None], RateLimit] = {}
        self.counters: Counter[str] = Counter()
        self.calls = CallLog()
        self.lock = threading.Lock()

    def set_scenario(self, prefix: str, scenario: str, key: str | None = None,
                     retry_after: int = 1) -> None:
        """Switch a provider prefix (or one key of it) into a scenario from `SCENARIOS`."""
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}")
        with self.lock:
            self._scenarios[(prefix, key)] = scenario
            if scenario == "rate_limit":
                self._rate_limits[(prefix, key)] = RateLimit(retry_after)

    def scenario(self, prefix: str, key: str | None) -> str:
        with self.lock:
            return self._scenarios.get((prefix, key)) or self._scenarios.get((prefix, None), "ok")

    def rate_limited(self, prefix: str, key: str | None) -> FakeResponse | None:
        """Return a 429 while the rate limit is in force, counting retries that come before `Retry-After`."""
        with self.lock:
            limit = self._rate_limits.get((prefix, key)) or self._rate_limits.get((prefix, None))
            if limit is None or limit.served:
                return None
            now = self.clock()
            if limit.deadline == 0.0:
                limit.deadline = now + limit.retry_after
                self.counters[f"{prefix}:rate_limited"] += 1
            elif now < limit.deadline:
                self.counters[f"{prefix}:early_retry"] += 1
            else:
                limit.served = True
                return None
            remaining = max(1, int(limit.deadline - now + 0.999))
        return FakeResponse(429, {"error": {"message": "Rate limit exceeded; slow down."}},
                            {"Retry-After": str(remaining)})

    def rng(self, *parts: object) -> random.Random:
        """A random generator seeded by its parts (provider, key, day), stable across runs."""
        digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def handle(self, method: str, path: str, query: str, headers: dict[str, str],
               body: bytes) -> FakeResponse:
        """Route one request by its first path segment to the provider's fake."""
        prefix, _, rest = path.lstrip("/").partition("/")
        with self.lock:
            self.counters[f"{prefix}:requests"] += 1
            self.calls.append((prefix, method, "/" + rest))
        if self.echo_key:
            return _echo_key(headers)
        module_name = _ROUTES.get(prefix)
        if module_name is None:
            return FakeResponse(404, {"error": {"message": f"no fake provider at /{prefix}"}})
        request = FakeRequest(method, "/" + rest, parse_qsl(query, keep_blank_values=True),
                              {k.lower(): v for k, v in headers.items()}, body)
        module = importlib.import_module(module_name)
        response: FakeResponse = module.handle(self, request)
        if self.latency and not response.delay:
            response.delay = self.latency
        return response


def _echo_key(headers: dict[str, str]) -> FakeResponse:
    lowered = {k.lower(): v for k, v in headers.items()}
    key = lowered.get("x-api-key") or lowered.get("authorization", "").removeprefix("Bearer ")
    return FakeResponse(401, {"error": {"message": f"Incorrect API key provided: {key}.",
                                        "type": "invalid_request_error"}})


def base_urls(root: str) -> dict[str, str]:
    """Return the base URL of each provider's fake under `root` (no trailing slash)."""
    return {provider: root.rstrip("/") + suffix for provider, suffix in BASE_PATHS.items()}
