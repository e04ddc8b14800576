"""Helpers for the OpenAI and Anthropic client tests: requests, runs, and tampering transports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx

from tests.conftest import NOW
from tokenwatch_desktop.core.aggregate import AccountIdentity, build_report
from tokenwatch_desktop.core.periods import DayBoundary, Period, PeriodSpec, resolve
from tokenwatch_desktop.core.records import AccountData, AccountKind, AccountReport
from tokenwatch_desktop.core.settings import AccountConfig
from tokenwatch_desktop.providers.base import FetchRequest
from tokenwatch_desktop.providers.fake import FakeWorld, base_urls
from tokenwatch_desktop.providers.fake.transport import DEMO_ROOT, fake_transport
from tokenwatch_desktop.providers.http import Http, RetryPolicy, make_client

Fetch = Callable[[FetchRequest], Awaitable[AccountData]]
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class ManualClock:
    """A clock shared by `FakeWorld` and `Http` that moves only when the HTTP layer sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def period(label: str = "30d", since: date | None = None, until: date | None = None) -> Period:
    spec = PeriodSpec("custom", since, until) if since else PeriodSpec(label)
    return resolve(spec, DayBoundary.UTC, NOW)


def account(provider: str, root: str = DEMO_ROOT) -> AccountConfig:
    return AccountConfig(provider, provider, None, True, base_urls(root)[provider])


def world_handler(world: FakeWorld) -> Handler:
    """The in-process fake as a plain async handler, for wrapping in tampering transports."""
    transport = fake_transport(world)

    async def handle(request: httpx.Request) -> httpx.Response:
        return await transport.handle_async_request(request)

    return handle


def tampering(world: FakeWorld, change: Callable[[httpx.Request, Any], Any]) -> httpx.MockTransport:
    """Serve the fake, but pass each successful JSON body through `change(request, body)`."""
    inner = world_handler(world)

    async def handle(request: httpx.Request) -> httpx.Response:
        response = await inner(request)
        await response.aread()
        if response.status_code != 200:
            return response
        body = change(request, json.loads(response.content))
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


def run_fetch(
    fetch: Fetch,
    config: AccountConfig,
    key: str | None,
    *,
    world: FakeWorld | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    span: Period | None = None,
    by: str | None = None,
    sleep: Callable[[float], Awaitable[None]] = no_wait,
    retry: RetryPolicy | None = None,
) -> AccountData:
    """Run one fetch through `transport`, the in-process `world`, or the network (loopback)."""
    if transport is None and world is not None:
        transport = fake_transport(world)

    async def main() -> AccountData:
        async with make_client(transport) as client:
            request = FetchRequest(config, key, span or period(), Http(client, retry, sleep),
                                   NOW, by=by)
            return await fetch(request)

    return asyncio.run(main())


def report(data: AccountData, provider: str, span: Period | None = None) -> AccountReport:
    """Aggregate one fetch's data the way the engine does."""
    who = AccountIdentity(provider, provider, provider, AccountKind.BILLED)
    return build_report(who, data, span or period(), NOW, 0)
