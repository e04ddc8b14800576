"""Logging for the command line and the desktop app: a private rotating file, optional stderr.

Every handler that `setup` installs carries a `SecretFilter`, which replaces each registered
key with its masked form in the final message, the arguments and any traceback text. The
key lookup registers every key it returns, so a key that reaches an error message (an HTTP
library echoing a header, say) is masked before any handler writes it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokenwatch_desktop.core import paths

PACKAGE = "tokenwatch_desktop"
DEBUG_ENV = "TOKENWATCH_DEBUG"
MAX_BYTES = 1_000_000
BACKUP_COUNT = 3
MIN_SECRET_LENGTH = 8
QUIET_LOGGERS = ("httpx", "httpcore")
FILE_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
STDERR_FORMAT = "tokenwatch %(levelname)s %(name)s: %(message)s"


class SecretRegistry:
    """The keys to mask in log output. Thread-safe: keys arrive from keyring threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def add(self, secret: str | None) -> None:
        value = (secret or "").strip()
        if len(value) < MIN_SECRET_LENGTH:
            return  # masking a very short string would garble ordinary words in the log
        with self._lock:
            if value not in self._secrets:
                # Longest first, so a key that contains another registered key is masked whole.
                self._secrets = tuple(sorted((*self._secrets, value), key=len, reverse=True))

    def clear(self) -> None:
        with self._lock:
            self._secrets = ()

    def scrub(self, text: str) -> str:
        """Replace every registered secret in `text` with its masked form."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, masked(secret))
        return text


def masked(secret: str) -> str:
    """Show a secret as `[key …abcd]`: enough to tell two keys apart, not to use one."""
    return f"[key …{secret[-4:]}]"


#: The process-wide registry. Logging is process-wide too, so one registry serves every handler.
SECRETS = SecretRegistry()


def register_secret(secret: str | None) -> None:
    """Mask this secret in every log record from now on (short or empty values are ignored)."""
    SECRETS.add(secret)


class SecretFilter(logging.Filter):
    """Masks registered secrets in a record's message, arguments, traceback and stack text."""

    def __init__(self, registry: SecretRegistry = SECRETS) -> None:
        super().__init__()
        self.registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        scrub = self.registry.scrub
        record.msg = scrub(_message(record))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not lose the record
        return f"{record.msg!s} (arguments: {record.args!r})"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose files are created with mode 0600."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.chmod(self.baseFilename, 0o600)  # an older file may have been created wider
        except OSError:
            pass  # a file system without modes
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def debug_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Return whether TOKENWATCH_DEBUG asks for debug output (1, true, yes or on)."""
    env = os.environ if environ is None else environ
    return env.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def setup(debug: bool, to_stderr: bool, log_file: bool, *, name: str = "tokenwatch",
          environ: Mapping[str, str] | None = None) -> Path | None:
    """Install the handlers on the root logger and return the log file path, if any.

    Debug comes from `debug` or TOKENWATCH_DEBUG. The stderr handler is installed only with
    debug and `to_stderr`. `name` names the file (`tokenwatch.log`), so the command line and
    the desktop app do not rotate one file under each other. Calling it again replaces the
    handlers it installed before.
    """
    debug = debug or debug_requested(environ)
    reset()
    level = logging.DEBUG if debug else logging.INFO
    logging.getLogger(PACKAGE).setLevel(level)
    for quiet in QUIET_LOGGERS:
        logging.getLogger(quiet).setLevel(logging.WARNING)
    path = _add_file_handler(name, level) if log_file else None
    if debug and to_stderr:
        _install(logging.StreamHandler(sys.stderr), STDERR_FORMAT, logging.DEBUG)
    return path


def _add_file_handler(name: str, level: int) -> Path | None:
    folder = paths.log_dir()
    path = folder / f"{name}.log"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        handler = PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT,
                                             encoding="utf-8")
    except OSError as exc:
        print(f"tokenwatch: warning: cannot write the log file {path}: {exc.strerror or exc}; "
              "logging to a file is off", file=sys.stderr)
        return None
    _install(handler, FILE_FORMAT, level)
    return path


def _install(handler: logging.Handler, fmt: str, level: int) -> None:
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(SecretFilter())
    handler._tokenwatch = True  # type: ignore[attr-defined]  # marks it for `reset`
    root = logging.getLogger()
    root.addHandler(handler)


def protect(handler: logging.Handler) -> None:
    """Add the secret filter to a handler installed elsewhere (a UI log view, say)."""
    handler.addFilter(SecretFilter())


def reset() -> None:
    """Remove and close the handlers that `setup` installed, and undo its level change."""
    logging.getLogger(PACKAGE).setLevel(logging.NOTSET)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_tokenwatch", False):
            root.removeHandler(handler)
            handler.close()
