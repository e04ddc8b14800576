"""On a real X11 display with a tray host and a Secret Service (run with `-m desktop`).

CI runs these under Xvfb with trayer as the tray host and gnome-keyring in a private D-Bus
session; see tests/run.sh. They prove what offscreen tests cannot: the icon docks in a real
tray and keys round-trip through the real keyring.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import keyring
import pytest
import qasync

from tests.ui.helpers import run_until
from tokenwatch_desktop.core import secrets
from tokenwatch_desktop.core.settings import Settings
from tokenwatch_desktop.ui.desktop import DesktopApp
from tokenwatch_desktop.ui.qt import QGuiApplication, QSystemTrayIcon
from tokenwatch_desktop.ui.tray import Tray

pytestmark = pytest.mark.desktop


def test_xcb_tray_docks(qtbot: Any) -> None:
    assert QGuiApplication.platformName() == "xcb"
    assert QSystemTrayIcon.isSystemTrayAvailable()
    tray = Tray()
    try:
        tray.show()
        qtbot.waitUntil(lambda: tray.icon.geometry().width() > 0, timeout=10000)
        assert tray.icon.geometry().height() > 0
    finally:
        tray.hide()
        tray.deleteLater()


def test_demo_app_tray_on_x11(qloop: qasync.QEventLoop, qtbot: Any) -> None:
    app = DesktopApp(Settings(), demo=True, history=lambda: None)
    task = qloop.create_task(app.run())
    try:
        run_until(qloop, lambda: app.controller.last_refresh is not None)
        assert app.tray is not None
        run_until(qloop, lambda: app.tray is not None and app.tray.icon.geometry().width() > 0)
        assert app.tray.tooltip().startswith("Demo · billed")
        assert not QGuiApplication.primaryScreen().grabWindow(0).isNull()
    finally:
        app.request_quit()
        qloop.run_until_complete(task)
        app.deleteLater()


def test_secret_service_round_trip(qloop: qasync.QEventLoop) -> None:
    backend = secrets.backend_name()
    assert "SecretService" in backend, backend
    account = f"desktop-test-{uuid.uuid4().hex[:8]}"
    lookup: Callable[[], Any] = lambda: secrets.lookup_key(account)  # noqa: E731
    try:
        masked = secrets.store_key(account, "  sk-desktop-test-key-0123456789  \n")
        assert masked == "sk-…6789"
        found = qloop.run_until_complete(lookup())
        assert found.source == "keyring"
        assert found.key == "sk-desktop-test-key-0123456789"
        assert keyring.get_password(secrets.SERVICE, account) == found.key
    finally:
        assert secrets.delete_key(account) is True
    gone = qloop.run_until_complete(lookup())
    assert gone.key is None
    assert gone.state is secrets.KeyringState.NOT_STORED


def test_logind_signal_reaches_watcher(qtbot: Any) -> None:
    """The watcher's D-Bus match works: logind's PrepareForSleep(false) arrives as `resumed`.

    The session bus stands in for the system bus: the test owns the logind name there and
    sends the signal logind sends after a wake-up.
    """
    from tokenwatch_desktop.ui.qt import dbus
    from tokenwatch_desktop.ui.resume import LOGIND, SleepWatcher

    qtdbus = dbus()
    bus = qtdbus.QDBusConnection.sessionBus()
    service, path, interface = LOGIND
    assert bus.registerService(service)
    watcher = SleepWatcher()
    try:
        assert watcher.start(bus) is True
        message = qtdbus.QDBusMessage.createSignal(path, interface, "PrepareForSleep")
        message.setArguments([False])
        with qtbot.waitSignal(watcher.resumed, timeout=10000):
            assert bus.send(message)
    finally:
        bus.unregisterService(service)
        watcher.deleteLater()
