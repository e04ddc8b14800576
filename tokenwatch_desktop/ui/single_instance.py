"""One running app per user: a QLockFile guards a QLocalServer that a second start talks to.

The first instance holds the lock and listens. A second start cannot take the lock, connects,
sends `show`, and exits 0; the first then brings its window forward. A stale lock left by a
crashed instance is detected by QLockFile (its process is gone) and taken over. QLockFile
cannot tell a crashed instance's pid reused by another program from a running instance. So
when the holder does not accept the hand-over, `holder_is_tokenwatch` reads its command line.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from socket import gethostname
from typing import Any

from tokenwatch_desktop.ui.qt import QLockFile, QObject, Signal, network

log = logging.getLogger(__name__)

SHOW = b"show\n"
CONNECT_TIMEOUT_MS = 2000
#: Words in the command line of a TokenWatch Desktop process: the console script, the module,
#: the packaged executable, the packaging entry script.
OWN_COMMANDS = ("tokenwatch-desktop", "tokenwatch_desktop", "entry_desktop")


def runtime_dir(environ: dict[str, str] | None = None) -> Path:
    """A per-user directory for the lock and the socket, created with mode 0700.

    `$XDG_RUNTIME_DIR/TokenWatch` when that is set, else `tokenwatch-<user>` in the temp dir.
    """
    env = dict(os.environ) if environ is None else environ
    base = env.get("XDG_RUNTIME_DIR", "")
    if base and Path(base).is_dir():
        folder = Path(base) / "TokenWatch"
    else:
        user = str(os.getuid()) if hasattr(os, "getuid") else env.get("USERNAME", "user")
        folder = Path(tempfile.gettempdir()) / f"tokenwatch-{user}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def server_name(folder: Path) -> str:
    """A socket path on Unix; a per-user pipe name on Windows, where names are not paths."""
    if sys.platform == "win32":
        return f"tokenwatch-desktop-{os.environ.get('USERNAME', 'user')}"
    return str(folder / "desktop.sock")


class SingleInstance(QObject):
    """Signals: activation_requested() when another start asked this one to show itself."""

    activation_requested = Signal()

    def __init__(self, folder: Path, name: str | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self.name = name or server_name(folder)
        self.lock = QLockFile(str(folder / "desktop.lock"))
        self.lock.setStaleLockTime(0)  # stale only when the owning process is gone
        self.server: object | None = None
        self._clients: list[Any] = []

    def acquire(self, listen: bool = True) -> bool:
        """Take the lock and, with `listen`, start the server; False when another instance has it."""
        if not self.lock.tryLock(100):
            return False
        if listen:
            self.listen()
        return True

    def listen(self) -> None:
        """Accept hand-over messages from later starts; call once the lock is held."""
        if self.server is not None:
            return
        qtnetwork = network()
        qtnetwork.QLocalServer.removeServer(self.name)  # a socket left by a crashed run
        server = qtnetwork.QLocalServer(self)
        server.setSocketOptions(qtnetwork.QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            log.warning("could not listen on %s (%s); a second start will not find this one",
                        self.name, server.errorString())
        server.newConnection.connect(self._on_connection)
        self.server = server

    def _on_connection(self) -> None:
        server = self.server
        assert server is not None
        while server.hasPendingConnections():  # type: ignore[attr-defined]
            socket = server.nextPendingConnection()  # type: ignore[attr-defined]
            self._clients.append(socket)
            socket.readyRead.connect(self._on_ready)

    def _on_ready(self) -> None:
        for socket in list(self._clients):
            if socket.bytesAvailable() <= 0:
                continue
            data = bytes(socket.readAll().data())
            if SHOW.strip() in data:
                log.info("another start asked this instance to show its window")
                self.activation_requested.emit()

    def notify_running(self) -> bool:
        """Ask the running instance to show its window; True when the message was delivered."""
        qtnetwork = network()
        socket = qtnetwork.QLocalSocket(self)
        try:
            socket.connectToServer(self.name)
            if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
                log.warning("another instance has the lock but did not accept a connection on %s",
                            self.name)
                return False
            socket.write(SHOW)
            delivered = bool(socket.waitForBytesWritten(CONNECT_TIMEOUT_MS))
            socket.disconnectFromServer()
            return delivered
        finally:
            socket.abort()
            socket.deleteLater()

    @property
    def lock_path(self) -> Path:
        return self.folder / "desktop.lock"

    def holder_pid(self) -> int | None:
        """Return the pid in the lock file when this machine wrote it, else None."""
        info = self.lock.getLockInfo()  # PySide6: (pid, hostname, appname), or a falsy value
        if not isinstance(info, tuple) or len(info) < 2 or not isinstance(info[0], int):
            return None
        pid, host = info[0], str(info[1])
        if pid <= 0 or (host and host != gethostname()):
            return None
        return pid

    def holder_is_tokenwatch(self) -> bool | None:
        """Check whether the lock's holder runs TokenWatch Desktop (None: unknown)."""
        pid = self.holder_pid()
        if pid is None or pid == os.getpid():
            return None
        command = process_command(pid)
        if command is None:
            return None
        return any(word in command for word in OWN_COMMANDS)

    def take_over(self) -> bool:
        """Remove a lock that another program holds by a reused pid, then take it.

        Call only when `holder_is_tokenwatch()` is False: the holder is not TokenWatch, so the
        lock belongs to a TokenWatch process that is gone.
        """
        try:
            self.lock_path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not remove %s: %s", self.lock_path, exc)
            return False
        return bool(self.lock.tryLock(100))

    def release(self) -> None:
        """Stop listening and unlock; open hand-over connections are dropped."""
        for socket in self._clients:
            socket.readyRead.disconnect(self._on_ready)
            socket.abort()
        self._clients.clear()
        if self.server is not None:
            self.server.close()  # type: ignore[attr-defined]
            self.server = None
        if self.lock.isLocked():
            self.lock.unlock()


def process_command(pid: int) -> str | None:
    """Read a process's command line; None when the platform hides it or the process is gone."""
    proc = Path(f"/proc/{pid}/cmdline")
    if sys.platform.startswith("linux"):
        try:
            return proc.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            return None
    if sys.platform == "win32":
        return None
    try:
        done = subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True,
                              text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None
