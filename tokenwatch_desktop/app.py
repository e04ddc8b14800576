"""`tokenwatch-desktop`: the tray app's entry point.

    tokenwatch-desktop [--demo] [--config PATH] [--debug] [--self-check]

A second start brings the running app's window forward and exits 0. The asyncio loop runs
inside Qt (qasync); the app's life is one coroutine, `DesktopApp.run()`, so Quit can cancel
fetches and close the HTTP client before the loop stops.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenwatch_desktop import __version__

if TYPE_CHECKING:
    from tokenwatch_desktop.ui.desktop import DesktopApp, Hook

log = logging.getLogger(__name__)

#: `file.py:function` of an async function run once after the first refresh, with the app as
#: its argument. For the screenshot script and the benchmark; not a user setting.
HOOK_ENV = "TOKENWATCH_DESKTOP_HOOK"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tokenwatch-desktop",
        description="Show what you spend on LLM APIs in the system tray.")
    parser.add_argument("--demo", action="store_true",
                        help="show built-in sample accounts; nothing is sent anywhere")
    parser.add_argument("--config", metavar="PATH", help="the config file to read and write")
    parser.add_argument("--debug", action="store_true",
                        help="log every HTTP call and scheduling decision to standard error")
    parser.add_argument("--self-check", action="store_true",
                        help="check icons, keyring, price data and config directory, then exit")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def setup_logging(debug: bool) -> None:
    """Install the shared logging: a private (0600) rotating file whose handlers mask keys.

    The file is `tokenwatch-desktop.log` in the platform log directory; with --debug (or
    TOKENWATCH_DEBUG) standard error gets DEBUG output too.
    """
    from tokenwatch_desktop.core import logs

    logs.setup(debug, to_stderr=True, log_file=True, name="tokenwatch-desktop")
    for noisy in ("qasync", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def load_hook(spec: str) -> Hook:
    """Load `file.py:function` from HOOK_ENV; errors name the variable and the expected form."""
    file_name, _, function = spec.rpartition(":")
    if not file_name or not function:
        raise SystemExit(f"{HOOK_ENV}={spec!r}: expected /path/to/file.py:function")
    module_spec = importlib.util.spec_from_file_location("tokenwatch_desktop_hook", file_name)
    if module_spec is None or module_spec.loader is None:
        raise SystemExit(f"{HOOK_ENV}: cannot load {file_name}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    hook: Hook = getattr(module, function)
    return hook


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.self_check:
        from tokenwatch_desktop.ui import selfcheck

        return int(selfcheck.run())
    setup_logging(args.debug)
    from tokenwatch_desktop.ui.qt import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("TokenWatch")
    app.setQuitOnLastWindowClosed(False)  # a tray app lives on with every window closed
    from tokenwatch_desktop.ui.single_instance import SingleInstance, runtime_dir

    instance = SingleInstance(runtime_dir())
    if not instance.acquire(listen=False):
        if instance.notify_running():
            log.info("another instance is running; asked it to show its window")
            return 0
        if not _take_over(instance):
            return _unanswered(instance)
    try:
        return run(app, args, instance)
    finally:
        instance.release()


def _take_over(instance: Any) -> bool:
    """Take the lock from a holder that is not TokenWatch (a crashed instance's reused pid)."""
    if instance.holder_is_tokenwatch() is not False:
        return False
    log.warning("%s names process %s, which is not TokenWatch Desktop: the instance that "
                "wrote it is gone; taking the lock over", instance.lock_path,
                instance.holder_pid())
    return bool(instance.take_over())


def _unanswered(instance: Any) -> int:
    """Explain why nothing starts: a live instance holds the lock and ignores the hand-over."""
    pid = instance.holder_pid()
    who = f"process {pid}" if pid else "another process"
    kill = f"`kill {pid}`" if sys.platform != "win32" else "Task Manager"
    text = (f"TokenWatch Desktop is already running ({who}) but did not respond within a few "
            f"seconds, so its window cannot be shown. If it is stuck, end it ({kill}) and start "
            f"TokenWatch Desktop again. If no TokenWatch Desktop is running, delete "
            f"{instance.lock_path} and start it again.")
    log.error("%s", text)
    print(f"tokenwatch-desktop: {text}", file=sys.stderr)
    from tokenwatch_desktop.ui.qt import QGuiApplication, QMessageBox

    if QGuiApplication.platformName() not in ("offscreen", "minimal"):
        QMessageBox.warning(None, "TokenWatch", text)
    return 1


def run(app: Any, args: argparse.Namespace, instance: Any) -> int:
    """Run the app on a qasync loop until Quit; close the loop without leftovers."""
    import qasync

    from tokenwatch_desktop.ui.desktop import DesktopApp
    from tokenwatch_desktop.ui.errors import install_excepthook

    install_excepthook()
    hook_spec = os.environ.get(HOOK_ENV, "")
    hook = load_hook(hook_spec) if hook_spec else None
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    config_path = Path(args.config).expanduser() if args.config else None
    desktop = DesktopApp(None, demo=args.demo, config_path=config_path, hook=hook,
                         watch_sleep=True)
    desktop.shown.connect(instance.listen)  # QtNetwork loads after the tray icon shows
    instance.activation_requested.connect(desktop.open_window)
    wakeup = _quit_on_signals(desktop)
    try:
        loop.run_until_complete(desktop.run())
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        _close_wakeup(wakeup)
        loop.close()
        asyncio.set_event_loop(None)
    return 0


def _quit_on_signals(desktop: DesktopApp) -> tuple[socket.socket, socket.socket, Any] | None:
    """Let SIGTERM and SIGINT quit cleanly while Qt's C++ loop runs.

    Python runs signal handlers only between bytecodes, and the Qt loop may sleep in C++ for a
    long time. `signal.set_wakeup_fd` writes a byte to a socket that a QSocketNotifier watches,
    which wakes the loop so the handler runs at once.
    """
    if sys.platform == "win32":
        return None
    from tokenwatch_desktop.ui.qt import QSocketNotifier

    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(lambda *_: _drain(reader))

    def handle(signum: int, frame: object) -> None:
        log.info("received signal %d; quitting", signum)
        desktop.request_quit()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return reader, writer, notifier


def _drain(reader: socket.socket) -> None:
    try:
        while reader.recv(512):
            pass
    except (BlockingIOError, OSError):
        pass


def _close_wakeup(wakeup: tuple[socket.socket, socket.socket, Any] | None) -> None:
    if wakeup is None:
        return
    reader, writer, notifier = wakeup
    signal.set_wakeup_fd(-1)
    notifier.setEnabled(False)
    reader.close()
    writer.close()


if __name__ == "__main__":
    sys.exit(main())
