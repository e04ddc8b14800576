"""Run the installed `tokenwatch` command in a subprocess against the loopback fake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tokenwatch_desktop.providers.fake.server import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]


def tokenwatch_command() -> list[str]:
    """The console script installed beside this interpreter (the one `pip install` made)."""
    script = Path(sys.executable).with_name("tokenwatch")
    if not script.exists():
        pytest.fail(f"the tokenwatch console script is not installed at {script}; "
                    "run `pip install -e .` into this environment")
    return [str(script)]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


Runner = Callable[..., Result]


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[list[dict[str, Any]]], Path]:
    def write(accounts: list[dict[str, Any]], **top: Any) -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({"version": 1, **top, "accounts": accounts}))
        return path

    return write


@pytest.fixture
def run_cli(tmp_path: Path) -> Runner:
    """Run `tokenwatch ARGS` with the test's HOME and XDG dirs, from a directory of its own."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()

    def run(args: Sequence[str], env: dict[str, str] | None = None, stdin: str | None = None,
            timeout: float = 60) -> Result:
        environ = dict(os.environ)
        environ.update(env or {})
        environ["PYTHONPATH"] = str(ROOT)
        done = subprocess.run(
            [*tokenwatch_command(), *args], cwd=workdir, env=environ, input=stdin,
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run


def accounts_for(server: LoopbackServer, *providers: str) -> list[dict[str, Any]]:
    urls = server.base_urls()
    accounts = []
    for provider in providers:
        entry: dict[str, Any] = {"id": provider, "provider": provider, "base_url": urls[provider]}
        if provider == "grok":
            entry["team_id"] = "demo-team"
        accounts.append(entry)
    return accounts
