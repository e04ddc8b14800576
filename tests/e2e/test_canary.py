"""A canary key run through every command against failing fakes must appear nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import accounts_for

pytestmark = pytest.mark.slow

CANARY = "sk-admin-CANARY-5e1f0c2b9a7d4e63b8f1"
ANTHROPIC_CANARY = "sk-ant-admin01-CANARY-77d2c9e4a1b03f58"
PROVIDERS = ("openai", "anthropic", "grok", "openrouter", "deepseek")
KEYRING = {"PYTHON_KEYRING_BACKEND": "tests.e2e.keyring_backends.ProcessKeyring"}


def keys_env() -> dict[str, str]:
    env = {f"TOKENWATCH_KEY_{p.upper()}": CANARY for p in PROVIDERS}
    env["TOKENWATCH_KEY_ANTHROPIC"] = ANTHROPIC_CANARY
    return {**env, **KEYRING}


def files_containing(root: Path, needles: tuple[str, ...]) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(needle.encode() in data for needle in needles):
                found.append(path)
    return found


def test_canary_key_never_leaks(run_cli, loopback, write_config, tmp_path, isolated_home):
    world = loopback.world
    config = write_config(accounts_for(loopback, *PROVIDERS))
    env = keys_env()
    outputs: list[str] = []

    def run(args, **kwargs):
        result = run_cli(args, **kwargs)
        outputs.extend([result.stdout, result.stderr])
        return result

    world.echo_key = True
    for args in (["all", "--json"], ["all", "--debug"], ["openai", "--by", "project"],
                 ["export", "--format", "csv"], ["status"], ["status", "--json"]):
        run([*args, "--config", str(config)], env=env)
    world.echo_key = False
    for scenario in ("auth", "server_error", "malformed", "rate_limit"):
        for provider in ("openai", "anthropic"):
            world.set_scenario(provider, scenario, retry_after=120)
        run(["all", "--json", "--debug", "--config", str(config)], env=env)
    run(["setup", "openai", "--key-stdin", "--config", str(config)], env=KEYRING,
        stdin=CANARY + "\n")
    run(["setup", "openai", "--key-stdin", "--config", str(config)], env=KEYRING,
        stdin=CANARY + " tail\n")

    needles = (CANARY, ANTHROPIC_CANARY, CANARY[12:30], ANTHROPIC_CANARY[14:32])
    assert not [text for text in outputs if any(needle in text for needle in needles)]
    assert files_containing(isolated_home, needles) == []
    assert files_containing(tmp_path, needles) == []
    assert world.counters["openai:requests"] > 0
