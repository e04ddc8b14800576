"""Showing errors to people: one function with a level, and a last-resort exception hook.

`show_error` opens a non-blocking message box (the event loop keeps running, so refreshes
and Quit still work). `install_excepthook` catches what nothing else caught, logs it, and
shows a dialog whose details can be copied into a bug report.
"""

from __future__ import annotations

import enum
import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from tokenwatch_desktop.ui.qt import QApplication, QMessageBox, Qt, QWidget
from tokenwatch_desktop.ui.tr import tr

log = logging.getLogger(__name__)


class Level(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


_ICONS = {Level.INFO: QMessageBox.Icon.Information, Level.WARNING: QMessageBox.Icon.Warning,
          Level.ERROR: QMessageBox.Icon.Critical}
_LOG_LEVELS = {Level.INFO: logging.INFO, Level.WARNING: logging.WARNING,
               Level.ERROR: logging.ERROR}


def show_error(parent: QWidget | None, level: Level, title: str, text: str,
               details: str = "") -> QMessageBox:
    """Log and show a message; `text` says what failed and what to do next."""
    log.log(_LOG_LEVELS[level], "%s: %s", title, text)
    box = QMessageBox(parent)
    box.setIcon(_ICONS[level])
    box.setWindowTitle(title)
    box.setText(text)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.open()
    return box


ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], None]


def install_excepthook() -> ExceptHook:
    """Route uncaught exceptions to the log and a details dialog; return the previous hook."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException,
             trace: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, value, trace)
            return
        details = "".join(traceback.format_exception(kind, value, trace))
        log.error("uncaught exception:\n%s", details)
        if QApplication.instance() is None:
            previous(kind, value, trace)
            return
        show_error(None, Level.ERROR, tr("TokenWatch: unexpected error"),
                   tr("Something went wrong inside TokenWatch ({error}). The app keeps running. "
                      "Copy the details below into a bug report.").format(error=kind.__name__),
                   details)

    sys.excepthook = hook
    return previous
