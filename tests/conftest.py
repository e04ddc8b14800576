"""Shared fixtures: an isolated home for every test, an in-memory keyring, the provider fakes."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import hypothesis
import keyring
import keyring.backend
import keyring.errors
import pytest

from tokenwatch_desktop.providers.fake import FakeWorld
from tokenwatch_desktop.providers.fake.server import LoopbackServer

# No per-example deadline: the machines that run this suite are shared and their timing is noisy.
# In CI the examples are derived from each test's name, so a run is repeatable.
hypothesis.settings.register_profile("default-twm", deadline=None)
hypothesis.settings.register_profile("ci-twm", deadline=None, derandomize=True)
hypothesis.settings.load_profile("ci-twm" if os.environ.get("CI") else "default-twm")

#: "Today" for tests that pin the clock: the fakes and the engine agree on it.
TODAY = date(2026, 12, 4)
NOW = datetime(2026, 12, 4, 19, 0, tzinfo=UTC)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring in a dict. Priority below zero: active only through `keyring.set_keyring`."""

    priority = -10  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.secrets[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError(username) from None


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and every XDG directory into the test's own folder; drop TokenWatch env vars."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                      ("XDG_CACHE_HOME", ".cache"), ("XDG_STATE_HOME", ".local/state")):
        monkeypatch.setenv(name, str(home / sub))
    for name in list(os.environ):
        if name.startswith("TOKENWATCH_") or name in ("CLAUDE_CONFIG_DIR", "CODEX_HOME"):
            monkeypatch.delenv(name)
    return home


@pytest.fixture(autouse=True)
def memory_keyring(request: pytest.FixtureRequest) -> Iterator[MemoryKeyring | None]:
    """Every test gets an empty in-memory keyring, except those marked `desktop` (real one)."""
    if request.node.get_closest_marker("desktop"):
        yield None
        return
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def fake_world() -> FakeWorld:
    return FakeWorld(today=TODAY)


@pytest.fixture
def loopback(fake_world: FakeWorld) -> Iterator[LoopbackServer]:
    with LoopbackServer(fake_world) as server:
        yield server
