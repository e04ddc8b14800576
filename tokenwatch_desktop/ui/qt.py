"""The one Qt import seam: every module under `ui/` imports Qt names from here, never from PySide6.

Keeping the binding in one place lets the project switch bindings or versions by editing this
file, and lets a test check that no other module imports PySide6 directly.

Names resolve on first use (a module `__getattr__`): PySide6 builds each class's Python type
when it is first looked up, and building all of these up front cost about 25 ms and a few MB
before the tray icon could show. QtNetwork and QtDBus load only through `network()` and `dbus()`.
"""

from __future__ import annotations

import importlib
import logging
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

import PySide6
from PySide6 import QtCore, QtGui, QtWidgets

if TYPE_CHECKING:
    from PySide6.QtCore import (
        SLOT,
        QAbstractTableModel,
        QByteArray,
        QCoreApplication,
        QDate,
        QEvent,
        QLocale,
        QLockFile,
        QModelIndex,
        QObject,
        QPersistentModelIndex,
        QPoint,
        QPointF,
        QRect,
        QRectF,
        QSize,
        QSocketNotifier,
        QSortFilterProxyModel,
        Qt,
        QTimer,
        QtMsgType,
        Signal,
        Slot,
        qInstallMessageHandler,
    )
    from PySide6.QtGui import (
        QAction,
        QBrush,
        QCloseEvent,
        QColor,
        QCursor,
        QFont,
        QFontMetrics,
        QGuiApplication,
        QHideEvent,
        QIcon,
        QKeySequence,
        QMouseEvent,
        QPainter,
        QPainterPath,
        QPaintEvent,
        QPalette,
        QPen,
        QPixmap,
        QShowEvent,
    )
    from PySide6.QtWidgets import (
        QAbstractItemView,
        QApplication,
        QButtonGroup,
        QCheckBox,
        QComboBox,
        QDialog,
        QDialogButtonBox,
        QFormLayout,
        QFrame,
        QGridLayout,
        QGroupBox,
        QHBoxLayout,
        QHeaderView,
        QLabel,
        QLineEdit,
        QListWidget,
        QListWidgetItem,
        QMainWindow,
        QMenu,
        QMenuBar,
        QMessageBox,
        QPlainTextEdit,
        QPushButton,
        QScrollArea,
        QSizePolicy,
        QSpinBox,
        QSplitter,
        QStackedWidget,
        QStatusBar,
        QSystemTrayIcon,
        QTableView,
        QTabWidget,
        QToolButton,
        QToolTip,
        QVBoxLayout,
        QWidget,
    )

#: The PySide6 module of each exported name.
_HOMES: dict[str, str] = {
    "SLOT": "PySide6.QtCore",
    "QAbstractTableModel": "PySide6.QtCore",
    "QByteArray": "PySide6.QtCore",
    "QCoreApplication": "PySide6.QtCore",
    "QDate": "PySide6.QtCore",
    "QEvent": "PySide6.QtCore",
    "QLocale": "PySide6.QtCore",
    "QLockFile": "PySide6.QtCore",
    "QModelIndex": "PySide6.QtCore",
    "QObject": "PySide6.QtCore",
    "QPersistentModelIndex": "PySide6.QtCore",
    "QPoint": "PySide6.QtCore",
    "QPointF": "PySide6.QtCore",
    "QRect": "PySide6.QtCore",
    "QRectF": "PySide6.QtCore",
    "QSize": "PySide6.QtCore",
    "QSocketNotifier": "PySide6.QtCore",
    "QSortFilterProxyModel": "PySide6.QtCore",
    "Qt": "PySide6.QtCore",
    "QTimer": "PySide6.QtCore",
    "QtMsgType": "PySide6.QtCore",
    "Signal": "PySide6.QtCore",
    "Slot": "PySide6.QtCore",
    "qInstallMessageHandler": "PySide6.QtCore",
    "QAction": "PySide6.QtGui",
    "QBrush": "PySide6.QtGui",
    "QCloseEvent": "PySide6.QtGui",
    "QColor": "PySide6.QtGui",
    "QCursor": "PySide6.QtGui",
    "QFont": "PySide6.QtGui",
    "QFontMetrics": "PySide6.QtGui",
    "QGuiApplication": "PySide6.QtGui",
    "QHideEvent": "PySide6.QtGui",
    "QIcon": "PySide6.QtGui",
    "QKeySequence": "PySide6.QtGui",
    "QMouseEvent": "PySide6.QtGui",
    "QPainter": "PySide6.QtGui",
    "QPainterPath": "PySide6.QtGui",
    "QPaintEvent": "PySide6.QtGui",
    "QPalette": "PySide6.QtGui",
    "QPen": "PySide6.QtGui",
    "QPixmap": "PySide6.QtGui",
    "QShowEvent": "PySide6.QtGui",
    "QAbstractItemView": "PySide6.QtWidgets",
    "QApplication": "PySide6.QtWidgets",
    "QButtonGroup": "PySide6.QtWidgets",
    "QCheckBox": "PySide6.QtWidgets",
    "QComboBox": "PySide6.QtWidgets",
    "QDialog": "PySide6.QtWidgets",
    "QDialogButtonBox": "PySide6.QtWidgets",
    "QFormLayout": "PySide6.QtWidgets",
    "QFrame": "PySide6.QtWidgets",
    "QGridLayout": "PySide6.QtWidgets",
    "QGroupBox": "PySide6.QtWidgets",
    "QHBoxLayout": "PySide6.QtWidgets",
    "QHeaderView": "PySide6.QtWidgets",
    "QLabel": "PySide6.QtWidgets",
    "QLineEdit": "PySide6.QtWidgets",
    "QListWidget": "PySide6.QtWidgets",
    "QListWidgetItem": "PySide6.QtWidgets",
    "QMainWindow": "PySide6.QtWidgets",
    "QMenu": "PySide6.QtWidgets",
    "QMenuBar": "PySide6.QtWidgets",
    "QMessageBox": "PySide6.QtWidgets",
    "QPlainTextEdit": "PySide6.QtWidgets",
    "QPushButton": "PySide6.QtWidgets",
    "QScrollArea": "PySide6.QtWidgets",
    "QSizePolicy": "PySide6.QtWidgets",
    "QSpinBox": "PySide6.QtWidgets",
    "QSplitter": "PySide6.QtWidgets",
    "QStackedWidget": "PySide6.QtWidgets",
    "QStatusBar": "PySide6.QtWidgets",
    "QSystemTrayIcon": "PySide6.QtWidgets",
    "QTableView": "PySide6.QtWidgets",
    "QTabWidget": "PySide6.QtWidgets",
    "QToolButton": "PySide6.QtWidgets",
    "QToolTip": "PySide6.QtWidgets",
    "QVBoxLayout": "PySide6.QtWidgets",
    "QWidget": "PySide6.QtWidgets",
}

