"""The engine: fetch every selected account at once and combine the results into one `Report`.

Each account runs in its own task with its own error handling, so one account's failure,
timeout or rate-limit wait never delays or hides another's. No Qt here: the command line and
the desktop app share this module.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from tokenwatch_desktop.core import secrets
from tokenwatch_desktop.core.aggregate import AccountIdentity, build_report, error_report
from tokenwatch_desktop.core.errors import ErrorKind, ProviderError, UsageError
from tokenwatch_desktop.core.periods import DayBoundary, Period, PeriodSpec, resolve
from tokenwatch_desktop.core.records import AccountKind, AccountReport, ProblemInfo, Status
from tokenwatch_desktop.core.report import Report
from tokenwatch_desktop.core.settings import AccountConfig, Settings
from tokenwatch_desktop.providers import registry
from tokenwatch_desktop.providers.base import FetchRequest
from tokenwatch_desktop.providers.http import Http

log = logging.getLogger(__name__)

KeyLookupFn = Callable[[str], Awaitable[secrets.KeyLookup]]


class HistoryStore:
    """Interface of the figure store used for stale fallbacks (see `core.history`)."""

    def save(self, account: AccountConfig, key: str | None, report: AccountReport) -> None:
        raise NotImplementedError

    def load(
        self, account: AccountConfig, key: str | None, period: Period
    ) -> AccountReport | None:
        raise NotImplementedError


@dataclass(frozen=True)
class RefreshOptions:
    """`by` requests a breakdown, `rescan` rereads local logs from the start, `now` pins today."""

    by: str | None = None
    now: datetime | None = None
    rescan: bool = False


def effective_accounts(settings: Settings, environ: Mapping[str, str] | None = None) -> list[AccountConfig]:
    """The config's accounts, plus one per provider whose `TOKENWATCH_KEY_<PROVIDER>` is set.

    Provider ids with a key in the environment and no account of that id get a default account,
    so `TOKENWATCH_KEY_OPENAI=... tokenwatch openai` works with no config file. Local-log
    accounts whose directories exist are added unless the config lists them.
    """
    env = os.environ if environ is None else environ
    accounts = list(settings.accounts)
    known = {account.id for account in accounts}
    for provider_id, info in registry.PROVIDERS.items():
        if provider_id in known:
            continue
        if info.kind is AccountKind.BILLED and env.get(secrets.env_name(provider_id), "").strip():
            accounts.append(AccountConfig(provider_id, provider_id,
                                          problem=_missing_options(provider_id)))
        elif info.kind is AccountKind.LOCAL and _local_present(provider_id, env):
            accounts.append(AccountConfig(provider_id, provider_id))
    return accounts


def _missing_options(provider_id: str) -> ProblemInfo | None:
    info = registry.PROVIDERS[provider_id]
    if not info.required_options:
        return None
    needed = ", ".join(info.required_options)
    return ProblemInfo(
        ErrorKind.CONFIG.value,
        f"{info.display_name} (account {provider_id}): the key is set in the environment, but the "
        f"account also needs {needed}; add it with `tokenwatch setup {provider_id} --team-id ID`.",
    )


def _local_present(provider_id: str, env: Mapping[str, str]) -> bool:
    from tokenwatch_desktop.local.detect import present

    found: bool = present(provider_id, {}, env)
    return found


def select(accounts: Sequence[AccountConfig], target: str) -> list[AccountConfig]:
    """Pick accounts by `all`, a provider id (or alias) or an account id.

    A provider id wins over an account of the same name: `openai` selects every OpenAI account,
    including the one whose id is `openai`.
    """
    if target == "all":
        return list(accounts)
    provider = registry.canonical(target)
    if provider in registry.PROVIDERS:
        return [a for a in accounts if registry.canonical(a.provider) == provider]
    by_id = [account for account in accounts if account.id == target]
    if by_id:
        return by_id
    choices = sorted({"all", *registry.PROVIDERS, *(a.id for a in accounts)})
    raise UsageError(f"unknown provider or account {target!r}; choose one of {', '.join(choices)}")


class Engine:
    """Fetches accounts through one shared `Http`; keys come from `key_lookup`."""

    def __init__(
        self,
        settings: Settings,
        http: Http,
        *,
        demo: bool = False,
        data_dir: Path | None = None,
        history: HistoryStore | None = None,
        key_lookup: KeyLookupFn | None = None,
    ) -> None:
        self.settings = settings
        self.http = http
        self.demo = demo
        self.data_dir = None if demo else data_dir
        self.history = None if demo else history
        self._key_lookup = key_lookup or secrets.lookup_key

    async def refresh(
        self,
        accounts: Sequence[AccountConfig],
        spec: PeriodSpec,
        options: RefreshOptions = RefreshOptions(),
    ) -> Report:
        """Fetch all accounts concurrently and return the combined report, in input order."""
        started = time.monotonic()
        now = options.now or datetime.now(UTC)
        billed = resolve(spec, DayBoundary.UTC, now)
        local = resolve(spec, self.settings.day_boundary, now)
        tasks = [self.fetch_account(account, billed, local, options, now) for account in accounts]
        reports = list(await asyncio.gather(*tasks))
        differs = local != billed
        return Report(
            period=billed,
            accounts=reports,
            generated_at=now,
            elapsed_ms=_elapsed(started),
            demo=self.demo,
            local_period=local if differs else None,
        )

    async def fetch_account(
        self,
        account: AccountConfig,
        billed: Period,
        local: Period,
        options: RefreshOptions,
        now: datetime,
    ) -> AccountReport:
        """One account's report; every failure becomes this account's error, never an exception."""
        started = time.monotonic()
        who = identity(account)
        period = local if who.kind is AccountKind.LOCAL else billed
        if account.problem is not None:
            return error_report(who, account.problem, period, _elapsed(started))
        if account.enabled is False:
            return error_report(who, ProblemInfo("disabled", ""), period, 0, Status.DISABLED)
        lookup = await self._lookup(account, who)
        if lookup.problem is not None:
            return error_report(who, lookup.problem, period, _elapsed(started))
        request = FetchRequest(
            account=_with_base_url(account), key=lookup.key, period=period, http=self.http,
            now=now, by=options.by, data_dir=self.data_dir, prices=tuple(self.settings.prices),
            rescan=options.rescan, key_source="" if self.demo else lookup.source,
        )
        try:
            data = await registry.fetcher(account.provider)(request)
        except asyncio.CancelledError:
            log.debug("fetch for account %s cancelled", account.id)
            raise
        except ProviderError as exc:
            log.info("account %s failed: %s", account.id, exc.kind.value)
            return await self._fallback(account, lookup.key, who, exc.as_problem(), period,
                                        started)
        except Exception:
            log.exception("account %s: unexpected error while fetching", account.id)
            problem = ProblemInfo(
                ErrorKind.BAD_RESPONSE.value,
                f"{who.name} (account {account.id}): the answer could not be processed because of "
                "an internal error; run with --debug and report the log.",
            )
            return await self._fallback(account, lookup.key, who, problem, period, started)
        report = build_report(who, data, period, datetime.now(UTC), _elapsed(started))
        if self.history is not None:
            await self._save(account, lookup.key, report)
        return report

    async def _lookup(self, account: AccountConfig, who: AccountIdentity) -> secrets.KeyLookup:
        """Find the account's key; a lookup that raises becomes this account's keyring problem."""
        if registry.info(account.provider).key_kind is None:
            return secrets.KeyLookup(None, "none")
        if self.demo:
            return secrets.KeyLookup(f"demo-key-{account.id}", "env")
        try:
            return await self._key_lookup(account.id)
        except Exception:
            log.exception("account %s: key lookup failed", account.id)
        return secrets.KeyLookup(None, "none", problem=ProblemInfo(
            ErrorKind.KEYRING.value,
            f"{who.name} (account {account.id}): looking up the key failed; run with --debug and "
            f"check the keyring, or set the key in {secrets.env_name(account.id)}.",
        ))

    async def _fallback(
        self,
        account: AccountConfig,
        key: str | None,
        who: AccountIdentity,
        problem: ProblemInfo,
        period: Period,
        started: float,
    ) -> AccountReport:
        stored = None
        if self.history is not None:
            try:
                # SQLite work runs in a worker thread so the event loop (and the GUI) never waits
                # on the disk or on another process holding the database lock.
                stored = await asyncio.to_thread(self.history.load, account, key, period)
            except Exception:
                log.exception("account %s: reading stored figures failed", account.id)
        if stored is None:
            return error_report(who, problem, period, _elapsed(started))
        return replace(stored, status=Status.ERROR, error=problem, stale=True,
                       elapsed_ms=_elapsed(started))

    async def _save(self, account: AccountConfig, key: str | None, report: AccountReport) -> None:
        assert self.history is not None
        try:
            await asyncio.to_thread(self.history.save, account, key, report)
        except Exception:
            log.exception("account %s: saving figures to history failed", account.id)


def identity(account: AccountConfig) -> AccountIdentity:
    """Display facts of an account; unknown providers still get a readable name."""
    provider = registry.canonical(account.provider)
    info = registry.PROVIDERS.get(provider)
    kind = info.kind if info else AccountKind.BILLED
    default = info.display_name if info else account.provider
    return AccountIdentity(account.id, provider, account.name or default, kind)


def _with_base_url(account: AccountConfig) -> AccountConfig:
    if account.base_url:
        return account
    default = registry.info(account.provider).default_base_url
    return replace(account, base_url=default) if default else account


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
