"""The tray indicator: an icon with the period's total, a tooltip, and a context menu.

The menu is always attached, because GNOME's AppIndicator shows no icon without one. Updating
the icon or the tooltip never raises: a display failure is logged and the refresh loop goes on.
"""

from __future__ import annotations

import logging

from tokenwatch_desktop.ui.qt import (
    QAction,
    QColor,
    QGuiApplication,
    QIcon,
    QMenu,
    QObject,
    QPainter,
    QPixmap,
    QSystemTrayIcon,
    Qt,
    Signal,
)
from tokenwatch_desktop.ui.tr import tr

log = logging.getLogger(__name__)

#: Menu text of each period, in menu order. The keys match `core.periods.PERIODS` (a test
#: checks); importing that module here would load the record types before the tray shows.
PERIOD_NAMES = {"1d": "Today", "7d": "Last 7 days", "30d": "Last 30 days",
                "90d": "Last 90 days", "mtd": "Month to date"}
STATE_COLORS = {"fresh": "#27ae60", "refreshing": "#2980b9", "stale": "#f39c12",
                "error": "#c0392b"}


def period_name(label: str) -> str:
    """The menu and selector text of a period label (`30d` → "Last 30 days")."""
    return tr(PERIOD_NAMES.get(label, label))


def is_dark() -> bool:
    """Whether the desktop uses a dark colour scheme (Qt 6.5+ reports it)."""
    try:
        scheme = QGuiApplication.styleHints().colorScheme()
    except AttributeError:  # Qt before 6.5
        return False
    return bool(scheme == Qt.ColorScheme.Dark)


def fallback_icon(state: str) -> QIcon:
    """A plain round badge in the state's colour, for when `ui.icons` cannot be loaded."""
    pixmap = QPixmap(32, 32)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(STATE_COLORS.get(state, "#7f8c8d")))
    painter.drawEllipse(2, 2, 28, 28)
    painter.end()
    return QIcon(pixmap)


def tray_icon(text: str | None, state: str) -> QIcon:
    """The tray icon from `ui.icons` (owned by the icon module), or a plain badge."""
    try:
        from tokenwatch_desktop.ui import icons
    except ImportError:
        return fallback_icon(state)
    try:
        icon: QIcon = icons.tray_icon(text, state, is_dark())
    except Exception:
        log.exception("drawing the tray icon failed; using a plain badge")
        return fallback_icon(state)
    return icon


class Tray(QObject):
    """Signals: open_requested(), refresh_requested(), period_requested(str),
    settings_requested(), quit_requested()."""

    open_requested = Signal()
    refresh_requested = Signal()
    period_requested = Signal(str)
    settings_requested = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.period_actions: dict[str, QAction] = {}
        self._icon_key: tuple[str | None, str] | None = None
        self._build_menu()
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.set_icon(None, "refreshing")
        self.set_tooltip(tr("TokenWatch"))

    def _build_menu(self) -> None:
        self.open_action = self.menu.addAction(tr("Open TokenWatch"))
        self.open_action.triggered.connect(self.open_requested)
        self.refresh_action = self.menu.addAction(tr("Refresh now"))
        self.refresh_action.triggered.connect(self.refresh_requested)
        period_menu = self.menu.addMenu(tr("Period"))
        for label in PERIOD_NAMES:
            action = period_menu.addAction(period_name(label))
            action.setCheckable(True)
            action.triggered.connect(lambda _=False, value=label: self.period_requested.emit(value))
            self.period_actions[label] = action
        self.settings_action = self.menu.addAction(tr("Settings…"))
        self.settings_action.triggered.connect(self.settings_requested)
        self.menu.addSeparator()
        self.quit_action = self.menu.addAction(tr("Quit"))
        self.quit_action.triggered.connect(self.quit_requested)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_requested.emit()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def set_period(self, label: str) -> None:
        for value, action in self.period_actions.items():
            action.setChecked(value == label)

    def set_icon(self, text: str | None, state: str) -> None:
        """Show `text` (a compact amount) on the icon with the state's badge; never raises."""
        if self._icon_key == (text, state):
            return
        try:
            self.icon.setIcon(tray_icon(text, state))
            self._icon_key = (text, state)
        except Exception:
            log.exception("setting the tray icon failed")

    def set_tooltip(self, text: str) -> None:
        """Set the tooltip; a failure is logged and never reaches the refresh loop."""
        try:
            self.icon.setToolTip(text)
        except Exception:
            log.exception("setting the tray tooltip failed")

    def tooltip(self) -> str:
        return str(self.icon.toolTip())

    def notify(self, title: str, message: str) -> None:
        try:
            self.icon.showMessage(title, message, QSystemTrayIcon.MessageIcon.Warning, 15000)
        except Exception:
            log.exception("showing a tray notification failed")
