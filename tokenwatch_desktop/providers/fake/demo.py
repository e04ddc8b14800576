"""Built-in demo accounts: one per billed provider, served by the in-process fake."""

from __future__ import annotations

from dataclasses import replace

from tokenwatch_desktop.core.settings import AccountConfig, Settings
from tokenwatch_desktop.providers.fake import base_urls
from tokenwatch_desktop.providers.fake.transport import DEMO_ROOT


def demo_accounts(root: str = DEMO_ROOT) -> list[AccountConfig]:
    urls = base_urls(root)
    return [
        AccountConfig("openai", "openai", "OpenAI (demo org)", True, urls["openai"]),
        AccountConfig("anthropic", "anthropic", "Anthropic (demo org)", True, urls["anthropic"]),
        AccountConfig("grok", "grok", "Grok (demo team)", True, urls["grok"],
                      {"team_id": "demo-team"}),
        AccountConfig("openrouter", "openrouter", "OpenRouter (demo)", True, urls["openrouter"]),
        AccountConfig("deepseek", "deepseek", "DeepSeek (demo)", True, urls["deepseek"]),
    ]


def demo_settings(settings: Settings) -> Settings:
    """The user's settings (period, day boundary, prices) with the demo accounts in place of theirs."""
    return replace(settings, accounts=demo_accounts(), warnings=list(settings.warnings))
