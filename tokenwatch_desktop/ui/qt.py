"""The one Qt import seam: every module under `ui/` imports Qt names from here, never from PySide6.

Keeping the binding in one place lets the project switch bindings or versions by editing this
file, and lets a test check that no other module imports PySide6 directly. QtNetwork (the
single-instance socket) and QtDBus (the resume signal) are imported lazily by their users
through `network()` and `dbus()`, because neither is needed before the tray icon shows.
"""

from __future__ import annotations

from types import ModuleType

import PySide6
from PySide6 import QtCore, QtGui, QtWidgets
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

#: The binding's name and version, for `--self-check` and bug reports.
BINDING = "PySide6"
BINDING_VERSION: str = PySide6.__version__


def network() -> ModuleType:
    """Import QtNetwork on first use (QLocalServer, QLocalSocket)."""
    from PySide6 import QtNetwork

    return QtNetwork


def dbus() -> ModuleType:
    """Import QtDBus on first use (the login manager's sleep signal on Linux)."""
    from PySide6 import QtDBus

    return QtDBus


__all__ = [
    "BINDING", "BINDING_VERSION", "SLOT",
    "QAbstractItemView", "QAbstractTableModel", "QAction", "QApplication", "QBrush",
    "QButtonGroup", "QByteArray", "QCheckBox", "QCloseEvent", "QColor", "QComboBox",
    "QCoreApplication", "QCursor", "QDate", "QDialog", "QDialogButtonBox", "QEvent", "QFont",
    "QFontMetrics", "QFormLayout", "QFrame", "QGridLayout", "QGroupBox", "QGuiApplication",
    "QHBoxLayout", "QHeaderView", "QHideEvent", "QIcon", "QKeySequence", "QLabel", "QLineEdit",
    "QListWidget", "QListWidgetItem", "QLocale", "QLockFile", "QMainWindow", "QMenu",
    "QMenuBar", "QMessageBox", "QModelIndex", "QMouseEvent", "QObject", "QPaintEvent",
    "QPainter", "QPainterPath", "QPalette", "QPen", "QPersistentModelIndex", "QPixmap",
    "QPlainTextEdit", "QPoint", "QPointF", "QPushButton", "QRect", "QRectF", "QScrollArea",
    "QShowEvent", "QSize", "QSizePolicy", "QSocketNotifier", "QSortFilterProxyModel",
    "QSpinBox", "QSplitter", "QStackedWidget", "QStatusBar", "QSystemTrayIcon", "QTabWidget",
    "QTableView", "QTimer", "QToolButton", "QToolTip", "QVBoxLayout", "QWidget", "Qt",
    "QtCore", "QtGui", "QtMsgType", "QtWidgets", "Signal", "Slot", "dbus",
    "network", "qInstallMessageHandler",
]
