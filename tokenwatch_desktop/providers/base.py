"""What a provider module offers: a description (`ProviderInfo`) and `fetch(FetchRequest)`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tokenwatch_desktop.core.periods import Period
from tokenwatch_desktop.core.records import AccountData, AccountKind
from tokenwatch_desktop.core.secrets import env_name
from tokenwatch_desktop.core.settings import AccountConfig, PriceOverride
from tokenwatch_desktop.providers.http import CallContext, Http


@dataclass(frozen=True)
class ProviderInfo:
    """Static facts about one provider.

    `key_kind` names the key it needs, for messages ("an OpenAI admin key (sk-admin-...)").
    `key_prefixes` only feed a warning when a saved key looks like another kind; keys are never
    rejected by prefix. `required_options` must be present in the account's config.
    `breakdowns` lists the `--by` groups the provider can split by.
    """

    id: str
    display_name: str
    kind: AccountKind
    default_base_url: str | None
    floor_minutes: int
    key_kind: str | None
    key_prefixes: tuple[str, ...] = ()
    required_options: tuple[str, ...] = ()
    breakdowns: frozenset[str] = frozenset()

    @property
    def needs_key(self) -> bool:
        return self.key_kind is not None


@dataclass(frozen=True)
class FetchRequest:
    """Everything one account's fetch needs. `key` is None for local-log accounts.

    `period` is in UTC days for billed providers and in `day_boundary` days for local logs.
    `by` is None, "model", "project" or "key". `data_dir` is None in demo mode (no history).
    `now` is the reference instant, so tests can pin "today". `rescan` asks local-log
    sources to reread every file from the start.
    """

    account: AccountConfig
    key: str | None
    period: Period
    http: Http
    now: datetime
    by: str | None = None
    data_dir: Path | None = None
    prices: tuple[PriceOverride, ...] = ()
    rescan: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: Where the key came from ("env", "keyring", ...), so messages name the right fix.
    key_source: str = ""

    def __repr__(self) -> str:
        return f"FetchRequest(account={self.account.id!r}, period={self.period!r}, by={self.by!r})"

    @property
    def base_url(self) -> str:
        return self.account.base_url or ""


Fetch = Callable[[FetchRequest], Awaitable[AccountData]]


def context(
    request: FetchRequest, info: ProviderInfo, headers: dict[str, str], **extra: Any
) -> CallContext:
    """Build the call context for one account: where to send, how to authenticate, what to say."""
    return CallContext(
        account_id=request.account.id,
        provider_name=info.display_name,
        base_url=request.base_url,
        headers=headers,
        auth_hint=info.key_kind or "a key",
        setup_hint=f"tokenwatch setup {request.account.id}",
        secret=request.key or "",
        key_env=env_name(request.account.id) if request.key_source == "env" else "",
        **extra,
    )