log = logging.getLogger(__name__)


def _scan_without_cache(module: ModuleType) -> bool:
    """Whether a module's source mentions PySide6, read without keeping the text."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as source:
            return "PySide6" in source.read()
    except OSError:
        return False


def _stop_source_caching() -> None:
    """WORKAROUND for PySide6's feature switch keeping module sources in memory (seen in 6.11).

    After PySide6 loads, every later import runs `inspect.getsource(module)` to see whether
    the module mentions "PySide6" (PYSIDE-2029). That leaves each module's whole source in
    `linecache`: about 5 MB for httpx and the providers. The replacement answers the same
    question without caching. If a PySide6 release changes the hook, nothing is replaced.
    """
    feature = sys.modules.get("PySide6.support.feature")
    if feature is None or not callable(getattr(feature, "_mod_uses_pyside", None)):
        log.debug("PySide6's feature module has no source scan to replace")
        return
    feature._mod_uses_pyside = _scan_without_cache  # type: ignore[attr-defined]


_stop_source_caching()

#: The binding's name and version, for `--self-check` and bug reports.
BINDING = "PySide6"
BINDING_VERSION: str = PySide6.__version__


def __getattr__(name: str) -> Any:
    """Look a Qt name up in its module on first use and keep it in this module's namespace."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def network() -> ModuleType:
    """Import QtNetwork on first use (QLocalServer, QLocalSocket)."""
    from PySide6 import QtNetwork

    return QtNetwork


def dbus() -> ModuleType:
    """Import QtDBus on first use (the login manager's sleep signal on Linux)."""
    from PySide6 import QtDBus

    return QtDBus


__all__ = [
    "BINDING", "BINDING_VERSION", "dbus", "network", "QAbstractItemView", "QAbstractTableModel",
    "QAction", "QApplication", "QBrush", "QButtonGroup", "QByteArray", "QCheckBox",
    "QCloseEvent", "QColor", "QComboBox", "QCoreApplication", "QCursor", "QDate", "QDialog",
    "QDialogButtonBox", "QEvent", "QFont", "QFontMetrics", "QFormLayout", "QFrame",
    "QGridLayout", "QGroupBox", "QGuiApplication", "QHBoxLayout", "QHeaderView", "QHideEvent",
    "QIcon", "qInstallMessageHandler", "QKeySequence", "QLabel", "QLineEdit", "QListWidget",
    "QListWidgetItem", "QLocale", "QLockFile", "QMainWindow", "QMenu", "QMenuBar",
    "QMessageBox", "QModelIndex", "QMouseEvent", "QObject", "QPainter", "QPainterPath",
    "QPaintEvent", "QPalette", "QPen", "QPersistentModelIndex", "QPixmap", "QPlainTextEdit",
    "QPoint", "QPointF", "QPushButton", "QRect", "QRectF", "QScrollArea", "QShowEvent", "QSize",
    "QSizePolicy", "QSocketNotifier", "QSortFilterProxyModel", "QSpinBox", "QSplitter",
    "QStackedWidget", "QStatusBar", "QSystemTrayIcon", "Qt", "QTableView", "QTabWidget",
    "QtCore", "QtGui", "QTimer", "QtMsgType", "QToolButton", "QToolTip", "QtWidgets",
    "QVBoxLayout", "QWidget", "Signal", "SLOT", "Slot",
]
