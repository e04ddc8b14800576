"""Fixtures for the local-log tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.local.local_logs import Runner
from tokenwatch_desktop.local import account


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Runner]:
    """Fetch local accounts with a data directory of the test's own."""
    yield Runner(tmp_path / "data")
    account.LEDGERS.close_all()


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set the process time zone (`TZ` + `time.tzset`) for one test; restored afterwards."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()
