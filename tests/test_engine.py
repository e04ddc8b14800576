"""The engine: per-account isolation, selection, stale fallbacks from the history store."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import NOW, TODAY
from tokenwatch_desktop.core import secrets
from tokenwatch_desktop.core.errors import UsageError
from tokenwatch_desktop.core.history import SqliteHistory
from tokenwatch_desktop.core.periods import PeriodSpec
from tokenwatch_desktop.core.records import ProblemInfo, Status
from tokenwatch_desktop.core.settings import AccountConfig, Settings
from tokenwatch_desktop.engine import Engine, RefreshOptions, effective_accounts, select
from tokenwatch_desktop.providers.fake import FakeWorld, base_urls
from tokenwatch_desktop.providers.fake import openai as openai_fake
from tokenwatch_desktop.providers.fake.transport import DEMO_ROOT, fake_transport
from tokenwatch_desktop.providers.http import Http, RetryPolicy, make_client

URLS = base_urls(DEMO_ROOT)
OPENAI = AccountConfig("openai", "openai", base_url=URLS["openai"])
ANTHROPIC = AccountConfig("anthropic", "anthropic", base_url=URLS["anthropic"])
SPEC = PeriodSpec("7d")


async def env_keys(account_id: str) -> secrets.KeyLookup:
    return secrets.KeyLookup(f"sk-admin-engine-{account_id}", "env")


def refresh(world: FakeWorld, accounts: list[AccountConfig], key_lookup=env_keys,
            history: SqliteHistory | None = None):
    async def run():
        async with make_client(fake_transport(world)) as client:
            engine = Engine(Settings(accounts=accounts), Http(client, RetryPolicy(attempts=1)),
                            key_lookup=key_lookup, history=history)
            return await engine.refresh(accounts, SPEC, RefreshOptions(now=NOW))

    return asyncio.run(run())


def test_lookup_exception_stays_in_account(fake_world: FakeWorld) -> None:
    async def exploding(account_id: str) -> secrets.KeyLookup:
        if account_id == "openai":
            raise RuntimeError("backend exploded")
        return await env_keys(account_id)

    report = refresh(fake_world, [OPENAI, ANTHROPIC], exploding)

    failed, fine = report.accounts
    assert failed.status is Status.ERROR
    assert failed.error is not None and failed.error.kind == "keyring"
    assert "TOKENWATCH_KEY_OPENAI" in failed.error.message
    assert fine.status is Status.OK


def test_config_problem_is_account_error(fake_world: FakeWorld) -> None:
    broken = AccountConfig("grok", "grok", problem=ProblemInfo("config", "grok needs team_id"))

    report = refresh(fake_world, [broken, OPENAI])

    assert report.accounts[0].error == ProblemInfo("config", "grok needs team_id")
    assert report.accounts[1].status is Status.OK
    assert report.has_error


def test_disabled_account_is_skipped(fake_world: FakeWorld) -> None:
    off = AccountConfig("anthropic", "anthropic", enabled=False, base_url=URLS["anthropic"])

    report = refresh(fake_world, [OPENAI, off])

    assert report.accounts[1].status is Status.DISABLED
    assert report.accounts[1].error is None
    assert not report.has_error
    assert not any(call[0] == "anthropic" for call in fake_world.calls)


def test_failure_shows_stale_history(fake_world: FakeWorld, tmp_path: Path) -> None:
    with SqliteHistory(tmp_path) as history:
        good = refresh(fake_world, [OPENAI], history=history).accounts[0]
        fake_world.set_scenario("openai", "server_error")

        stale = refresh(fake_world, [OPENAI], history=history).accounts[0]

    assert good.status is Status.OK
    assert stale.status is Status.ERROR
    assert stale.stale is True
    assert stale.error is not None and stale.error.kind == "unavailable"
    assert stale.cost == good.cost
    expected = openai_fake.expected_costs(fake_world, "sk-admin-engine-openai",
                                          TODAY - timedelta(days=6), TODAY)
    assert stale.cost == sum(expected.values(), Decimal(0))


def test_select_by_provider_account_and_alias() -> None:
    work = AccountConfig("work-openai", "openai")
    grok = AccountConfig("grok", "grok", options={"team_id": "t"})
    accounts = [OPENAI, work, grok]

    assert select(accounts, "openai") == [OPENAI, work]
    assert select(accounts, "work-openai") == [work]
    assert select(accounts, "xai") == [grok]
    assert select(accounts, "all") == accounts
    with pytest.raises(UsageError, match="unknown provider or account 'mistral'"):
        select(accounts, "mistral")


def test_env_key_creates_account() -> None:
    accounts = effective_accounts(Settings(), {"TOKENWATCH_KEY_OPENAI": "sk-admin-x"})

    assert [a.id for a in accounts] == ["openai"]
    grok = effective_accounts(Settings(), {"TOKENWATCH_KEY_GROK": "k"})[0]
    assert grok.provider == "grok"
    assert grok.problem is not None and "--team-id" in grok.problem.message


async def keyring_keys(account_id: str) -> secrets.KeyLookup:
    return secrets.KeyLookup(f"sk-admin-engine-{account_id}", "keyring")


@pytest.mark.parametrize("lookup, fix, not_fix", [
    (env_keys, "set TOKENWATCH_KEY_OPENAI to one", "tokenwatch setup"),
    (keyring_keys, "`tokenwatch setup openai`", "TOKENWATCH_KEY_OPENAI"),
])
def test_rejected_key_message_names_its_source(fake_world: FakeWorld, lookup, fix: str,
                                               not_fix: str) -> None:
    """A key from TOKENWATCH_KEY_<ID> wins over a stored one, so storing a new one fixes nothing."""
    fake_world.set_scenario("openai", "auth")

    failed = refresh(fake_world, [OPENAI], lookup).accounts[0]

    assert failed.error is not None and failed.error.kind == "auth"
    assert fix in failed.error.message
    assert not_fix not in failed.error.message
