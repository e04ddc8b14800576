"""Config file: search order, migration, bad files, validation, secret fields, atomic writes."""

from __future__ import annotations

import os
import stat
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest
import yaml
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from tokenwatch_desktop.core import config, paths, secrets
from tokenwatch_desktop.core.periods import DayBoundary
from tokenwatch_desktop.core.settings import AccountConfig, Budgets, PriceOverride, Settings

SECRET = "sk-admin-CANARY0123456789abcdef"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def default_path(home: Path) -> Path:
    return home / ".config" / "TokenWatch" / "config.yaml"


def legacy_path(home: Path) -> Path:
    return home / ".tokenwatch" / "config.yaml"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- where the file is -------------------------------------------------------------------------


def test_missing_file_gives_defaults(isolated_home: Path) -> None:
    settings = config.load()

    assert settings.path == default_path(isolated_home)
    assert settings.warnings == []
    assert settings.accounts == []
    assert settings.period == "30d"
    assert settings.refresh_minutes == 15


def test_default_location_honours_xdg(isolated_home: Path) -> None:
    write(default_path(isolated_home), "period: 7d\n")

    assert config.load().period == "7d"


def test_env_variable_beats_default(isolated_home: Path, tmp_path: Path) -> None:
    write(default_path(isolated_home), "period: 7d\n")
    chosen = write(tmp_path / "env.yaml", "period: 90d\n")

    settings = config.load(environ={paths.CONFIG_ENV: str(chosen)})

    assert settings.period == "90d"
    assert settings.path == chosen


def test_explicit_path_beats_env(tmp_path: Path) -> None:
    from_env = write(tmp_path / "env.yaml", "period: 90d\n")
    explicit = write(tmp_path / "cli.yaml", "period: mtd\n")

    settings = config.load(explicit, environ={paths.CONFIG_ENV: str(from_env)})

    assert settings.period == "mtd"
    assert settings.path == explicit


def test_unreadable_path_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="cannot read the config file"):
        config.load(tmp_path)  # a directory


# --- legacy migration --------------------------------------------------------------------------

LEGACY = f"""
period: 7d
accounts:
  - provider: openai
    api_key: "{SECRET}"
  - id: work-anthropic
    provider: anthropic
    key: "  sk-ant-admin-OTHER0123456789  "
"""


def test_legacy_migrates_keys_into_keyring(isolated_home: Path, memory_keyring: Any) -> None:
    old = write(legacy_path(isolated_home), LEGACY)

    settings = config.load()

    new = default_path(isolated_home)
    migrated = old.with_name("config.yaml.migrated")
    assert memory_keyring.secrets[("tokenwatch", "openai")] == SECRET
    assert memory_keyring.secrets[("tokenwatch", "work-anthropic")] == "sk-ant-admin-OTHER0123456789"
    assert not old.exists()
    assert new.is_file() and migrated.is_file()
    for path in (new, migrated):
        text = path.read_text()
        assert SECRET not in text
        assert "OTHER0123456789" not in text
        assert "api_key" not in text
        assert mode(path) == 0o600
    assert settings.period == "7d"
    assert [a.id for a in settings.accounts] == ["openai", "work-anthropic"]
    assert all(a.problem is None for a in settings.accounts)
    assert any("moved the config" in w for w in settings.warnings)


def test_legacy_migrates_only_once(isolated_home: Path) -> None:
    write(legacy_path(isolated_home), LEGACY)
    config.load()

    again = config.load()

    assert again.warnings == []
    assert [a.id for a in again.accounts] == ["openai", "work-anthropic"]


def test_legacy_waits_without_keyring(isolated_home: Path) -> None:
    old = write(legacy_path(isolated_home), LEGACY)
    before = old.read_bytes()
    keyring.set_keyring(keyring.backends.fail.Keyring())

    settings = config.load()

    assert old.read_bytes() == before
    assert not default_path(isolated_home).exists()
    assert not old.with_name("config.yaml.migrated").exists()
    assert any("not migrated yet" in w and "keyring" in w for w in settings.warnings)
    assert [a.id for a in settings.accounts] == ["openai", "work-anthropic"]
    assert all(a.problem is None for a in settings.accounts)
    assert settings.path == default_path(isolated_home)
    assert SECRET not in repr(settings)


def test_legacy_problems_name_old_file(isolated_home: Path) -> None:
    old = write(legacy_path(isolated_home), LEGACY + "  - provider: grok\n")
    keyring.set_keyring(keyring.backends.fail.Keyring())

    problem = config.load().accounts[-1].problem

    assert problem is not None
    assert str(old) in problem.message


