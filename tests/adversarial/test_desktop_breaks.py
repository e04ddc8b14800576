"""Adversarial checks of the desktop app: each test shows a defect found by a tester."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import keyring
import pytest
import qasync

from tests.conftest import NOW, MemoryKeyring
from tests.ui import conftest as ui_fixtures
from tests.ui.helpers import ManualClock, fake_accounts, run_until
from tokenwatch_desktop import app as desktop_main
from tokenwatch_desktop.core import config, logs
from tokenwatch_desktop.core.records import Status
from tokenwatch_desktop.core.settings import Settings
from tokenwatch_desktop.providers.fake import FakeWorld
from tokenwatch_desktop.providers.fake.transport import DEMO_ROOT, fake_transport
from tokenwatch_desktop.providers.http import Http, make_client
from tokenwatch_desktop.ui.desktop import Clients, DesktopApp, load_settings
from tokenwatch_desktop.ui.qt import QApplication, QDialog, QLabel
from tokenwatch_desktop.ui.settings import SettingsDialog

# The UI tests' fixtures, shared by name; qt_warnings_fail (autouse) replaces pytest-qt's
# own message capture, as it does under tests/ui.
clock = ui_fixtures.clock
keys = ui_fixtures.keys
qloop = ui_fixtures.qloop
qt_warnings_fail = ui_fixtures.qt_warnings_fail
settings = ui_fixtures.settings
pytestmark = pytest.mark.no_qt_log

SERVICE = "tokenwatch"
BAD_KEY = "sk-admin-REJECTED-key-000001"
GOOD_KEY = "sk-admin-ACCEPTED-key-000002"


class Running:
    """A DesktopApp whose `run()` coroutine runs on the test's qasync loop."""

    def __init__(self, app: DesktopApp, loop: qasync.QEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.task = loop.create_task(app.run())

    def wait(self, predicate: Callable[[], bool]) -> None:
        run_until(self.loop, lambda: predicate() or self.task.done())
        assert predicate(), "the app stopped before the condition held"

    def call(self, function: Callable[[], Any]) -> Any:
        """Call `function` inside the running loop, as a Qt signal in the real app would."""

        async def inside() -> Any:
            return function()

        return self.loop.run_until_complete(inside())

    def run(self, body: Callable[[], Awaitable[None]]) -> None:
        """Run test steps as one coroutine, so the refreshes they start run inside the loop.

        After the loop stops, qasync's `run_until_complete` processes pending Qt events once
        more with no running asyncio loop, and a refresh task stepped there fails. Steps that
        start a refresh and wait for it therefore share one loop run.
        """
        self.loop.run_until_complete(asyncio.wait_for(body(), 30))

    def settle(self) -> None:
        self.wait(lambda: self.app.controller.last_refresh is not None
                  and not self.app.controller.refreshing)


@pytest.fixture
def start(qloop: qasync.QEventLoop, fake_world: FakeWorld, clock: ManualClock
          ) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def make(settings: Settings, *, tray: bool = True) -> Running:
        clients = Clients(transport=fake_transport(fake_world), world=fake_world)
        desktop = DesktopApp(settings, clients=clients, clock=clock,
                             tray_available=lambda: tray, history=lambda: None)
        running = Running(desktop, qloop)
        started.append(running)
        return running

    yield make
    for running in started:
        if not running.task.done():
            running.app.request_quit()
            qloop.run_until_complete(running.task)
        if running.app.settings_dialog is not None:
            running.app.settings_dialog.deleteLater()
        if running.app._window is not None:
            running.app._window.deleteLater()
        running.app.deleteLater()
    QApplication.processEvents()


def test_new_key_from_settings_is_fetched(start: Callable[..., Running], settings: Settings,
                                          fake_world: FakeWorld, clock: ManualClock,
                                          memory_keyring: MemoryKeyring) -> None:
    """A key rejected with 401, replaced in Settings: the account must be fetched again.

    The controller refetches only accounts whose `AccountConfig` changed, and a new key is not
    part of it. The 401 was a sent request, so the provider floor (15 min for OpenAI) also
    blocks "Refresh now": the rejected-key error stays up to the next scheduled refresh.
    """
    fake_world.set_scenario("openai", "auth", key=BAD_KEY)
    memory_keyring.set_password(SERVICE, "openai", BAD_KEY)
    memory_keyring.set_password(SERVICE, "anthropic", "sk-ant-admin01-test-0001")
    running = start(settings)
    running.settle()
    assert running.app.controller.reports["openai"].error.kind == "auth"
    messages: list[str] = []
    running.app.controller.message.connect(messages.append)

    async def body() -> None:
        running.app.open_settings()
        dialog = running.app.settings_dialog
        assert isinstance(dialog, SettingsDialog)
        await until(lambda: not dialog.busy)
        dialog.row("openai").key_edit.setText(GOOD_KEY)
        dialog.save_button.click()
        await until(lambda: dialog.result() == QDialog.DialogCode.Accepted and not dialog.busy)
        assert memory_keyring.get_password(SERVICE, "openai") == GOOD_KEY
        running.app.refresh_now()
        await until(lambda: not running.app.controller.refreshing)

    running.run(body)

    assert running.app.controller.reports["openai"].status is Status.OK, messages


def test_settings_saved_mid_refresh_fetched(start: Callable[..., Running],
                                                   settings: Settings, fake_world: FakeWorld,
                                                   keys: MemoryKeyring) -> None:
    """A base URL fixed while a refresh runs: the fixed account must be fetched again.

    `apply_settings` drops the old figures and marks the account due. The running refresh,
    started with the old base URL, then merges its result and marks the account fetched. So
    the fix waits for the next interval, and the provider floor blocks "Refresh now".
    """
    wrong = [replace(a, base_url=f"{DEMO_ROOT}/wrong/v1") if a.id == "openai" else a
             for a in settings.accounts]
    fake_world.latency = 0.3
    running = start(replace(settings, accounts=wrong))
    running.wait(lambda: running.app.controller.refreshing)

    async def body() -> None:
        running.app.apply_settings(replace(settings, accounts=fake_accounts()))
        await until(lambda: running.app.controller.last_refresh is not None
                    and not running.app.controller.refreshing)
        running.app.refresh_now()
        await until(lambda: not running.app.controller.refreshing)

    running.run(body)

    report = running.app.controller.reports["openai"]
    assert report.status is Status.OK, report.error


def test_malformed_config_warning_shown(start: Callable[..., Running],
                                        isolated_home: Path) -> None:
    """A config that is not YAML is set aside with a warning, but the app never shows it.

    With no readable account the app starts on demo data, so a user whose accounts vanished
    sees sample figures and no message that the file was unreadable or where its copy went.
    """
    path = isolated_home / ".config" / "TokenWatch" / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("version: 1\naccounts:\n  - id: openai\n    provider: openai\n   bad: [\n")
    loaded = load_settings(None)
    assert loaded.warnings, "the config module did not warn"
    backups = list(path.parent.glob("config.yaml.bad-*"))
    assert len(backups) == 1

    running = start(loaded)
    running.wait(lambda: running.app._window is not None and running.app._window.isVisible())
    window = running.app.window()
    shown = [label.text() for label in window.findChildren(QLabel) if label.isVisible()]
    shown.append(window.statusBar().currentMessage())

    assert any(backups[0].name in text for text in shown), shown


def test_desktop_log_masks_keys(isolated_home: Path) -> None:
    """The desktop log file has neither the secret filter nor mode 0600 of `core.logs`.

    `app.setup_logging` installs a plain RotatingFileHandler, so a key registered with
    `logs.register_secret` reaches desktop.log in clear text when any log line contains it.
    """
    key = "sk-admin-LOGCANARY-0123456789"
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        desktop_main.setup_logging(False)
        logs.register_secret(key)
        logging.getLogger("tokenwatch_desktop.test").warning("provider said: bad key %s", key)
        for handler in root.handlers:
            handler.flush()
        log_file = next((isolated_home / ".local" / "state").rglob("tokenwatch-desktop.log"))
        text = log_file.read_text()
        mode = stat.S_IMODE(log_file.stat().st_mode)
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
        logs.SECRETS.clear()

    assert "provider said: bad key" in text
    assert key not in text
    assert mode == 0o600, oct(mode)


class BlockingDeleteKeyring(MemoryKeyring):
    """A keyring whose deletes wait for `release`, like a Secret Service showing a prompt."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.deleting = threading.Event()
        self.deleted = threading.Event()

    def delete_password(self, service: str, username: str) -> None:
        self.deleting.set()
        self.release.wait(30)
        try:
            super().delete_password(service, username)
        finally:
            self.deleted.set()


def run_dialog(loop: qasync.QEventLoop, body: Callable[[], Any]) -> None:
    """Run an async test body on the loop with a bound; the dialog needs a running loop."""
    loop.run_until_complete(asyncio.wait_for(body(), 30))


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.005)


@pytest.fixture
def http(qloop: qasync.QEventLoop) -> Iterator[Http]:
    client = make_client()
    yield Http(client)
    qloop.run_until_complete(client.aclose())


def test_zero_width_key_rejected_on_save(qloop: qasync.QEventLoop, qtbot: Any, http: Http,
                                         isolated_home: Path,
                                         memory_keyring: MemoryKeyring) -> None:
    """A key pasted with a zero-width space is stored, and can never be sent.

    `clean_key` strips whitespace and rejects spaces and C0 controls, but U+200B and U+FEFF
    are neither. The stored key then fails every refresh with "characters that cannot be
    sent in a header; store it again", and storing it again from the same paste repeats it.
    """
    path = isolated_home / ".config" / "TokenWatch" / "config.yaml"
    one_account = Settings(path=path, accounts=fake_accounts()[:1])

    async def body() -> None:
        dialog = SettingsDialog(one_account, path, http, clock=lambda: NOW)
        qtbot.addWidget(dialog)
        dialog.show()
        await until(lambda: not dialog.busy)
        dialog.row("openai").key_edit.setText("sk-admin-ZEROWIDTH-0123456789\u200b")
        dialog.save_button.click()
        await until(lambda: not dialog.busy)
        dialog.close()

    run_dialog(qloop, body)
    stored = memory_keyring.get_password(SERVICE, "openai")
    assert stored is None or stored.isascii(), repr(stored)


def test_cancel_during_save_orphans_account(
        qloop: qasync.QEventLoop, qtbot: Any, http: Http, isolated_home: Path) -> None:
    """Cancel while Save deletes a removed account's key: key gone, account still configured.

    Save deletes the keys of removed accounts first and writes the config last. Cancel (or
    Quit) during the keyring call cancels the save task, but the keyring thread goes on and
    deletes the key, so the config keeps an account whose key is gone.
    """
    path = isolated_home / ".config" / "TokenWatch" / "config.yaml"
    config.save(Settings(path=path, accounts=fake_accounts()[:1]), path)
    backend = BlockingDeleteKeyring()
    backend.set_password(SERVICE, "openai", "sk-admin-KEEPME-0123456789")
    keyring.set_keyring(backend)

    async def body() -> None:
        dialog = SettingsDialog(config.load(path), path, http, clock=lambda: NOW)
        qtbot.addWidget(dialog)
        dialog.show()
        await until(lambda: not dialog.busy)
        dialog.row("openai").remove_button.click()
        dialog.save_button.click()
        await until(backend.deleting.is_set)
        dialog.reject()
        backend.release.set()
        for _ in range(1000):  # a fixed app may never delete; the bound only ends the wait
            if backend.deleted.is_set():
                break
            await asyncio.sleep(0.005)
        await until(lambda: not dialog.busy)

    try:
        run_dialog(qloop, body)
    finally:
        backend.release.set()
    configured = [a.id for a in config.load(path).accounts]
    key = backend.get_password(SERVICE, "openai")
    assert key is not None or "openai" not in configured, (configured, key)


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from PySide6.QtCore import QCoreApplication, QLockFile
    app = QCoreApplication([])
    lock = QLockFile(sys.argv[1])
    lock.setStaleLockTime(0)
    if not lock.tryLock(1000):
        sys.exit(3)
    print("locked", flush=True)
    time.sleep(120)
""")

