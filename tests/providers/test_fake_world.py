"""The fake's call log stays bounded: demo mode can run for days."""

from __future__ import annotations

import asyncio

import httpx

from tokenwatch_desktop.providers.fake import CALL_LOG_LIMIT, CallLog, FakeWorld, base_urls
from tokenwatch_desktop.providers.fake.transport import DEMO_ROOT, fake_transport


def test_call_log_keeps_the_latest() -> None:
    log = CallLog(limit=3)
    for number in range(5):
        log.append(("openai", "GET", f"/{number}"))

    assert log == [("openai", "GET", "/2"), ("openai", "GET", "/3"), ("openai", "GET", "/4")]
    assert log.total == 5


def test_world_call_log_is_bounded(fake_world: FakeWorld) -> None:
    assert fake_world.calls.limit == CALL_LOG_LIMIT
    fake_world.calls.limit = 2
    url = base_urls(DEMO_ROOT)["deepseek"] + "/user/balance"

    async def main() -> None:
        async with httpx.AsyncClient(transport=fake_transport(fake_world)) as client:
            for _ in range(4):
                answer = await client.get(url, headers={"Authorization": "Bearer sk-demo-0001"})
                assert answer.status_code == 200

    asyncio.run(main())
    assert fake_world.calls == [("deepseek", "GET", "/user/balance")] * 2
    assert fake_world.calls.total == 4
