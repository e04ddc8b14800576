"""The providers TokenWatch knows, and where each one's code lives (imported only when used)."""

from __future__ import annotations

import importlib

from tokenwatch_desktop.core.records import AccountKind
from tokenwatch_desktop.providers.base import Fetch, ProviderInfo

BILLED = AccountKind.BILLED
LOCAL = AccountKind.LOCAL

PROVIDERS: dict[str, ProviderInfo] = {
    "openai": ProviderInfo(
        "openai", "OpenAI", BILLED, "https://api.openai.com/v1", 15,
        "an OpenAI admin key (sk-admin-...), created by an organization owner",
        key_prefixes=("sk-admin-",), breakdowns=frozenset({"model", "project", "key"}),
    ),
    "anthropic": ProviderInfo(
        "anthropic", "Anthropic", BILLED, "https://api.anthropic.com", 5,
        "an Anthropic Admin API key (sk-ant-admin...), created by an organization admin",
        key_prefixes=("sk-ant-admin",), breakdowns=frozenset({"model", "project", "key"}),
    ),
    "grok": ProviderInfo(
        "grok", "Grok (xAI)", BILLED, "https://management-api.x.ai", 15,
        "an xAI management key with billing read access",
        required_options=("team_id",),
    ),
    "openrouter": ProviderInfo(
        "openrouter", "OpenRouter", BILLED, "https://openrouter.ai/api/v1", 5,
        "an OpenRouter API key, or a management key for daily activity",
        key_prefixes=("sk-or-",), breakdowns=frozenset({"model"}),
    ),
    "deepseek": ProviderInfo(
        "deepseek", "DeepSeek", BILLED, "https://api.deepseek.com", 15,
        "a DeepSeek API key", key_prefixes=("sk-",),
    ),
    "claude-code": ProviderInfo("claude-code", "Claude Code", LOCAL, None, 1, None),
    "codex": ProviderInfo("codex", "Codex", LOCAL, None, 1, None),
}

ALIASES = {"xai": "grok"}

_MODULES = {
    "openai": "tokenwatch_desktop.providers.openai",
    "anthropic": "tokenwatch_desktop.providers.anthropic",
    "grok": "tokenwatch_desktop.providers.grok",
    "openrouter": "tokenwatch_desktop.providers.openrouter",
    "deepseek": "tokenwatch_desktop.providers.deepseek",
    "claude-code": "tokenwatch_desktop.local.claude_code",
    "codex": "tokenwatch_desktop.local.codex",
}


def canonical(provider_id: str) -> str:
    """Map an alias (`xai`) to its provider id; unknown ids come back unchanged."""
    return ALIASES.get(provider_id, provider_id)


def info(provider_id: str) -> ProviderInfo:
    return PROVIDERS[canonical(provider_id)]


def fetcher(provider_id: str) -> Fetch:
    """Import the provider's module on first use and return its `fetch` coroutine function."""
    module = importlib.import_module(_MODULES[canonical(provider_id)])
    fetch: Fetch = module.fetch
    return fetch
