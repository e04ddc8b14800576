"""`tokenwatch-desktop --self-check` in a subprocess, as a user or the packaging script runs it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STAND_IN = "tests.ui.keyring_standin.StandInKeyring"
CHECKS = ["qt", "resources", "keyring", "prices", "config"]


def self_check(cwd: Path, backend: str, *args: str,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ if env is None else env)
    environ["PYTHON_KEYRING_BACKEND"] = backend
    environ["PYTHONPATH"] = str(REPO)  # for the stand-in backend; the package is installed
    environ.pop("DISPLAY", None)
    environ.pop("WAYLAND_DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "tokenwatch_desktop.ui.selfcheck", "--self-check", *args],
        cwd=cwd, env=environ, capture_output=True, text=True, timeout=120, check=False,
    )


def lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    found = {}
    for line in result.stdout.splitlines():
        status, _, rest = line.partition(" ")
        name, _, detail = rest.strip().partition(": ")
        found[name] = f"{status} {detail}"
    return found


def test_passes_with_working_keyring(tmp_path: Path) -> None:
    result = self_check(tmp_path, STAND_IN)
    found = lines(result)

    assert result.returncode == 0, result.stdout + result.stderr
    assert list(found) == CHECKS
    assert all(value.startswith("ok ") for value in found.values()), result.stdout
    assert found["keyring"] == f"ok {STAND_IN}"
    assert "8 icon files" in found["resources"]
    assert "8 tray icons drawn" in found["resources"]
    assert "openai/gpt-4o" in found["prices"]
    assert "$12.50" in found["prices"]


@pytest.mark.parametrize("backend", ["keyring.backends.fail.Keyring",
                                     "keyring.backends.null.Keyring"])
def test_fails_without_real_keyring(tmp_path: Path, backend: str) -> None:
    result = self_check(tmp_path, backend)
    found = lines(result)

    assert result.returncode == 1
    assert found["keyring"].startswith(f"FAIL {backend}: no usable keyring")
    assert "TOKENWATCH_KEY_<ACCOUNT>" in found["keyring"]
    assert [name for name, value in found.items() if value.startswith("FAIL")] == ["keyring"]


@pytest.mark.skipif(importlib.util.find_spec("keyrings") is None,
                    reason="keyrings.alt is not installed")
def test_fails_with_plaintext_keyring(tmp_path: Path) -> None:
    result = self_check(tmp_path, "keyrings.alt.file.PlaintextKeyring")

    assert result.returncode == 1
    assert lines(result)["keyring"].startswith("FAIL keyrings.alt.file.PlaintextKeyring")


def test_config_flag_used(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "my.yaml"

    found = lines(self_check(tmp_path, STAND_IN, "--config", str(target)))

    assert found["config"] == f"ok {target} (directory can be created in {tmp_path})"


def test_existing_config_dir(tmp_path: Path, isolated_home: Path) -> None:
    folder = isolated_home / ".config" / "TokenWatch"
    folder.mkdir(parents=True)

    found = lines(self_check(tmp_path, STAND_IN))

    assert found["config"] == f"ok {folder / 'config.yaml'} (directory writable)"


def test_fails_when_config_dir_impossible(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = dict(os.environ, TOKENWATCH_CONFIG=str(blocker / "TokenWatch" / "config.yaml"))

    result = self_check(tmp_path, STAND_IN, env=env)
    found = lines(result)

    assert result.returncode == 1
    assert found["config"].startswith("FAIL ")
    assert f"({blocker} is not a writable directory)" in found["config"]


def test_offscreen_chosen_without_display(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}

    result = self_check(tmp_path, STAND_IN, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "platform offscreen (no display found, so offscreen)" in lines(result)["qt"]


def test_installed_entry_point(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "tokenwatch-desktop"
    if not script.exists():
        pytest.skip("the tokenwatch-desktop script is not installed next to this Python")
    env = dict(os.environ, PYTHON_KEYRING_BACKEND=STAND_IN, PYTHONPATH=str(REPO))

    result = subprocess.run([str(script), "--self-check"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert list(lines(result)) == CHECKS