QUIT_HOOK = textwrap.dedent("""
    import os, pathlib

    async def hook(app):
        pathlib.Path(os.environ["TW_MARKER"]).write_text("started")
        app.request_quit()
""")


@pytest.mark.slow
def test_unanswered_lock_start_visible(tmp_path: Path) -> None:
    """A lock held by a live process that accepts no connection makes every start exit 0 unseen.

    QLockFile calls a lock stale only when its pid is gone or runs another program. After a
    crash, a pid reused by any other `python3.x` process passes that check, and a hung
    instance does too. `main` then logs "it did not answer" and returns 0: no window, no
    tray, no message, on every start until the user finds and deletes desktop.lock.
    """
    runtime = tmp_path / "runtime"
    (runtime / "TokenWatch").mkdir(parents=True, mode=0o700)
    runtime.chmod(0o700)
    hook = tmp_path / "hook.py"
    hook.write_text(QUIT_HOOK)
    marker = tmp_path / "started"
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), QT_QPA_PLATFORM="offscreen",
               TOKENWATCH_DESKTOP_HOOK=f"{hook}:hook", TW_MARKER=str(marker))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK,
                               str(runtime / "TokenWatch" / "desktop.lock")],
                              env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        started = subprocess.run([sys.executable, "-m", "tokenwatch_desktop.app", "--demo"],
                                 env=env, capture_output=True, text=True, timeout=120)
    finally:
        holder.kill()
        holder.communicate()

    told = started.returncode != 0 and "desktop.lock" in started.stderr
    assert marker.exists() or told, (started.returncode, started.stderr)
