"""Several accounts of one provider through `Engine.refresh`: own keys, own figures, own errors."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import NOW, TODAY
from tests.providers.billing_support import period
from tokenwatch_desktop.core import secrets
from tokenwatch_desktop.core.periods import PeriodSpec
from tokenwatch_desktop.core.records import AccountReport, Balance, Status
from tokenwatch_desktop.core.report import Report, to_json
from tokenwatch_desktop.core.settings import AccountConfig, Settings
from tokenwatch_desktop.engine import Engine, RefreshOptions
from tokenwatch_desktop.providers.fake import FakeWorld, base_urls
from tokenwatch_desktop.providers.fake import deepseek as fake_deepseek
from tokenwatch_desktop.providers.fake import openrouter as fake_openrouter
from tokenwatch_desktop.providers.fake import xai as fake_xai
from tokenwatch_desktop.providers.fake.server import LoopbackServer
from tokenwatch_desktop.providers.fake.transport import DEMO_ROOT, fake_transport
from tokenwatch_desktop.providers.http import Http, make_client

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schema" / "report-1.schema.json"
KEYS = {
    "grok-prod": "mgmt-prod-4b1a",
    "grok-lab": "mgmt-lab-77c2",
    "grok-broken": "mgmt-revoked-0000",
    "or-personal": "sk-or-v1-personal-1111",
    "or-team": "sk-or-v1-mgmt-team-2222",
    "ds-cn": "sk-ds-cn-3333",
    "ds-global": "sk-ds-global-4444",
}


def accounts(root: str) -> list[AccountConfig]:
    urls = base_urls(root)
    return [
        AccountConfig("grok-prod", "grok", None, True, urls["grok"], {"team_id": "demo-team"}),
        AccountConfig("grok-lab", "xai", None, True, urls["grok"], {"team_id": "team-lab"}),
        AccountConfig("grok-broken", "grok", None, True, urls["grok"], {"team_id": "team-x"}),
        AccountConfig("or-personal", "openrouter", None, True, urls["openrouter"]),
        AccountConfig("or-team", "openrouter", None, True, urls["openrouter"]),
        AccountConfig("ds-cn", "deepseek", None, True, urls["deepseek"]),
        AccountConfig("ds-global", "deepseek", None, True, urls["deepseek"]),
    ]


async def lookup(account_id: str) -> secrets.KeyLookup:
    return secrets.KeyLookup(KEYS[account_id], "env")


def refresh(world: FakeWorld | None, root: str, label: str = "30d",
            by: str | None = None) -> Report:
    async def main() -> Report:
        client = make_client(fake_transport(world) if world is not None else None)
        engine = Engine(Settings(accounts=accounts(root)), Http(client), key_lookup=lookup)
        try:
            return await engine.refresh(engine.settings.accounts, PeriodSpec(label),
                                        RefreshOptions(by=by, now=NOW))
        finally:
            await client.aclose()

    return asyncio.run(main())


def prepare(world: FakeWorld) -> FakeWorld:
    world.set_scenario("xai", "auth", key=KEYS["grok-broken"])
    world.set_scenario("deepseek", "two_currencies", key=KEYS["ds-cn"])
    return world


def by_id(report: Report) -> dict[str, AccountReport]:
    return {account.id: account for account in report.accounts}


def xai_cost(world: FakeWorld, account_id: str, team: str) -> Decimal:
    span = period("30d")
    spend = fake_xai.expected_spend(world, KEYS[account_id], team, span.start, span.end)
    return sum(spend.values(), Decimal(0))


def test_grok_accounts_own_figures(fake_world: FakeWorld) -> None:
    reports = by_id(refresh(prepare(fake_world), DEMO_ROOT))

    prod, lab = reports["grok-prod"], reports["grok-lab"]
    assert prod.status is Status.OK
    assert lab.status is Status.OK
    assert prod.cost == xai_cost(fake_world, "grok-prod", "demo-team")
    assert lab.cost == xai_cost(fake_world, "grok-lab", "team-lab")
    assert prod.cost != lab.cost
    assert prod.balance == [Balance(
        fake_xai.expected_remaining(fake_world, KEYS["grok-prod"], "demo-team"), "USD")]
    assert lab.provider == "grok"


def test_grok_account_own_error(fake_world: FakeWorld) -> None:
    reports = by_id(refresh(prepare(fake_world), DEMO_ROOT))

    broken = reports["grok-broken"]
    assert broken.status is Status.ERROR
    assert broken.error is not None
    assert broken.error.kind == "auth"
    assert "account grok-broken" in broken.error.message
    assert "TOKENWATCH_KEY_GROK_BROKEN" in broken.error.message  # the key came from the env
    assert broken.cost is None
    assert reports["grok-prod"].error is None


def test_openrouter_accounts_by_key_kind(fake_world: FakeWorld) -> None:
    reports = by_id(refresh(prepare(fake_world), DEMO_ROOT))

    personal, team = reports["or-personal"], reports["or-team"]
    span = period("30d")
    daily = fake_openrouter.expected_daily(fake_world, KEYS["or-team"], span.start, span.end)
    assert team.status is Status.OK
    assert team.cost == sum(daily.values(), Decimal(0))
    assert team.tokens is not None
    assert personal.status is Status.PARTIAL
    assert personal.cost is None
    assert personal.tokens is None
    assert personal.error is not None
    assert personal.error.kind == "permission"


def test_openrouter_normal_key_mtd(fake_world: FakeWorld) -> None:
    reports = by_id(refresh(prepare(fake_world), DEMO_ROOT, "mtd"))

    personal = reports["or-personal"]
    assert personal.status is Status.OK
    assert personal.cost == fake_openrouter.expected_month(fake_world, KEYS["or-personal"])
    assert all(day.cost is None for day in personal.days)


def test_deepseek_accounts_balances(fake_world: FakeWorld) -> None:
    reports = by_id(refresh(prepare(fake_world), DEMO_ROOT))

    for account_id in ("ds-cn", "ds-global"):
        expected = fake_deepseek.expected_balances(fake_world, KEYS[account_id])
        rendered = reports[account_id]
        assert rendered.status is Status.OK
        assert {b.currency: b.remaining for b in rendered.balance} == expected
        assert rendered.cost is None
        assert rendered.cost_source is None
        assert rendered.tokens is None
        assert rendered.requests is None
    assert len(reports["ds-cn"].balance) == 2
    assert len(reports["ds-global"].balance) == 1


def test_json_report_valid(fake_world: FakeWorld) -> None:
    report = refresh(prepare(fake_world), DEMO_ROOT, by="model")

    document = to_json(report)

    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    rendered = {account["id"]: account for account in document["accounts"]}
    assert rendered["ds-global"]["cost"] is None
    assert rendered["ds-global"]["balance"][0]["currency"] == "USD"
    assert rendered["or-team"]["breakdown"]
    assert document["total"]["complete"] is False
    assert document["period"]["end"] == TODAY.isoformat()


def test_no_key_in_output(fake_world: FakeWorld) -> None:
    report = refresh(prepare(fake_world), DEMO_ROOT)

    text = json.dumps(to_json(report))

    for key in KEYS.values():
        assert key not in text


def test_loopback_all_accounts(loopback: LoopbackServer) -> None:
    prepare(loopback.world)

    reports = by_id(refresh(None, loopback.root))

    statuses = {account_id: rendered.status for account_id, rendered in reports.items()}
    assert statuses == {
        "grok-prod": Status.OK, "grok-lab": Status.OK, "grok-broken": Status.ERROR,
        "or-personal": Status.PARTIAL, "or-team": Status.OK,
        "ds-cn": Status.OK, "ds-global": Status.OK,
    }
    assert reports["grok-lab"].cost == xai_cost(loopback.world, "grok-lab", "team-lab")


def test_no_key_in_logs(fake_world: FakeWorld, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    refresh(prepare(fake_world), DEMO_ROOT, by="model")

    assert caplog.records
    for key in KEYS.values():
        assert key not in caplog.text