def test_legacy_without_keys_needs_no_keyring(isolated_home: Path) -> None:
    write(legacy_path(isolated_home), "accounts: [{provider: deepseek}]\n")
    keyring.set_keyring(keyring.backends.fail.Keyring())

    settings = config.load()

    assert default_path(isolated_home).is_file()
    assert [a.id for a in settings.accounts] == ["deepseek"]


def test_legacy_ignored_with_explicit_path(isolated_home: Path, tmp_path: Path) -> None:
    old = write(legacy_path(isolated_home), LEGACY)

    config.load(tmp_path / "x.yaml")

    assert old.is_file()


def test_legacy_left_over_is_warned(isolated_home: Path) -> None:
    write(default_path(isolated_home), "period: 7d\n")
    write(legacy_path(isolated_home), LEGACY)

    settings = config.load()

    assert any("is not read because" in w for w in settings.warnings)


def test_legacy_write_failure_keeps_old_file(isolated_home: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    old = write(legacy_path(isolated_home), LEGACY)

    def full_disk(path: Path, data: Any) -> None:
        raise config.ConfigError(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(config, "write_yaml", full_disk)
    settings = config.load()

    assert old.read_text() == LEGACY
    assert any("could not be migrated" in w for w in settings.warnings)
    assert [a.id for a in settings.accounts] == ["openai", "work-anthropic"]


def test_legacy_invalid_key_not_moved(isolated_home: Path, memory_keyring: Any) -> None:
    write(legacy_path(isolated_home), 'accounts: [{provider: openai, api_key: "sk-a b"}]\n')

    settings = config.load()

    assert memory_keyring.secrets == {}
    assert any("was not moved" in w for w in settings.warnings)
    assert not any("sk-a b" in w for w in settings.warnings)


# --- bad files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "accounts: [unclosed\n",
    "- just\n- a list\n",
    "version: 7\n",
    "accounts: {openai: {}}\n",
    "key: [a, b\n",
])
def test_bad_file_backed_up_not_overwritten(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "config.yaml", text)

    settings = config.load(path)

    backups = list(tmp_path.glob("config.yaml.bad-*"))
    assert len(backups) == 1
    assert backups[0].read_text() == text
    assert path.read_text() == text
    assert settings.accounts == []
    assert len(settings.warnings) == 1
    assert "tokenwatch setup" in settings.warnings[0]
    assert backups[0].name in settings.warnings[0]


def test_bad_file_backup_reused(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "a: [\n")

    config.load(path)
    config.load(path)

    assert len(list(tmp_path.glob("config.yaml.bad-*"))) == 1


def test_non_utf8_file_is_bad(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"period: \xff\xfe\n")

    settings = config.load(path)

    assert "not UTF-8" in settings.warnings[0]
    assert path.read_bytes() == b"period: \xff\xfe\n"


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    settings = config.load(write(tmp_path / "config.yaml", "# nothing yet\n"))

    assert settings.warnings == []
    assert list(tmp_path.glob("*.bad-*")) == []


# --- settings values -----------------------------------------------------------------------------


def test_full_file_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", """
version: 1
period: mtd
day_boundary: local
refresh_minutes: 60
budgets:
  monthly_total: "500.00"
  accounts: {openai: 300.10}
  notify_at: [100, 50]
prices:
  - {vendor: anthropic, model: claude-sonnet-4-5, input: "3", output: 15, cache_read: 0.1,
     cache_write: "3.75", cache_write_1h: "6", from: 2025-09-29}
accounts:
  - id: openai
    provider: openai
    name: Acme org
    enabled: true
    base_url: https://proxy.example.com/v1
  - id: grok
    provider: grok
    team_id: 1a2b3c
  - id: claude-code
    provider: claude-code
    paths: [~/.claude/projects]
