"""The running desktop app: wires the controller to the tray, the window and the dialogs.

`DesktopApp.run()` is the app's whole life as one coroutine on the qasync loop. It shows the
tray icon (or, with no system tray, the window), starts refreshing, waits for Quit, then shuts
down in order: cancel the refresh and wait for it briefly, close the HTTP clients, return.
Quit never calls `QApplication.quit()` directly, because stopping the Qt loop under a pending
coroutine leaves tasks and sockets behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenwatch_desktop.core import paths
from tokenwatch_desktop.ui.qt import QApplication, QObject, QSystemTrayIcon, QWidget, Signal
from tokenwatch_desktop.ui.tr import tr
from tokenwatch_desktop.ui.tray import PERIOD_NAMES, Tray

if TYPE_CHECKING:
    import httpx

    from tokenwatch_desktop.core.settings import Settings
    from tokenwatch_desktop.providers.fake import FakeWorld
    from tokenwatch_desktop.providers.http import Http, RetryPolicy
    from tokenwatch_desktop.ui.controller import Controller
    from tokenwatch_desktop.ui.schedule import Clock
    from tokenwatch_desktop.ui.window import MainWindow

log = logging.getLogger(__name__)

#: The desktop app waits at most this many seconds for a `Retry-After`; a longer wait ends the
#: account with `rate_limited`, and the scheduler tries again at the account's next due time.
DESKTOP_MAX_WAIT = 10.0
DESKTOP_ATTEMPTS = 3

Hook = Callable[["DesktopApp"], Awaitable[None]]


class Clients:
    """The shared `httpx.AsyncClient`s, created on first use: one real, one for demo data.

    httpx and the TLS context load here, on the first refresh, not before the tray shows.
    """

    def __init__(self, retry: RetryPolicy | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 world: FakeWorld | None = None) -> None:
        self.retry = retry
        self.transport = transport
        self.world = world
        self._real: Http | None = None
        self._demo: Http | None = None

    def http(self, demo: bool) -> Http:
        from tokenwatch_desktop.providers.http import Http, RetryPolicy, make_client

        if self.retry is None:
            self.retry = RetryPolicy(attempts=DESKTOP_ATTEMPTS, max_wait=DESKTOP_MAX_WAIT)
        if demo:
            if self._demo is None:
                from tokenwatch_desktop.providers.fake import FakeWorld
                from tokenwatch_desktop.providers.fake.transport import fake_transport

                self.world = self.world or FakeWorld()
                self._demo = Http(make_client(fake_transport(self.world)), self.retry)
            return self._demo
        if self._real is None:
            self._real = Http(make_client(self.transport), self.retry)
        return self._real

    async def aclose(self) -> None:
        for http in (self._real, self._demo):
            if http is not None:
                await http.client.aclose()
        self._real = self._demo = None


def load_settings(path: Path | None) -> Settings:
    """Read the config; a file that cannot be read gives defaults and a warning to show.

    With no config file at all (first run, demo mode), the YAML reader is not even imported.
    """
    from tokenwatch_desktop.core.settings import Settings

    if not _any_config(path):
        return Settings(path=path or paths.config_path())
    from tokenwatch_desktop.core import config

    try:
        return config.load(path)
    except Exception as exc:
        log.error("reading the config failed (%s); using defaults", exc)
        return Settings(path=path, warnings=[f"The config could not be read ({exc}); check "
                                             "its permissions. Defaults are used."])


def config_warnings(settings: Settings) -> list[str]:
    """Turn the loader's warnings into sentences to show, adding an unreadable file's reason."""
    lines = [_sentence(w) for w in settings.warnings]
    problem = settings.file_problem
    if problem and not any(problem in w for w in settings.warnings):
        lines.append(_sentence(tr("the config file {path} could not be read because {reason}; "
                                  "defaults are used").format(path=settings.path, reason=problem)))
    return lines


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _any_config(path: Path | None) -> bool:
    """Return whether a config file exists that `config.load` would read or migrate."""
    if path is not None or os.environ.get(paths.CONFIG_ENV):
        return True
    return paths.config_path().exists() or paths.legacy_config().exists()


def open_history() -> object | None:
    """Open the figure store for stale fallbacks; None (memory only) when it cannot be opened."""
    from tokenwatch_desktop.core.history import SqliteHistory

    try:
        return SqliteHistory(paths.data_dir())
    except Exception:
        log.exception("opening the history store failed; figures are kept in memory only")
        return None


class DesktopApp(QObject):
    """The tray, the window and the controller of one running app.

    `tray_available` decides between the tray icon and a plain window (tests inject it).
    `hook`, when given, runs once after the first refresh: screenshots and benchmarks use it.
    `watch_sleep` listens for the system's resume signal (the real app; tests drive it).
    """

    shown = Signal()

    def __init__(self, settings: Settings | None, *, demo: bool = False,
                 config_path: Path | None = None, clients: Clients | None = None,
                 clock: Clock | None = None,
                 tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
                 history: Callable[[], object | None] = open_history,
                 hook: Hook | None = None, watch_sleep: bool = False,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._config_arg = config_path
        self.config_path = config_path or (settings.path if settings else None) \
            or paths.config_path()
        self.clients = clients or Clients()
        self.first_run_demo = False
        self._demo = demo
        self._clock = clock
        self._history = history
        self._controller: Controller | None = None
        self._history_opened = False
        self._history_instance: object | None = None
        self.tray_available = tray_available
        self.tray: Tray | None = None
        self._window: MainWindow | None = None
        self.settings_dialog: QWidget | None = None
        self.hook = hook
        self.watch_sleep = watch_sleep
        self.sleep_watcher: QObject | None = None
        self._hook_task: asyncio.Task[None] | None = None
        self.timings: dict[str, float] = {}
        #: What the config loader warned about, shown in the window until settings are saved.
        self.config_warnings: list[str] = []
        self._quit: asyncio.Event | None = None

    @property
    def controller(self) -> Controller:
        """The refresh controller; it exists once `run()` has shown the tray or the window."""
        if self._controller is None:
            self._build_controller()
        assert self._controller is not None
        return self._controller

    @property
    def demo(self) -> bool:
        return self._controller.demo if self._controller is not None else self._demo

    def _build_controller(self) -> None:
        """Load the settings and the engine: deferred until the tray icon is up."""
        from tokenwatch_desktop.ui.controller import Controller, engine_factory

        if self.settings is None:
            self.settings = load_settings(self._config_arg)
        self.config_warnings = config_warnings(self.settings)
        factory = engine_factory(self.clients.http, self._history_store, paths.data_dir)
        self._controller = Controller(self.settings, factory, demo=self._demo,
                                      clock=self._clock, parent=self)
        self._connect_controller()

    # -- start and stop -----------------------------------------------------------------

    async def run(self) -> None:
        """Show the app, refresh until Quit, then shut down cleanly."""
        self._quit = asyncio.Event()
        self._show_first()
        await asyncio.sleep(0)  # let the icon paint before the heavier imports below
        self.shown.emit()
        first_run = self._first_run()
        if first_run:
            # No account yet: demo data at once, in a window that offers the settings.
            self.first_run_demo = True
            self.controller.demo = True
        self.controller.start()
        if self.watch_sleep:
            self._watch_sleep()
        if first_run:
            self.open_window()
        self._announce_config_warnings()
        await self._quit.wait()
        await self.shutdown()

    def _announce_config_warnings(self) -> None:
        """Log the loader's warnings and show them once: a tray notification, or the window."""
        if not self.config_warnings:
            return
        for warning in self.config_warnings:
            log.warning("config: %s", warning)
        if self._window is not None:
            self._window.set_notice(self.config_warnings)
        if self.tray is not None:
            more = len(self.config_warnings) - 1
            text = self.config_warnings[0] + (tr(" (and {count} more in the window)").format(
                count=more) if more else "")
            self.tray.notify(tr("TokenWatch: a problem with the config file"), text)
        else:
            self.open_window()

    def _first_run(self) -> bool:
        if self.controller.demo:
            return False
        from tokenwatch_desktop.engine import effective_accounts

        return not effective_accounts(self.controller.settings, os.environ)

    def _show_first(self) -> None:
        if self.tray_available():
            self.tray = Tray(self)
            self._connect_tray(self.tray)
            self.tray.set_period(self._initial_period())
            self.tray.show()
            self.timings["tray_shown"] = time.time()
            log.info("tray icon shown")
        else:
            log.warning("no system tray is available; showing the window instead")
            self.open_window()
            self.timings["window_shown"] = time.time()

    def _history_store(self) -> object | None:
        """Return the history store, opened once and shared by every engine the controller builds."""
        if not self._history_opened:
            self._history_opened = True
            self._history_instance = self._history()
        return self._history_instance

    def _initial_period(self) -> str:
        period = self.settings.period if self.settings is not None else "30d"
        return period if period in PERIOD_NAMES else "30d"

    def _watch_sleep(self) -> None:
        from tokenwatch_desktop.ui.resume import SleepWatcher

        self.sleep_watcher = SleepWatcher(self)
        self.sleep_watcher.resumed.connect(self.controller.check_resume)
        self.sleep_watcher.start()

    def request_quit(self) -> None:
        log.info("quit requested")
        if self._quit is not None:
            self._quit.set()

    async def shutdown(self) -> None:
        """Cancel the refresh, close the windows and the HTTP clients; the loop can then stop."""
        if self._hook_task is not None and not self._hook_task.done():
            self._hook_task.cancel()
            await asyncio.gather(self._hook_task, return_exceptions=True)
        if self._controller is not None:
            await self._controller.shutdown()
        if self.settings_dialog is not None:
            self.settings_dialog.close()
        if self._window is not None:
            self._window.keep_running_on_close = True
            self._window.hide()
        if self.tray is not None:
            self.tray.hide()
        await self.clients.aclose()
        close = getattr(self._history_instance, "close", None)
        if callable(close):
            close()
        log.info("shut down cleanly")

    # -- wiring -------------------------------------------------------------------------

    def _connect_controller(self) -> None:
        c = self.controller
        c.report_changed.connect(self._on_report)
        c.state_changed.connect(self._on_state)
        c.accounts_changed.connect(self._on_accounts)
        c.failure_changed.connect(self._on_failure)
        c.notify.connect(self.notify)
        c.message.connect(self._on_message)

    def _connect_tray(self, tray: Tray) -> None:
        tray.open_requested.connect(self.open_window)
        tray.refresh_requested.connect(self.refresh_now)
        tray.period_requested.connect(self.set_period)
        tray.settings_requested.connect(self.open_settings)
        tray.quit_requested.connect(self.request_quit)

    def window(self) -> MainWindow:
        """Return the summary window, built on first use (not needed before the tray shows)."""
        if self._window is None:
            from tokenwatch_desktop.ui.window import MainWindow

            window = MainWindow(demo=self.demo)
            window.set_tray_mode(self.tray is not None)
            window.period_requested.connect(self.set_period)
            window.refresh_requested.connect(self.refresh_now)
            window.settings_requested.connect(self.open_settings)
            window.quit_requested.connect(self.request_quit)
            window.demo_requested.connect(self.show_demo)
            window.visibility_changed.connect(self.controller.set_window_open)
            window.set_period(self.controller.period)
            window.set_accounts(self.controller.accounts, not self.controller.accounts)
            window.show_report(self.controller.report)
            window.set_failure(self.controller.failure)
            window.set_state(self.controller.state.value, self.controller.last_refresh)
            window.set_notice(self.config_warnings)
            self._window = window
            self._apply_app_icon(window)
        return self._window

    def _apply_app_icon(self, window: QWidget) -> None:
        try:
            from tokenwatch_desktop.ui import icons

            window.setWindowIcon(icons.app_icon())
        except Exception:
            log.exception("loading the application icon failed")

    def refresh_now(self) -> None:
        self.controller.refresh_now()

    def open_window(self) -> None:
        self.controller.check_resume()
        self.window().bring_forward()

    def set_period(self, label: str) -> None:
        self.controller.set_period(label)
        if self.tray is not None:
            self.tray.set_period(label)
        if self._window is not None:
            self._window.set_period(label)

    def show_demo(self) -> None:
        """First run: show the built-in demo accounts until real ones are configured."""
        self.first_run_demo = True
        self.controller.apply_settings(self.controller.settings, demo=True)
        if self._window is not None:
            self._window.set_demo(True)

    def open_settings(self) -> None:
        """Open the settings dialog (non-modal); a second request brings it forward."""
        if self.settings_dialog is not None and self.settings_dialog.isVisible():
            self.settings_dialog.raise_()
            self.settings_dialog.activateWindow()
            return
        try:
            from tokenwatch_desktop.ui.settings import SettingsDialog
        except ImportError:
            log.exception("the settings dialog could not be loaded")
            self._show_message(tr("The settings dialog could not be loaded. Edit {path} or run "
                                  "`tokenwatch setup`.").format(path=self.config_path))
            return
        parent = self._window if self._window is not None and self._window.isVisible() else None
        settings = self._user_settings()
        dialog = SettingsDialog(settings, self.config_path, self.clients.http(False), parent)
        dialog.settings_changed.connect(self.apply_settings)
        dialog.keys_stored.connect(self.keys_stored)
        self.settings_dialog = dialog
        dialog.open()

    def _user_settings(self) -> Settings:
        """Return the settings as the user saved them: in demo mode, the file's, not the demo accounts."""
        from tokenwatch_desktop.core.settings import Settings

        if not self.demo:
            return self.controller.settings
        from tokenwatch_desktop.core import config

        try:
            return config.load(self.config_path)
        except Exception:
            log.exception("reading %s for the settings dialog failed", self.config_path)
            return Settings(path=self.config_path)

    def apply_settings(self, settings: Any) -> None:
        """New settings from the dialog. Real accounts end a first-run demo."""
        from tokenwatch_desktop.core.settings import Settings

        if not isinstance(settings, Settings):
            log.warning("ignored settings of type %s", type(settings).__name__)
            return
        if self.config_warnings:  # the dialog wrote a new file: the old warnings are past
            self.config_warnings = []
            if self._window is not None:
                self._window.set_notice([])
        demo = self.demo
        if self.first_run_demo and settings.accounts:
            self.first_run_demo = False
            demo = False
            if self._window is not None:
                self._window.set_demo(False)
        self.controller.apply_settings(settings, demo=demo)

    def keys_stored(self, account_ids: Any) -> None:
        """New keys were saved in the dialog: those accounts are fetched at once."""
        if isinstance(account_ids, list):
            self.controller.keys_changed(str(i) for i in account_ids)

    # -- views follow the controller ----------------------------------------------------

    def _on_report(self, report: object) -> None:
        if self._window is not None:
            self._window.show_report(self.controller.report)
        self._update_tray()
        if self.controller.report is not None and self.controller.last_refresh is not None:
            self._run_hook()

    def _on_state(self, state: str) -> None:
        if self._window is not None:
            self._window.set_state(state, self.controller.last_refresh)
        self._update_tray()

    def _on_accounts(self, accounts: object) -> None:
        if self._window is not None:
            self._window.set_accounts(self.controller.accounts, not self.controller.accounts)
            self._window.set_demo(self.demo)

    def _on_failure(self, text: str) -> None:
        if self._window is not None:
            self._window.set_failure(text)
        if text and self._window is None and self.tray is None:
            self.open_window()

    def _on_message(self, text: str) -> None:
        self._show_message(text)

    def _show_message(self, text: str) -> None:
        if self._window is not None and self._window.isVisible():
            self._window.statusBar().showMessage(text, 15000)
        elif self.tray is not None:
            self.tray.notify(tr("TokenWatch"), text)

    def notify(self, title: str, message: str) -> None:
        """Show a one-off desktop notification, or a status-bar message when there is no tray."""
        log.info("notification: %s", title)
        if self.tray is not None:
            self.tray.notify(title, message)
        else:
            self.window().statusBar().showMessage(f"{title}: {message}", 30000)

    def _update_tray(self) -> None:
        from tokenwatch_desktop.ui.summary import compact_amount, tooltip

        if self.tray is None:
            return
        c = self.controller
        report = c.report
        text = compact_amount(report.totals.cost) if report is not None else None
        self.tray.set_icon(text, c.state.value)
        try:
            tip = tooltip(report, c.settings, c.demo, c.clock.now())
        except Exception:
            log.exception("building the tray tooltip failed")
            tip = tr("TokenWatch")
        self.tray.set_tooltip(tip)

    def _run_hook(self) -> None:
        if self.hook is None or self._hook_task is not None:
            return
        self._hook_task = asyncio.ensure_future(self._call_hook(self.hook))

    async def _call_hook(self, hook: Hook) -> None:
        try:
            await hook(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the automation hook failed")
            self.request_quit()


def application() -> QApplication:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    return app
