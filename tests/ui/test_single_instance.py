"""One instance per user: the lock, the hand-over to the running app, and a real second start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tokenwatch_desktop.ui.qt import QApplication
from tokenwatch_desktop.ui.single_instance import SingleInstance, runtime_dir


def test_runtime_dir_private(tmp_path: Path) -> None:
    base = tmp_path / "run"
    base.mkdir()
    folder = runtime_dir({"XDG_RUNTIME_DIR": str(base)})
    assert folder == base / "TokenWatch"
    assert folder.stat().st_mode & 0o777 == 0o700


def test_second_instance_hands_over(qtbot: Any, tmp_path: Path) -> None:
    name = str(tmp_path / "handover.sock")
    first = SingleInstance(tmp_path, name)
    second = SingleInstance(tmp_path, name)
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        with qtbot.waitSignal(first.activation_requested, timeout=5000):
            assert second.notify_running() is True
    finally:
        first.release()
        second.release()


def test_lock_free_after_release(qapp: Any, tmp_path: Path) -> None:
    name = str(tmp_path / "again.sock")
    first = SingleInstance(tmp_path, name)
    assert first.acquire() is True
    first.release()
    again = SingleInstance(tmp_path, name)
    try:
        assert again.acquire() is True
    finally:
        again.release()


def test_no_answer_reports_false(qapp: Any, tmp_path: Path) -> None:
    lonely = SingleInstance(tmp_path, str(tmp_path / "nobody.sock"))
    assert lonely.notify_running() is False
    QApplication.processEvents()


HOOK = textwrap.dedent('''
    import pathlib

    async def hook(app):
        pathlib.Path(app_marker()).write_text("refreshed")

    def app_marker():
        import os
        return os.environ["TW_TEST_MARKER"]
''')

SLOW_QUIT_HOOK = textwrap.dedent('''
    import asyncio

    async def hook(app):
        app.clients.world.latency = 30.0
        app.controller.refresh_now()
        while not app.controller.refreshing:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        app.request_quit()
''')


def app_env(tmp_path: Path) -> dict[str, str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = dict(os.environ)
    env.update(XDG_RUNTIME_DIR=str(runtime), QT_QPA_PLATFORM="offscreen",
               TW_TEST_MARKER=str(tmp_path / "refreshed"), PYTHONDEVMODE="1",
               TOKENWATCH_MIN_REFRESH_SECONDS="0")
    return env


def start_app(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tokenwatch_desktop.app", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, process: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the app exited early: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{path} did not appear: {process.communicate()}")
        time.sleep(0.05)


def assert_clean(stderr: str) -> None:
    for bad in ("Task was destroyed", "Event loop is closed", "ResourceWarning", "Traceback",
                "never awaited", "Event loop stopped before Future completed"):
        assert bad not in stderr, stderr


@pytest.mark.slow
def test_second_start_exits_zero(tmp_path: Path) -> None:
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    env = app_env(tmp_path)
    env["TOKENWATCH_DESKTOP_HOOK"] = f"{hook}:hook"
    first = start_app(env, "--demo", "--debug")
    try:
        wait_for(tmp_path / "refreshed", first)
        second = subprocess.run([sys.executable, "-m", "tokenwatch_desktop.app", "--demo"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr
        assert first.poll() is None
        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 0, stderr
    assert "another start asked this instance to show its window" in stderr
    assert "shut down cleanly" in stderr
    assert_clean(stderr)


@pytest.mark.slow
def test_quit_during_slow_fetch_process(tmp_path: Path) -> None:
    hook = tmp_path / "slow.py"
    hook.write_text(SLOW_QUIT_HOOK)
    env = app_env(tmp_path)
    env["TOKENWATCH_DESKTOP_HOOK"] = f"{hook}:hook"
    app = start_app(env, "--demo", "--debug")
    try:
        _, stderr = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()
    assert app.returncode == 0, stderr
    assert "quit requested" in stderr
    assert "cancelled" in stderr
    assert "shut down cleanly" in stderr
    assert_clean(stderr)


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


def hold_lock(lock: Path, *marker: str) -> subprocess.Popen[str]:
    """A live process that holds `lock` and answers nothing; `marker` joins its argv."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock), *marker],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def stop(holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.communicate()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/cmdline")
def test_foreign_holder_is_taken_over(qapp: Any, tmp_path: Path) -> None:
    holder = hold_lock(tmp_path / "desktop.lock")
    instance = SingleInstance(tmp_path, str(tmp_path / "foreign.sock"))
    try:
        assert instance.acquire(listen=False) is False
        assert instance.holder_pid() == holder.pid
        assert instance.holder_is_tokenwatch() is False
        assert instance.take_over() is True
        assert instance.lock.isLocked()
    finally:
        instance.release()
        stop(holder)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/cmdline")
@pytest.mark.slow
def test_hung_instance_start_says_what_to_do(tmp_path: Path) -> None:
    """A TokenWatch process that holds the lock and never answers: exit 1 with a message."""
    runtime = tmp_path / "runtime"
    (runtime / "TokenWatch").mkdir(parents=True, mode=0o700)
    runtime.chmod(0o700)
    lock = runtime / "TokenWatch" / "desktop.lock"
    holder = hold_lock(lock, "tokenwatch-desktop")
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), QT_QPA_PLATFORM="offscreen")
    try:
        started = subprocess.run([sys.executable, "-m", "tokenwatch_desktop.app", "--demo"],
                                 env=env, capture_output=True, text=True, timeout=120)
        assert lock.exists()  # a TokenWatch holder's lock is never removed
    finally:
        stop(holder)
    assert started.returncode == 1, started.stderr
    assert f"process {holder.pid}" in started.stderr
    assert str(lock) in started.stderr
    assert f"kill {holder.pid}" in started.stderr
