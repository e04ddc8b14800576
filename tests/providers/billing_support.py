"""Helpers for the xAI, OpenRouter and DeepSeek client tests: build a request, run one fetch."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx

from tests.conftest import NOW
from tokenwatch_desktop.core.periods import DayBoundary, Period, PeriodSpec, resolve
from tokenwatch_desktop.core.records import AccountData
from tokenwatch_desktop.core.settings import AccountConfig
from tokenwatch_desktop.providers.base import FetchRequest
from tokenwatch_desktop.providers.fake import FakeWorld, base_urls
from tokenwatch_desktop.providers.fake.transport import DEMO_ROOT, fake_transport
from tokenwatch_desktop.providers.http import Http, RetryPolicy, make_client

Fetch = Callable[[FetchRequest], Awaitable[AccountData]]


class ManualClock:
    """A clock for `FakeWorld` that moves only when the HTTP layer sleeps, so waits cost nothing."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def period(label: str = "30d", since: date | None = None, until: date | None = None) -> Period:
    spec = PeriodSpec(label, since, until) if since else PeriodSpec(label)
    return resolve(spec, DayBoundary.UTC, NOW)


def account(provider: str, root: str = DEMO_ROOT, account_id: str | None = None,
            **options: Any) -> AccountConfig:
    return AccountConfig(account_id or provider, provider, None, True,
                         base_urls(root)[provider], dict(options))


def run_fetch(fetch: Fetch, world: FakeWorld | None, config: AccountConfig, key: str | None,
              *, span: Period | None = None, by: str | None = None,
              sleep: Callable[[float], Awaitable[None]] | None = None,
              retry: RetryPolicy | None = None,
              transport: httpx.AsyncBaseTransport | None = None) -> AccountData:
    """Run one fetch: in-process through `world` (or `transport`), or over the network."""

    async def main() -> AccountData:
        chosen = transport
        if chosen is None and world is not None:
            chosen = fake_transport(world)
        client: httpx.AsyncClient = make_client(chosen)
        http = Http(client, retry=retry, sleep=sleep or _no_wait)
        request = FetchRequest(account=config, key=key, period=span or period(), http=http,
                               now=NOW, by=by)
        try:
            return await fetch(request)
        finally:
            await client.aclose()

    return asyncio.run(main())


async def _no_wait(seconds: float) -> None:
    """Skip backoff waits in tests that do not count them."""


def json_values(max_leaves: int = 20) -> Any:
    """A Hypothesis strategy for JSON as `money.loads` returns it (non-integers as `Decimal`)."""
    from hypothesis import strategies as st

    leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.decimals(
        allow_nan=False, allow_infinity=False, places=4
    ) | st.sampled_from(["12.5", "-300", "1e3", "", "abc", "2026-12-01T00:00:00Z"])
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=max_leaves,
    )
