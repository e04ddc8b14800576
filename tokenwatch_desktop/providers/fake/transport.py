"""Serve a `FakeWorld` in-process through `httpx.MockTransport` (demo mode and unit tests)."""

from __future__ import annotations

import asyncio

import httpx

from tokenwatch_desktop.providers.fake import FakeWorld

#: Root URL of the in-process fake. `.invalid` never resolves, so nothing leaves the process.
DEMO_ROOT = "https://fake.tokenwatch.invalid"


def fake_transport(world: FakeWorld) -> httpx.MockTransport:
    """A transport that answers every request from `world`, after its simulated latency."""

    async def handler(request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        answer = world.handle(request.method, request.url.path, request.url.query.decode(),
                              dict(request.headers), body)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        headers = {"content-type": "application/json", **answer.headers}
        return httpx.Response(answer.status, headers=headers, content=answer.encoded())

    return httpx.MockTransport(handler)