""")

    settings = config.load(path)

    assert settings.warnings == []
    assert settings.period == "mtd"
    assert settings.day_boundary is DayBoundary.LOCAL
    assert settings.refresh_minutes == 60
    assert settings.budgets == Budgets(Decimal("500.00"), {"openai": Decimal("300.10")}, (50, 100))
    price = settings.prices[0]
    assert price.cache_read == Decimal("0.1")
    assert str(price.cache_read) == "0.1"
    assert price.output == Decimal(15)
    assert price.start == date(2025, 9, 29)
    openai, grok, claude = settings.accounts
    assert (openai.name, openai.enabled, openai.base_url) == (
        "Acme org", True, "https://proxy.example.com/v1")
    assert grok.option("team_id") == "1a2b3c"
    assert claude.option("paths") == ["~/.claude/projects"]
    assert all(a.problem is None for a in settings.accounts)


def test_yaml_float_keeps_decimal_text(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "prices: [{vendor: v, model: m, input: 0.1, output: 1e-7}]\n")

    price = config.load(path).prices[0]

    assert price.input == Decimal("0.1")
    assert price.input.as_tuple() == Decimal("0.1").as_tuple()


@pytest.mark.parametrize(("text", "field"), [
    ("period: 45d\n", "period"),
    ("day_boundary: moon\n", "day_boundary"),
    ("refresh_minutes: 2\n", "refresh_minutes"),
    ("refresh_minutes: 1441\n", "refresh_minutes"),
    ("refresh_minutes: '15'\n", "refresh_minutes"),
    ("budgets: {monthly_total: -1}\n", "monthly_total"),
    ("budgets: {monthly_total: lots}\n", "monthly_total"),
    ("budgets: {notify_at: [50, 0]}\n", "notify_at"),
    ("budgets: [1]\n", "budgets"),
    ("prices: [{vendor: v, model: m}]\n", "prices[0]"),
    ("prices: [{vendor: v, input: '1'}]\n", "model is missing"),
    ("prices: [{vendor: v, model: m, input: .nan}]\n", "prices[0]"),
    ("prices: [{vendor: v, model: m, input: '1', from: 2025-02-30}]\n", "from"),
    ("prices: {a: 1}\n", "prices"),
])
def test_bad_setting_warns_and_defaults(tmp_path: Path, text: str, field: str) -> None:
    settings = config.load(write(tmp_path / "c.yaml", text))

    assert len(settings.warnings) == 1
    assert field in settings.warnings[0]
    assert settings.period == "30d"
    assert settings.day_boundary is DayBoundary.UTC
    assert settings.refresh_minutes == 15
    assert settings.prices == []
    assert settings.budgets.monthly_total is None
    assert settings.budgets.notify_at == (50, 80, 100)


def test_unknown_top_level_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "theme: dark\nfuture: {a: [1, 2.5]}\n")

    settings = config.load(path)
    config.save(settings)
    again = config.load(path)

    assert settings.extra == {"theme": "dark", "future": {"a": [1, Decimal("2.5")]}}
    assert sum("not a known setting" in w for w in settings.warnings) == 2
    assert again.extra == settings.extra


# --- accounts ------------------------------------------------------------------------------------


def test_ids_default_to_provider(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", """
accounts:
  - provider: openai
  - provider: openai
  - provider: xai
    team_id: 7
