"""Helpers for the UI tests: an injected clock, a loop runner, accounts on the in-process fake."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from tests.conftest import NOW
from tokenwatch_desktop.core.settings import AccountConfig


def run_until(loop: asyncio.AbstractEventLoop, predicate: Callable[[], bool],
              timeout: float = 20.0) -> None:
    """Run the loop until `predicate()` holds; the timeout only stops a hung test."""

    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    loop.run_until_complete(asyncio.wait_for(wait(), timeout))


class ManualClock:
    """Monotonic and wall clocks moved by hand; `sleep` models a suspended machine."""

    def __init__(self, start: datetime = NOW) -> None:
        self.mono = 10_000.0
        self.wall_seconds = start.timestamp()

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.wall_seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_seconds, UTC)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall_seconds += seconds

    def sleep(self, seconds: float) -> None:
        """The machine slept: wall time moves, monotonic time does not."""
        self.wall_seconds += seconds


def fake_accounts(names: dict[str, str] | None = None) -> list[AccountConfig]:
    """OpenAI and Anthropic accounts pointing at the in-process fake (not demo mode)."""
    from tokenwatch_desktop.providers.fake import base_urls
    from tokenwatch_desktop.providers.fake.transport import DEMO_ROOT

    urls = base_urls(DEMO_ROOT)
    names = names or {}
    return [
        AccountConfig("openai", "openai", names.get("openai", "OpenAI test org"), True,
                      urls["openai"]),
        AccountConfig("anthropic", "anthropic", names.get("anthropic", "Anthropic test org"),
                      True, urls["anthropic"]),
    ]
