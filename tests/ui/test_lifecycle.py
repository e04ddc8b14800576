"""The running app: tray and window, first run, settings changes, Quit, keyring trouble."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import keyring
import keyring.backend
import pytest
import qasync

from tests.ui.helpers import ManualClock, fake_accounts, run_until
from tokenwatch_desktop.core import secrets
from tokenwatch_desktop.core.settings import Settings
from tokenwatch_desktop.engine import Engine
from tokenwatch_desktop.providers.fake import FakeWorld
from tokenwatch_desktop.providers.fake.transport import fake_transport
from tokenwatch_desktop.ui.desktop import Clients, DesktopApp, config_warnings
from tokenwatch_desktop.ui.qt import QApplication, QSystemTrayIcon, QTimer
from tokenwatch_desktop.ui.summary import TOOLTIP_LIMIT, utf16_length
from tokenwatch_desktop.ui.tray import Tray


class Running:
    """A DesktopApp whose `run()` task is going on the test's qasync loop."""

    def __init__(self, app: DesktopApp, loop: qasync.QEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.task = loop.create_task(app.run())

    def wait(self, predicate: Callable[[], bool]) -> None:
        run_until(self.loop, lambda: predicate() or self.task.done())
        if self.task.done() and not predicate():
            self.task.result()  # surface the app's exception
            raise AssertionError("the app stopped before the condition held")

    def wait_for_figures(self) -> None:
        self.wait(lambda: self.app.controller.last_refresh is not None
                  and not self.app.controller.refreshing)

    def quit(self) -> None:
        self.app.request_quit()
        self.loop.run_until_complete(self.task)


@pytest.fixture
def start(qloop: qasync.QEventLoop, fake_world: FakeWorld, clock: ManualClock
          ) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def make(settings: Settings, *, demo: bool = False, tray: bool = True,
             world: FakeWorld | None = None) -> Running:
        chosen = world or fake_world
        clients = Clients(transport=fake_transport(chosen), world=chosen)
        app = DesktopApp(settings, demo=demo, clients=clients, clock=clock,
                         tray_available=lambda: tray, history=lambda: None)
        running = Running(app, qloop)
        started.append(running)
        return running

    yield make
    for running in started:
        if not running.task.done():
            running.quit()
        if running.app._window is not None:
            running.app._window.deleteLater()
        running.app.deleteLater()
    QApplication.processEvents()


def test_tray_shows_total_and_tooltip(start: Callable[..., Running], settings: Settings,
                                      keys: Any) -> None:
    running = start(settings)
    running.wait_for_figures()
    tray = running.app.tray
    assert tray is not None
    assert tray.icon.isVisible()
    text = tray.tooltip()
    assert text.startswith("Billed 30d: $")
    assert "OpenAI test org" in text
    assert utf16_length(text) <= TOOLTIP_LIMIT
    actions = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    assert actions == ["Open TokenWatch", "Refresh now", "Period", "Settings…", "Quit"]
    assert tray.icon.contextMenu() is tray.menu


def test_tray_click_opens_window(start: Callable[..., Running], settings: Settings,
                                 keys: Any) -> None:
    running = start(settings)
    running.wait_for_figures()
    assert running.app._window is None  # built lazily, after the tray shows
    assert running.app.tray is not None
    running.app.tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    window = running.app.window()
    assert window.isVisible()
    assert window.tabs.tabText(0) == "All"


def test_closing_window_keeps_running(start: Callable[..., Running], settings: Settings,
                                      keys: Any) -> None:
    running = start(settings)
    running.wait_for_figures()
    running.app.open_window()
    window = running.app.window()
    assert window.close() is False or not window.isVisible()
    assert not window.isVisible()
    running.loop.run_until_complete(asyncio.sleep(0.05))
    assert not running.task.done()
    assert running.app.controller.timer.isActive()
    running.quit()
    assert running.task.done()


def test_no_tray_shows_window_with_quit(start: Callable[..., Running], settings: Settings,
                                        keys: Any) -> None:
    running = start(settings, tray=False)
    running.wait_for_figures()
    window = running.app.window()
    assert running.app.tray is None
    assert window.isVisible()
    menu_actions = [action for top in window.menuBar().actions()
                    for action in top.menu().actions()]
    assert window.quit_action in menu_actions
    assert window.quit_button.isVisible()
    window.quit_button.click()
    running.loop.run_until_complete(running.task)
    assert running.app.clients._real is None  # closed and dropped


def test_no_tray_close_quits(start: Callable[..., Running], settings: Settings,
                             keys: Any) -> None:
    running = start(settings, tray=False)
    running.wait_for_figures()
    running.app.window().close()
    running.loop.run_until_complete(running.task)
    assert running.task.done()


def test_quit_during_slow_fetch(start: Callable[..., Running], settings: Settings, keys: Any,
                                caplog: pytest.LogCaptureFixture) -> None:
    slow = FakeWorld(latency=30.0)
    running = start(settings, world=slow)
    running.wait(lambda: len(slow.calls) >= 2 and running.app.controller.refreshing)
    http = running.app.clients.http(False)
    assert running.app.tray is not None
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        running.app.tray.quit_action.trigger()
        running.loop.run_until_complete(running.task)
    assert http.client.is_closed
    assert not running.app.controller.refreshing
    assert not [r for r in caplog.records if r.name == "asyncio"]
    assert not [t for t in asyncio.all_tasks(running.loop) if not t.done()]


def test_tabs_follow_settings(start: Callable[..., Running], settings: Settings,
                              keys: Any) -> None:
    running = start(settings)
    running.wait_for_figures()
    window = running.app.window()
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "All", "OpenAI test org", "Anthropic test org"]
    running.app.apply_settings(replace(settings, accounts=fake_accounts()[1:]))
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "All", "Anthropic test org"]
    renamed = fake_accounts({"openai": "Second org"})
    running.app.apply_settings(replace(settings, accounts=renamed))
    assert window.tabs.count() == 3
    assert window.tabs.tabText(1) == "Second org"
    running.wait_for_figures()
    assert window.account_tabs["openai"].title.text() == "Second org"


