"""UI fixtures: Qt warnings fail tests, a qasync loop per test, an injected clock, app builders."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync

from tests.ui.helpers import ManualClock, fake_accounts
from tokenwatch_desktop.core.settings import Settings
from tokenwatch_desktop.ui.qt import QtMsgType, qInstallMessageHandler

#: Known-harmless messages of the offscreen and xcb platform plugins. The offscreen plugin has
#: no window manager, so it cannot raise or resize windows on request, and it has no tray.
QT_ALLOWED = (
    re.compile(r"^This plugin does not support propagateSizeHints\(\)"),
    re.compile(r"^This plugin does not support raise\(\)"),
    re.compile(r"^This plugin does not support setParent\(\)"),
    re.compile(r"^QObject::connect: No such signal "
               r"QPlatformNativeInterface::systemTrayWindowChanged\(QScreen\*\)"),
)
FAILING = (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Turn off pytest-qt's own message capture under tests/ui: `qt_warnings_fail` replaces it."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.no_qt_log)


@pytest.fixture(autouse=True)
def qt_warnings_fail() -> Iterator[list[str]]:
    """Fail the test on any Qt warning or critical message outside `QT_ALLOWED`."""
    unexpected: list[str] = []

    def handler(kind: QtMsgType, context: Any, message: str) -> None:
        if kind in FAILING and not any(p.search(message) for p in QT_ALLOWED):
            unexpected.append(f"{kind.name}: {message}")

    previous = qInstallMessageHandler(handler)
    try:
        yield unexpected
    finally:
        qInstallMessageHandler(previous)
    assert not unexpected, "unexpected Qt messages:\n" + "\n".join(unexpected)


@pytest.fixture
def qloop(qapp: Any) -> Iterator[qasync.QEventLoop]:
    """A qasync loop on pytest-qt's QApplication, closed without leftovers after the test."""
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def keys(memory_keyring: Any) -> Any:
    """Keys for the `fake_accounts` in the in-memory keyring."""
    memory_keyring.set_password("tokenwatch", "openai", "sk-admin-test-openai-0001")
    memory_keyring.set_password("tokenwatch", "anthropic", "sk-ant-admin01-test-0001")
    return memory_keyring


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(path=tmp_path / "config.yaml", accounts=fake_accounts())

