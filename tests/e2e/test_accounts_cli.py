"""End-to-end: several accounts of one provider, and one invalid account among good ones."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.e2e.conftest import accounts_for
from tokenwatch_desktop.providers.fake import openai as openai_fake

pytestmark = pytest.mark.slow

FIRST, LAST = date(2026, 11, 1), date(2026, 11, 20)
RANGE = ["--since", FIRST.isoformat(), "--until", LAST.isoformat()]
KEYS = {"TOKENWATCH_KEY_OPENAI": "sk-admin-e2e-first-org-1111",
        "TOKENWATCH_KEY_WORK_OPENAI": "sk-admin-e2e-second-org-2222",
        "TOKENWATCH_KEY_DEEPSEEK": "sk-e2e-deepseek-3333"}


def expected(world, key: str) -> Decimal:
    return sum(openai_fake.expected_costs(world, key, FIRST, LAST).values(), Decimal(0))


def config_with_two_orgs(loopback, write_config, *extra):
    accounts = accounts_for(loopback, "openai", "deepseek")
    second = dict(accounts[0], id="work-openai", name="Work org")
    return write_config([accounts[0], second, accounts[1], *extra])


def test_two_orgs_have_own_figures(run_cli, loopback, write_config):
    config = config_with_two_orgs(loopback, write_config)

    result = run_cli(["openai", "--config", str(config), "--json", *RANGE], env=KEYS)

    assert result.returncode == 0, result.stderr
    accounts = {a["id"]: a for a in result.json()["accounts"]}
    assert sorted(accounts) == ["openai", "work-openai"]
    first = Decimal(accounts["openai"]["cost"])
    second = Decimal(accounts["work-openai"]["cost"])
    assert first == expected(loopback.world, KEYS["TOKENWATCH_KEY_OPENAI"])
    assert second == expected(loopback.world, KEYS["TOKENWATCH_KEY_WORK_OPENAI"])
    assert first != second
    assert accounts["work-openai"]["name"] == "Work org"


def test_account_id_selects_one(run_cli, loopback, write_config):
    config = config_with_two_orgs(loopback, write_config)

    result = run_cli(["work-openai", "--config", str(config), "--json", *RANGE], env=KEYS)

    assert [a["id"] for a in result.json()["accounts"]] == ["work-openai"]


def test_one_org_failing_keeps_other(run_cli, loopback, write_config):
    loopback.world.set_scenario("openai", "auth", key=KEYS["TOKENWATCH_KEY_WORK_OPENAI"])
    config = config_with_two_orgs(loopback, write_config)

    result = run_cli(["openai", "--config", str(config), "--json", *RANGE], env=KEYS)

    assert result.returncode == 1
    accounts = {a["id"]: a for a in result.json()["accounts"]}
    assert accounts["work-openai"]["error"]["kind"] == "auth"
    assert accounts["openai"]["status"] == "ok"


def test_invalid_account_says_what_to_fix(run_cli, loopback, write_config):
    broken = {"id": "grok", "provider": "grok", "base_url": loopback.base_urls()["grok"]}
    config = config_with_two_orgs(loopback, write_config, broken)

    result = run_cli(["all", "--config", str(config), "--json", *RANGE], env=KEYS)

    assert result.returncode == 1
    accounts = {a["id"]: a for a in result.json()["accounts"]}
    assert accounts["grok"]["error"]["kind"] == "config"
    assert "team_id" in accounts["grok"]["error"]["message"]
    assert accounts["openai"]["status"] == "ok"
    assert accounts["work-openai"]["status"] == "ok"
    assert accounts["deepseek"]["status"] == "ok"
    assert accounts["deepseek"]["balance"]