def test_first_run_starts_on_demo(start: Callable[..., Running], tmp_path: Any) -> None:
    running = start(Settings(path=tmp_path / "config.yaml"))
    # Wait on the figures, not the window: qasync's run_until_complete processes Qt events once
    # more after it returns, and a fetch stepped there finds no running loop.
    running.wait_for_figures()
    window = running.app.window()
    assert window.isVisible()
    assert window.setup_button.isVisible()
    assert window.setup_button.text() == "Set up accounts…"
    assert window.pages.currentWidget() is window.tabs
    assert window.demo_label.isVisible()
    assert window.tabs.count() == 6
    assert running.app.tray is not None
    assert running.app.tray.tooltip().startswith("Demo · billed 30d: $")


def test_demo_flag_labels_window(start: Callable[..., Running]) -> None:
    running = start(Settings(), demo=True)
    running.wait_for_figures()
    running.app.open_window()
    window = running.app.window()
    assert window.demo_label.isVisible()
    assert window.demo_label.text() == "Demo data"
    assert running.app.controller.report is not None
    assert running.app.controller.report.demo


def test_exception_in_refresh_visible(start: Callable[..., Running], settings: Settings,
                                      keys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: Engine, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("refresh exploded")

    monkeypatch.setattr(Engine, "refresh", broken)
    running = start(settings, tray=False)
    running.wait(lambda: bool(running.app.controller.failure)
                 and not running.app.controller.refreshing)
    window = running.app.window()
    assert window.banner.isVisible()
    assert "internal error" in window.banner.text()
    assert window.state_label.text() == "Some accounts failed"
    assert running.app.controller.timer.isActive()


def test_double_auth_notifies_tray_once(start: Callable[..., Running], settings: Settings,
                                        keys: Any, fake_world: FakeWorld, clock: ManualClock,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    fake_world.set_scenario("anthropic", "auth")
    running = start(settings)
    running.wait_for_figures()
    assert running.app.tray is not None
    monkeypatch.setattr(running.app.tray, "notify", lambda title, text: shown.append(title))
    for _ in range(3):
        done = running.app.controller.last_refresh
        clock.advance(16 * 60)
        running.app.controller.on_timer()
        running.wait(lambda d=done: running.app.controller.last_refresh is not d
                     and not running.app.controller.refreshing)
    assert shown == ["Anthropic test org: key rejected"]


def test_config_warnings_notified_once_and_shown(
        start: Callable[..., Running], settings: Settings, keys: Any, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(Tray, "notify", lambda self, title, text: shown.append((title, text)))
    warned = replace(settings, warnings=["unknown top-level key `colour` was kept",
                                         "a second thing"])
    running = start(warned)
    running.wait_for_figures()
    clock.advance(16 * 60)
    running.app.controller.on_timer()
    running.wait(lambda: not running.app.controller.refreshing)
    assert shown == [("TokenWatch: a problem with the config file",
                      "Unknown top-level key `colour` was kept. (and 1 more in the window)")]
    running.app.open_window()
    window = running.app.window()
    assert window.notice.isVisible()
    assert window.notice.text().splitlines() == ["Unknown top-level key `colour` was kept.",
                                                 "A second thing."]
    running.app.apply_settings(settings)  # what a save in the dialog does
    assert not window.notice.isVisible()


def test_unreadable_config_reason_shown(settings: Settings) -> None:
    problem = replace(settings, file_problem="it is not UTF-8 text")
    assert config_warnings(problem) == [
        f"The config file {settings.path} could not be read because it is not UTF-8 text; "
        "defaults are used."]


class LockedKeyring(keyring.backend.KeyringBackend):
    priority = -10  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")


class HangingKeyring(LockedKeyring):
    """A Secret Service that never answers until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.waiting = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.waiting.set()
        self.release.wait(60)
        return None


def test_locked_keyring_shows_state(start: Callable[..., Running], settings: Settings) -> None:
    keyring.set_keyring(LockedKeyring())
    running = start(settings, tray=False)
    running.wait_for_figures()
    tab = running.app.window().account_tabs["openai"]
    assert "locked" in tab.status.text()
    assert "unlock" in tab.status.text()
    assert tab.settings_button.isVisibleTo(tab)
    running.quit()


def test_hanging_keyring_keeps_gui_responsive(start: Callable[..., Running],
                                              settings: Settings,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    hanging = HangingKeyring()
    keyring.set_keyring(hanging)
    monkeypatch.setattr(secrets, "lookup_key",
                        functools.partial(secrets.lookup_key, timeout=1.0))
    ticks = {"count": 0}
    ticker = QTimer()
    ticker.setInterval(10)
    ticker.timeout.connect(lambda: ticks.__setitem__("count", ticks["count"] + 1))
    ticker.start()
    try:
        running = start(settings, tray=False)
        running.wait(lambda: hanging.waiting.is_set())
        before = ticks["count"]
        running.wait(lambda: ticks["count"] >= before + 5)
        assert not hanging.release.is_set()  # the keyring is still stuck
        running.wait_for_figures()  # the lookup timed out; the account shows it
        tab = running.app.window().account_tabs["openai"]
        assert "did not answer" in tab.status.text()
        running.app.controller.refresh_now()
        running.wait(lambda: running.app.controller.refreshing)
        running.quit()  # returns while the keyring call is still blocked
        assert not hanging.release.is_set()
    finally:
        ticker.stop()
        hanging.release.set()


def test_wake_signal_refreshes_after_sleep(start: Callable[..., Running], settings: Settings,
                                           keys: Any, clock: ManualClock,
                                           fake_world: FakeWorld) -> None:
    running = start(settings)
    running.app.watch_sleep = True
    running.wait_for_figures()
    watcher = running.app.sleep_watcher
    assert watcher is not None
    calls = len(fake_world.calls)
    watcher.on_prepare_for_sleep(True)  # going to sleep: nothing happens
    clock.sleep(3 * 3600)
    done = running.app.controller.last_refresh
    watcher.on_prepare_for_sleep(False)
    running.wait(lambda: running.app.controller.last_refresh is not done
                 and not running.app.controller.refreshing)
    assert len(fake_world.calls) > calls


def test_wake_signal_without_sleep_is_ignored(start: Callable[..., Running],
                                              settings: Settings, keys: Any,
                                              fake_world: FakeWorld) -> None:
    running = start(settings)
    running.app.watch_sleep = True
    running.wait_for_figures()
    assert running.app.sleep_watcher is not None
    calls = len(fake_world.calls)
    running.app.sleep_watcher.on_prepare_for_sleep(False)
    running.loop.run_until_complete(asyncio.sleep(0.05))
    assert not running.app.controller.refreshing
    assert len(fake_world.calls) == calls


def test_history_keeps_figures_across_runs(qloop: qasync.QEventLoop, settings: Settings,
                                           keys: Any, fake_world: FakeWorld,
                                           clock: ManualClock) -> None:
    from tokenwatch_desktop.ui.desktop import open_history

    def run_app() -> DesktopApp:
        clients = Clients(transport=fake_transport(fake_world), world=fake_world)
        app = DesktopApp(settings, clients=clients, clock=clock, tray_available=lambda: True,
                         history=open_history)
        running = Running(app, qloop)
        running.wait_for_figures()
        running.quit()
        app.deleteLater()
        return app

    first = run_app()
    good = first.controller.reports["openai"]
    assert good.stale is False
    fake_world.set_scenario("openai", "forbidden")
    second = run_app()
    kept = second.controller.reports["openai"]
    assert kept.stale is True
    assert kept.cost == good.cost
    assert kept.error is not None and kept.error.kind == "permission"
    assert second._history_instance is not None
    assert getattr(second._history_instance, "_db", None) is None  # closed on quit