""")

    accounts = config.load(path).accounts

    assert [(a.id, a.provider) for a in accounts] == [
        ("openai", "openai"), ("openai-2", "openai"), ("grok", "grok")]
    assert accounts[2].option("team_id") == "7"
    assert all(a.problem is None for a in accounts)


@pytest.mark.parametrize(("entry", "expected"), [
    ("{id: bad, provider: nosuch}", "unknown"),
    ("{id: bad}", "provider is missing"),
    ("{id: bad, provider: grok}", "team_id is missing"),
    ("{id: Bad_Id, provider: openai}", "id 'Bad_Id' is invalid"),
    ("{id: good, provider: openai}", "used by an earlier account"),
    ("{id: bad, provider: openai, base_url: ftp://x.example}", "base_url"),
    ("{id: bad, provider: openai, base_url: 'https://'}", "base_url"),
    ("{id: bad, provider: openai, base_url: 'https://u:p@x.example'}", "user name or password"),
    ("{id: bad, provider: openai, enabled: maybe}", "enabled"),
    ("{id: bad, provider: openai, name: [a]}", "name"),
    ("{id: bad, provider: claude-code, paths: 5}", "paths"),
    ("{id: bad, provider: grok, team_id: [1]}", "team_id"),
    ("just-a-string", "not a mapping"),
])
def test_invalid_account_isolated(tmp_path: Path, entry: str, expected: str) -> None:
    path = write(tmp_path / "c.yaml", f"accounts:\n  - {{id: good, provider: openai}}\n"
                                      f"  - {entry}\n  - {{id: other, provider: deepseek}}\n")

    settings = config.load(path)

    good, bad, other = settings.accounts
    assert good.problem is None
    assert other.problem is None
    assert bad.problem is not None
    assert bad.problem.kind == "config"
    assert expected in bad.problem.message
    assert str(path) in bad.problem.message
    assert settings.warnings == []


def test_invalid_account_written_back_as_typed(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "accounts: [{provider: openai, enabled: maybe, x: 1}]\n")

    config.save(config.load(path))
    account = config.load(path).accounts[0]

    assert account.id == "openai"
    assert account.raw == {"id": "openai", "provider": "openai", "enabled": "maybe", "x": 1}


# --- secret fields -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["api_key", "key", "token", "secret", "admin-key", "API_KEY"])
def test_secret_field_on_account(tmp_path: Path, field: str) -> None:
    path = write(tmp_path / "c.yaml", f"accounts:\n  - id: work\n    provider: openai\n"
                                      f"    {field}: {SECRET}\n")

    settings = config.load(path)
    config.save(settings)

    problem = settings.accounts[0].problem
    assert problem is not None and problem.kind == "config"
    assert f"`{field}`" in problem.message
    assert "tokenwatch setup work" in problem.message
    assert SECRET not in problem.message
    assert SECRET not in repr(settings)
    assert SECRET.encode() not in path.read_bytes()
    assert field not in path.read_text()


def test_secret_field_top_level_and_nested(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", f"api_key: {SECRET}\nplugin: {{token: {SECRET}, level: 1}}\n")

    settings = config.load(path)
    config.save(settings)

    assert any("`api_key`" in w for w in settings.warnings)
    assert any("`plugin.token`" in w for w in settings.warnings)
    assert not any(SECRET in w for w in settings.warnings)
    assert SECRET.encode() not in path.read_bytes()
    assert config.load(path).extra == {"plugin": {"level": 1}}


def test_save_drops_secret_options(tmp_path: Path) -> None:
    account = AccountConfig("x", "openai", options={"api_key": SECRET, "note": "keep"})
    path = config.save(Settings(accounts=[account], extra={"token": SECRET}), tmp_path / "c.yaml")

    assert SECRET.encode() not in path.read_bytes()
    assert config.load(path).accounts[0].options == {"note": "keep"}


def test_max_tokens_is_not_a_secret() -> None:
    from tokenwatch_desktop.core.config_schema import is_secret_field

    assert not is_secret_field("max_tokens")
    assert not is_secret_field("team_id")
    assert is_secret_field("access_token")


# --- writing -------------------------------------------------------------------------------------


def sample_settings() -> Settings:
    return Settings(
        period="7d", day_boundary=DayBoundary.LOCAL, refresh_minutes=30,
        budgets=Budgets(Decimal("500.00"), {"openai": Decimal("0.10")}, (75,)),
        prices=[PriceOverride("anthropic", "claude-x", input=Decimal("3"),
                              cache_read=Decimal("0.30000001"), start=date(2025, 9, 29))],
        accounts=[
            AccountConfig("openai", "openai", "Acme", True, "https://api.openai.com/v1"),
            AccountConfig("grok", "grok", options={"team_id": "abc"}),
            AccountConfig("claude-code", "claude-code", enabled=False,
                          options={"paths": ["~/x"]}),
        ],
        extra={"theme": "dark"},
    )


def test_round_trip(tmp_path: Path) -> None:
    original = sample_settings()

    path = config.save(original, tmp_path / "c.yaml")
    loaded = config.load(path)

    assert loaded.warnings == ["the top-level field `theme` is not a known setting; "
                               "it is kept as it is"]
    assert loaded.period == original.period
    assert loaded.day_boundary == original.day_boundary
    assert loaded.refresh_minutes == original.refresh_minutes
    assert loaded.budgets == original.budgets
    assert loaded.prices == original.prices
    assert loaded.accounts == original.accounts
    assert loaded.extra == original.extra


def test_save_writes_header_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.yaml"
    write(path, "period: 7d\n").chmod(0o644)

    config.save(sample_settings(), path)

    assert path.read_text().splitlines()[0] == config.HEADER.strip()
    assert "comments are not kept" in config.HEADER
    assert mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.yaml"]


def test_save_uses_settings_path(tmp_path: Path) -> None:
    settings = config.load(tmp_path / "c.yaml")

    assert config.save(settings) == tmp_path / "c.yaml"
    assert (tmp_path / "c.yaml").is_file()


def test_failed_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "cfg" / "config.yaml", "period: 7d\n")

    def broken(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(config.ConfigError, match="No space left"):
        config.save(sample_settings(), path)

    assert path.read_text() == "period: 7d\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.yaml"]


# --- account helpers -----------------------------------------------------------------------------


def test_next_account_id() -> None:
    settings = Settings(accounts=[AccountConfig("openai", "openai"),
                                  AccountConfig("openai-2", "openai")])

    assert config.next_account_id(settings, "openai") == "openai-3"
    assert config.next_account_id(settings, "xai") == "grok"


def test_add_account() -> None:
    settings = config.add_account(Settings(), AccountConfig("grok", "xai", options={"team_id": 5}))

    assert settings.accounts == [AccountConfig("grok", "grok", options={"team_id": "5"})]


@pytest.mark.parametrize(("account", "expected"), [
    (AccountConfig("openai", "openai"), "exists already"),
    (AccountConfig("grok", "grok"), "team_id is missing"),
    (AccountConfig("New", "openai"), "invalid"),
    (AccountConfig("x", "nosuch"), "unknown"),
    (AccountConfig("x", "openai", options={"api_key": SECRET}), "looks like an API key"),
])
def test_add_account_rejects(account: AccountConfig, expected: str) -> None:
    settings = Settings(accounts=[AccountConfig("openai", "openai")])

    with pytest.raises(config.ConfigError, match=expected) as info:
        config.add_account(settings, account)

    assert SECRET not in str(info.value)


def test_update_account() -> None:
    settings = Settings(accounts=[AccountConfig("openai", "openai"),
                                  AccountConfig("deepseek", "deepseek")])

    updated = config.update_account(settings, "openai", name="Work", enabled=False)

    assert updated.accounts[0] == AccountConfig("openai", "openai", "Work", False)
    assert updated.accounts[1] == settings.accounts[1]
    with pytest.raises(config.ConfigError, match="cannot be changed"):
        config.update_account(settings, "openai", id="other")
    with pytest.raises(config.ConfigError, match="base_url"):
        config.update_account(settings, "openai", base_url="file:///etc")
    with pytest.raises(config.ConfigError, match="no account"):
        config.update_account(settings, "nosuch", name="x")


def test_remove_account_and_key(memory_keyring: Any) -> None:
    secrets.store_key("openai", SECRET)
    settings = Settings(accounts=[AccountConfig("openai", "openai")],
                        budgets=Budgets(accounts={"openai": Decimal(1)}))

    kept_key = config.remove_account(settings, "openai")
    removed = config.remove_account_and_key(settings, "openai")

    assert kept_key.accounts == [] and kept_key.budgets.accounts == {}
    assert removed.accounts == []
    assert memory_keyring.secrets == {}


def test_remove_without_keyring() -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    settings = Settings(accounts=[AccountConfig("openai", "openai")])

    assert config.remove_account_and_key(settings, "openai").accounts == []


def test_remove_with_locked_keyring_keeps_account(memory_keyring: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def locked(service: str, username: str) -> None:
        raise keyring.errors.KeyringLocked("collection is locked")

    monkeypatch.setattr(memory_keyring, "delete_password", locked)
    settings = Settings(accounts=[AccountConfig("openai", "openai")])

    with pytest.raises(secrets.KeyringProblem) as info:
        config.remove_account_and_key(settings, "openai")

    assert info.value.state is secrets.KeyringState.LOCKED
    assert settings.accounts == [AccountConfig("openai", "openai")]


# --- arbitrary input -----------------------------------------------------------------------------

_KEYS = st.sampled_from(["version", "period", "day_boundary", "refresh_minutes", "budgets",
                         "prices", "accounts", "id", "provider", "name", "enabled", "base_url",
                         "team_id", "paths", "api_key", "monthly_total", "notify_at", "vendor",
                         "model", "input", "from", "xai", "openai", "grok", "7d"])
_SCALARS = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=12)
            | st.floats(allow_nan=True, allow_infinity=True) | st.dates()
            | st.sampled_from(["utc", "local", "30d", "openai", "grok", "https://x.example",
                               "2025-02-30", "0.1", ".inf", "-1"]))
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(_KEYS | st.text(max_size=6), inner, max_size=5),
    max_leaves=25,
)


@hyp_settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(_KEYS | st.text(max_size=8), _VALUES, max_size=8))
def test_loader_never_crashes(data: dict[Any, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")

        settings = config.load(path)
        config.save(settings)
        again = config.load(path)

    assert isinstance(settings, Settings)
    assert [a.id for a in again.accounts] == [a.id for a in settings.accounts]
    assert again.extra == settings.extra


@hyp_settings(max_examples=200, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_loader_survives_any_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")

        settings = config.load(path)

    assert isinstance(settings, Settings)
