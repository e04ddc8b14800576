"""The Codex account: usage from the rollout files under `sessions` and `archived_sessions`."""

from __future__ import annotations

from tokenwatch_desktop.core.records import AccountData
from tokenwatch_desktop.local import account
from tokenwatch_desktop.providers.base import FetchRequest

AGENT = account.Agent(provider_id="codex", vendor="openai", name="Codex")


async def fetch(request: FetchRequest) -> AccountData:
    return await account.fetch(request, AGENT)
