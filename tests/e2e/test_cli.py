"""End-to-end: the installed `tokenwatch` command against the provider fakes on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from tests.e2e.conftest import ROOT, accounts_for
from tokenwatch_desktop.providers.fake import openai as openai_fake

pytestmark = pytest.mark.slow

SCHEMA = json.loads((ROOT / "docs/schema/report-1.schema.json").read_text())
OPENAI_KEY = "sk-admin-e2e-openai-0001"
ANTHROPIC_KEY = "sk-ant-admin01-e2e-anthropic-0002"
KEYS = {"TOKENWATCH_KEY_OPENAI": OPENAI_KEY, "TOKENWATCH_KEY_ANTHROPIC": ANTHROPIC_KEY}
FIRST, LAST = date(2026, 10, 1), date(2026, 11, 29)
RANGE = ["--since", FIRST.isoformat(), "--until", LAST.isoformat()]


def account(document: dict, account_id: str) -> dict:
    return next(a for a in document["accounts"] if a["id"] == account_id)


def expected_openai(world) -> Decimal:
    return sum(openai_fake.expected_costs(world, OPENAI_KEY, FIRST, LAST).values(), Decimal(0))


def test_demo_json_is_one_document(run_cli):
    result = run_cli(["all", "--demo", "--json"])

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["demo"] is True
    providers = {a["provider"] for a in document["accounts"]}
    assert {"openai", "anthropic", "grok", "openrouter", "deepseek"} <= providers
    assert all(a["status"] != "error" for a in document["accounts"])


def test_demo_tables_show_providers_and_total(run_cli):
    result = run_cli(["all", "--demo"])

    assert result.returncode == 0, result.stderr
    assert "OpenAI" in result.stdout
    assert "Anthropic" in result.stdout
    assert "Billed total: $" in result.stdout
    assert "demo data" in result.stdout


def test_three_pages_are_summed(run_cli, loopback, write_config):
    loopback.world.set_scenario("openai", "three_pages")
    config = write_config(accounts_for(loopback, "openai"))

    result = run_cli(["openai", "--config", str(config), "--json", *RANGE], env=KEYS)

    assert result.returncode == 0, result.stderr
    document = result.json()
    assert Decimal(account(document, "openai")["cost"]) == expected_openai(loopback.world)
    assert loopback.world.counters["openai:requests"] >= 3


def test_auth_failure_keeps_other_provider(run_cli, loopback, write_config):
    loopback.world.set_scenario("anthropic", "auth")
    config = write_config(accounts_for(loopback, "openai", "anthropic"))

    result = run_cli(["all", "--config", str(config), "--json", *RANGE], env=KEYS)

    assert result.returncode == 1
    document = result.json()
    jsonschema.validate(document, SCHEMA)
    failed = account(document, "anthropic")
    assert failed["status"] == "error"
    assert failed["error"]["kind"] == "auth"
    assert "Admin API key" in failed["error"]["message"]
    assert Decimal(account(document, "openai")["cost"]) == expected_openai(loopback.world)
    assert document["total"]["complete"] is False


def test_auth_failure_tables_still_print_other(run_cli, loopback, write_config):
    loopback.world.set_scenario("anthropic", "auth")
    config = write_config(accounts_for(loopback, "openai", "anthropic"))

    result = run_cli(["all", "--config", str(config), *RANGE], env=KEYS)

    assert result.returncode == 1
    assert "auth:" in result.stdout
    assert "OpenAI [openai]: ok" in result.stdout


def test_retry_after_is_honoured(run_cli, loopback, write_config):
    loopback.world.set_scenario("openai", "rate_limit", retry_after=1)
    config = write_config(accounts_for(loopback, "openai"))

    result = run_cli(["openai", "--config", str(config), "--json", *RANGE], env=KEYS)

    assert result.returncode == 0, result.stderr
    assert loopback.world.counters["openai:rate_limited"] == 1
    assert loopback.world.counters["openai:early_retry"] == 0
    assert Decimal(account(result.json(), "openai")["cost"]) == expected_openai(loopback.world)


def test_malformed_body_is_bad_response(run_cli, loopback, write_config):
    loopback.world.set_scenario("openai", "malformed")
    config = write_config(accounts_for(loopback, "openai", "anthropic"))

    result = run_cli(["all", "--config", str(config), "--json", *RANGE], env=KEYS)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    document = result.json()
    assert account(document, "openai")["error"]["kind"] == "bad_response"
    assert account(document, "anthropic")["status"] == "ok"


def test_null_model_is_unattributed(run_cli, loopback, write_config):
    loopback.world.set_scenario("openai", "null_model")
    config = write_config(accounts_for(loopback, "openai"))

    result = run_cli(["openai", "--config", str(config), "--json", *RANGE], env=KEYS)

    assert result.returncode == 0, result.stderr
    openai = account(result.json(), "openai")
    models = {m["model"]: m for m in openai["models"]}
    assert "(unattributed)" in models
    usage = openai_fake.expected_usage(loopback.world, OPENAI_KEY, FIRST, LAST)
    assert models["(unattributed)"]["tokens"]["output"] == usage[None]["output"]
    total_output = sum(m["tokens"]["output"] for m in openai["models"])
    assert openai["tokens"]["output"] == total_output
    assert Decimal(openai["cost"]) == expected_openai(loopback.world)


def test_anthropic_cents_strings_are_exact(run_cli, loopback, write_config):
    from tokenwatch_desktop.providers.fake import anthropic as anthropic_fake

    config = write_config(accounts_for(loopback, "anthropic"))

    result = run_cli(["anthropic", "--config", str(config), "--json", *RANGE], env=KEYS)

    assert result.returncode == 0, result.stderr
    expected = sum(anthropic_fake.expected_costs(loopback.world, ANTHROPIC_KEY, FIRST,
                                                 LAST).values(), Decimal(0))
    assert Decimal(account(result.json(), "anthropic")["cost"]) == expected


@pytest.mark.parametrize("args", [
    ["nosuchprovider"],
    ["all", "--period", "45d"],
    ["all", "--since", "2026-11-10", "--until", "2026-11-01"],
    ["all", "--since", "yesterday"],
    ["all", "--since", "2099-01-01"],
])
def test_invalid_usage_exits_2(run_cli, args):
    result = run_cli(args)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "tokenwatch:" in result.stderr


def test_bad_period_lists_valid_ones(run_cli):
    result = run_cli(["all", "--period", "45d"])

    assert "1d, 7d, 30d, 90d, mtd" in result.stderr


HANGING = {"PYTHON_KEYRING_BACKEND": "tests.e2e.keyring_backends.HangingKeyring"}


def test_hanging_keyring_status_finishes(run_cli, loopback, write_config):
    config = write_config(accounts_for(loopback, "openai", "anthropic"))

    result = run_cli(["status", "--json", "--config", str(config)], env=HANGING, timeout=30)

    assert result.returncode == 0, result.stderr
    rows = {row["id"]: row for row in json.loads(result.stdout)["accounts"]}
    assert rows["openai"]["keyring_state"] == "unavailable"
    assert rows["openai"]["key_source"] == "none"


def test_hanging_keyring_all_reports_keyring(run_cli, loopback, write_config):
    config = write_config(accounts_for(loopback, "openai", "anthropic"))
    env = {**HANGING, "TOKENWATCH_KEY_ANTHROPIC": ANTHROPIC_KEY}

    result = run_cli(["all", "--json", "--config", str(config), *RANGE], env=env, timeout=30)

    assert result.returncode == 1
    document = result.json()
    assert account(document, "openai")["error"]["kind"] == "keyring"
    assert account(document, "anthropic")["status"] == "ok"


PROCESS_KEYRING = {"PYTHON_KEYRING_BACKEND": "tests.e2e.keyring_backends.ProcessKeyring"}


def test_setup_stores_key_outside_config(run_cli, tmp_path: Path):
    config = tmp_path / "setup.yaml"
    key = "sk-admin-setup-canary-9f8e7d6c5b4a"

    result = run_cli(["setup", "work-openai", "--provider", "openai", "--name", "Work",
                      "--config", str(config), "--key-stdin"], env=PROCESS_KEYRING,
                     stdin=key + "\n")

    assert result.returncode == 0, result.stderr
    text = config.read_text()
    assert "work-openai" in text
    assert key not in text
    assert key not in result.stderr + result.stdout
    assert "sk-…4a" not in result.stderr  # masked form is sk-…5b4a
    assert "sk-…5b4a" in result.stderr
    assert config.stat().st_mode & 0o777 == 0o600


def test_setup_rejects_inner_whitespace(run_cli, tmp_path: Path):
    key = "sk-admin-has space-inside-12345"

    result = run_cli(["setup", "--provider", "openai", "--config", str(tmp_path / "c.yaml"),
                      "--key-stdin"], env=PROCESS_KEYRING, stdin=key + "\n")

    assert result.returncode == 2
    assert "space" in result.stderr
    assert "has space" not in result.stderr
