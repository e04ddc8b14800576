"""The Claude Code account: usage from the session logs under each `projects` folder."""

from __future__ import annotations

from tokenwatch_desktop.core.records import AccountData
from tokenwatch_desktop.local import account
from tokenwatch_desktop.providers.base import FetchRequest

AGENT = account.Agent(provider_id="claude-code", vendor="anthropic", name="Claude Code")


async def fetch(request: FetchRequest) -> AccountData:
    return await account.fetch(request, AGENT)
