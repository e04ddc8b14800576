"""Cases found by adversarial testing of the command line and the engine, kept as regressions."""

from __future__ import annotations

import io
import json
from datetime import UTC
from pathlib import Path

import jsonschema
import pytest

from tests.adversarial.conftest import json_body, root_url
from tokenwatch_desktop.core import config
from tokenwatch_desktop.providers.http import parse_retry_after

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs/schema/report-1.schema.json").read_text())
OPENAI_KEY = "sk-admin-adversarial-0001"


def _bucket(start: int, results: list[dict]) -> dict:
    return {"object": "bucket", "start_time": start, "end_time": start + 86400,
            "results": results}


def _day_starts(query: dict[str, list[str]]) -> list[int]:
    return list(range(int(query["start_time"][0]), int(query["end_time"][0]), 86400))


def test_missing_cost_days_make_account_partial(odd_server, run_cli, tmp_path, monkeypatch):
    def costs(path, query):
        last_week = _day_starts(query)[-7:]
        cost = [{"amount": {"value": "1.00", "currency": "usd"}, "line_item": "x"}]
        return 200, {}, json_body({"object": "page", "has_more": False, "next_page": None,
                                   "data": [_bucket(day, cost) for day in last_week]})

    def usage(path, query):
        return 200, {}, json_body({"object": "page", "has_more": False, "next_page": None,
                                   "data": [_bucket(day, []) for day in _day_starts(query)]})

    odd_server.routes = {"/v1/organization/costs": costs,
                         "/v1/organization/usage/completions": usage}
    path = tmp_path / "config.yaml"
    path.write_text(f"version: 1\naccounts:\n  - id: openai\n    provider: openai\n"
                    f"    base_url: {root_url(odd_server)}/v1\n")
    monkeypatch.setenv("TOKENWATCH_KEY_OPENAI", OPENAI_KEY)

    result = run_cli(["openai", "--config", str(path), "--json", "--period", "30d"])

    document = json.loads(result.stdout)
    account = document["accounts"][0]
    unknown_days = [day for day in account["days"] if day["cost"] is None]
    assert len(unknown_days) == 23
    assert account["status"] == "partial"
    assert document["total"]["complete"] is False


def test_setup_keeps_unparsable_config(run_cli, tmp_path, monkeypatch):
    path = tmp_path / "config.yaml"
    original = ("version: 1\naccounts:\n  - {id: work, provider: openai}\n"
                "  - {id: home, provider: anthropic\n")
    path.write_text(original)
    monkeypatch.setattr("sys.stdin", io.StringIO("sk-ant-admin01-adversarial-0002\n"))

    result = run_cli(["setup", "extra", "--provider", "anthropic", "--key-stdin",
                      "--config", str(path)])

    assert path.read_text() == original, result.stderr


def test_retry_after_superscript_is_unreadable():
    # The docstring promises None for an unreadable value; an exception here turns any
    # error response that carries this header into an "internal error" for the account.
    assert parse_retry_after("\u00b2") is None


def test_config_directory_exits_with_message(run_cli, tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()

    result = run_cli(["all", "--config", str(folder), "--json"])

    assert result.status != 0
    assert str(folder) in result.stderr


def test_invalid_account_id_keeps_json_valid(run_cli, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("version: 1\naccounts:\n  - {id: Work_Org, provider: openai}\n")

    result = run_cli(["all", "--config", str(path), "--json"])

    document = json.loads(result.stdout)
    assert document["accounts"][0]["status"] == "error"
    jsonschema.validate(document, SCHEMA)


def test_team_id_with_leading_zeros_not_changed(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("version: 1\naccounts:\n  - {id: grok, provider: grok, team_id: 0012}\n")

    account = config.load(path).accounts[0]

    # Either the digits the user wrote, or a config problem asking to quote the value.
    assert account.option("team_id") == "0012" or account.problem is not None



def test_account_named_after_other_provider(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("version: 1\naccounts:\n  - {id: anthropic, provider: deepseek}\n")

    account = config.load(path).accounts[0]

    assert account.problem is not None
    assert "another provider" in account.problem.message


def test_unknown_days_make_account_partial():
    from datetime import date, datetime

    from tokenwatch_desktop.core.aggregate import AccountIdentity, build_report
    from tokenwatch_desktop.core.periods import Period
    from tokenwatch_desktop.core.records import AccountData, AccountKind, Status

    period = Period("7d", date(2026, 11, 1), date(2026, 11, 7))
    data = AccountData(unknown_days={date(2026, 11, 1), date(2026, 11, 2)})
    who = AccountIdentity("openai", "openai", "OpenAI", AccountKind.BILLED)

    report = build_report(who, data, period, datetime(2026, 11, 7, tzinfo=UTC), 1)

    assert report.status is Status.PARTIAL
    assert report.error is not None and report.error.kind == "incomplete"
    assert "2 of the period's 7 days" in report.error.message


@pytest.mark.parametrize("field", ["bearer", "authorization", "x-authorization", "credentials"])
def test_header_named_fields_are_secret(tmp_path, field):
    path = tmp_path / "config.yaml"
    path.write_text(f"version: 1\naccounts:\n  - {{id: openai, provider: openai, "
                    f"{field}: sk-admin-should-not-be-here-0001}}\n")

    settings = config.load(path)
    config.save(settings, path)

    assert settings.accounts[0].problem is not None
    assert field in settings.accounts[0].problem.message
    assert "sk-admin-should-not-be-here" not in path.read_text()


def test_setup_keeps_invalid_field(run_cli, tmp_path, monkeypatch):
    path = tmp_path / "config.yaml"
    path.write_text('version: 1\naccounts:\n  - {id: bad, provider: deepseek, enabled: "no"}\n')
    monkeypatch.setattr("sys.stdin", io.StringIO("sk-deepseek-adversarial-0003\n"))

    result = run_cli(["setup", "bad", "--name", "New", "--key-stdin", "--config", str(path)])

    assert result.status == 2
    assert "enabled" in result.stderr
    assert 'enabled: "no"' in path.read_text()


def test_setup_fixes_missing_team_id(run_cli, tmp_path, monkeypatch):
    path = tmp_path / "config.yaml"
    path.write_text("version: 1\naccounts:\n  - {id: grok, provider: grok, name: Team}\n")
    assert config.load(path).accounts[0].problem is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("xai-management-adversarial-0004\n"))

    result = run_cli(["setup", "grok", "--team-id", "team-42", "--key-stdin",
                      "--config", str(path)])

    assert result.status == 0, result.stderr
    account = config.load(path).accounts[0]
    assert account.problem is None
    assert account.option("team_id") == "team-42"
    assert account.name == "Team"
