"""The summary window: a period selector, refresh, "last updated", and a tab per account.

With no account configured it shows a first-run page offering demo data or the settings.
Closing it hides it while a tray icon can bring it back. With no tray, closing it quits, so the
app never lingers where no one can reach it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from tokenwatch_desktop.core.periods import PERIODS
from tokenwatch_desktop.core.report import Report
from tokenwatch_desktop.core.settings import AccountConfig
from tokenwatch_desktop.ui.qt import (
    QAction,
    QCloseEvent,
    QComboBox,
    QHBoxLayout,
    QHideEvent,
    QKeySequence,
    QLabel,
    QMainWindow,
    QPushButton,
    QShowEvent,
    QStackedWidget,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from tokenwatch_desktop.ui.tabs import AccountTab, AllTab, wrapped_label
from tokenwatch_desktop.ui.tr import tr
from tokenwatch_desktop.ui.tray import period_name

log = logging.getLogger(__name__)

class FirstRunPage(QWidget):
    demo_requested = Signal()
    settings_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        text = wrapped_label(tr(
            "No account is set up yet. Add an API key in the settings to see what you spend, "
            "or look around with demo data first (nothing is sent anywhere)."))
        self.demo_button = QPushButton(tr("Show demo data"))
        self.settings_button = QPushButton(tr("Open settings"))
        self.demo_button.clicked.connect(self.demo_requested)
        self.settings_button.clicked.connect(self.settings_requested)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.demo_button)
        buttons.addWidget(self.settings_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(text)
        layout.addLayout(buttons)
        layout.addStretch(2)


class MainWindow(QMainWindow):
    """Signals: period_requested(str), refresh_requested(), settings_requested(),
    quit_requested(), demo_requested(), visibility_changed(bool)."""

    period_requested = Signal(str)
    refresh_requested = Signal()
    settings_requested = Signal()
    quit_requested = Signal()
    demo_requested = Signal()
    visibility_changed = Signal(bool)

    def __init__(self, demo: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("TokenWatch"))
        self.resize(920, 660)
        self.keep_running_on_close = True
        self.account_tabs: dict[str, AccountTab] = {}
        self.report: Report | None = None
        self._build_menu()
        self._build_header(demo)
        self.first_run = FirstRunPage()
        self.first_run.demo_requested.connect(self.demo_requested)
        self.first_run.settings_requested.connect(self.settings_requested)
        self.tabs = QTabWidget()
        self.all_tab = AllTab()
        self.all_tab.account_activated.connect(self.show_account)
        self.tabs.addTab(self.all_tab, tr("All"))
        self.pages = QStackedWidget()
        self.pages.addWidget(self.tabs)
        self.pages.addWidget(self.first_run)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(self.header)
        layout.addWidget(self.banner)
        layout.addWidget(self.notice)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu(tr("&TokenWatch"))
        self.refresh_action = QAction(tr("&Refresh now"), self)
        self.refresh_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        self.refresh_action.triggered.connect(self.refresh_requested)
        self.settings_action = QAction(tr("&Settings…"), self)
        self.settings_action.triggered.connect(self.settings_requested)
        self.quit_action = QAction(tr("&Quit"), self)
        self.quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        self.quit_action.triggered.connect(self.quit_requested)
        for action in (self.refresh_action, self.settings_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.quit_action)

    def _build_header(self, demo: bool) -> None:
        self.demo_label = QLabel(tr("Demo data"))
        self.demo_label.setObjectName("demoLabel")
        self.demo_label.setStyleSheet(
            "QLabel#demoLabel { background: #f39c12; color: black; padding: 2px 8px; "
            "border-radius: 4px; font-weight: bold; }")
        self.demo_label.setVisible(demo)
        self.setup_button = QPushButton(tr("Set up accounts…"))
        self.setup_button.setToolTip(tr("Add your own API keys; the demo data goes away."))
        self.setup_button.clicked.connect(self.settings_requested)
        self.setup_button.setVisible(demo)
        self.period_box = QComboBox()
        for label in PERIODS:
            self.period_box.addItem(period_name(label), label)
        self.period_box.currentIndexChanged.connect(self._on_period_index)
        self.refresh_button = QPushButton(tr("Refresh"))
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.updated = QLabel(tr("Not refreshed yet"))
        self.quit_button = QPushButton(tr("Quit"))
        self.quit_button.setToolTip(tr("No system tray is available, so closing this window or "
                                       "this button quits TokenWatch."))
        self.quit_button.clicked.connect(self.quit_requested)
        self.quit_button.setVisible(False)
        self.state_label = QLabel("")
        self.header = QHBoxLayout()
        self.header.addWidget(self.demo_label)
        self.header.addWidget(self.setup_button)
        self.header.addWidget(QLabel(tr("Period:")))
        self.header.addWidget(self.period_box)
        self.header.addWidget(self.refresh_button)
        self.header.addStretch(1)
        self.header.addWidget(self.state_label)
        self.header.addWidget(self.updated)
        self.header.addWidget(self.quit_button)
        self.banner = wrapped_label("")
        self.banner.setObjectName("banner")
        self.banner.setStyleSheet(
            "QLabel#banner { background: #fdecea; color: #611a15; padding: 6px; "
            "border: 1px solid #f5c6cb; border-radius: 4px; }")
        self.banner.setVisible(False)
        self.notice = wrapped_label("")
        self.notice.setObjectName("configNotice")
        self.notice.setStyleSheet(
            "QLabel#configNotice { background: #fff4e5; color: #663c00; padding: 6px; "
            "border: 1px solid #ffd599; border-radius: 4px; }")
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.setVisible(False)

    # -- updates from the controller ------------------------------------------------------

    def set_tray_mode(self, has_tray: bool) -> None:
        """With a tray, closing hides the window; without one, it quits and a Quit button shows."""
        self.keep_running_on_close = has_tray
        self.quit_button.setVisible(not has_tray)

    def set_demo(self, demo: bool) -> None:
        self.demo_label.setVisible(demo)
        self.setup_button.setVisible(demo)

    def set_period(self, label: str) -> None:
        index = self.period_box.findData(label)
        if index >= 0 and index != self.period_box.currentIndex():
            self.period_box.blockSignals(True)
            self.period_box.setCurrentIndex(index)
            self.period_box.blockSignals(False)

    def _on_period_index(self, index: int) -> None:
        label = self.period_box.itemData(index)
        if isinstance(label, str):
            self.period_requested.emit(label)

    def set_accounts(self, accounts: list[AccountConfig], first_run: bool) -> None:
        """Add a tab per new account, remove tabs of removed ones, keep the order of `accounts`."""
        wanted = [a.id for a in accounts]
        for account_id in list(self.account_tabs):
            if account_id not in wanted:
                tab = self.account_tabs.pop(account_id)
                self.tabs.removeTab(self.tabs.indexOf(tab))
                tab.deleteLater()
        for position, account in enumerate(accounts, start=1):
            existing = self.account_tabs.get(account.id)
            tab = existing if existing is not None else AccountTab(account.id)
            if existing is None:
                tab.settings_requested.connect(self.settings_requested)
                self.account_tabs[account.id] = tab
            if self.tabs.indexOf(tab) != position:
                if self.tabs.indexOf(tab) >= 0:
                    self.tabs.removeTab(self.tabs.indexOf(tab))
                self.tabs.insertTab(position, tab, account.name or account.id)
            self.tabs.setTabText(position, account.name or account.id)
        self.pages.setCurrentWidget(self.first_run if first_run else self.tabs)
        self.show_report(self.report)

    def show_report(self, report: Report | None) -> None:
        self.report = report
        self.all_tab.show_report(report)
        by_id = {a.id: a for a in report.accounts} if report else {}
        for account_id, tab in self.account_tabs.items():
            tab.show_account(by_id.get(account_id), report)
            account = by_id.get(account_id)
            if account is not None:
                self.tabs.setTabText(self.tabs.indexOf(tab), account.name)

    def set_state(self, state: str, last_refresh: datetime | None) -> None:
        names = {"refreshing": tr("Refreshing…"), "stale": tr("Some figures are stale"),
                 "error": tr("Some accounts failed"), "fresh": ""}
        self.state_label.setText(names.get(state, state))
        self.refresh_button.setEnabled(state != "refreshing")
        if last_refresh is not None:
            self.updated.setText(tr("Last updated {time}").format(
                time=last_refresh.astimezone().strftime("%H:%M:%S")))

    def set_failure(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(bool(text))

    def set_notice(self, lines: list[str]) -> None:
        """Show the config loader's warnings (a file set aside, an unknown key); [] hides them."""
        self.notice.setText("\n".join(lines))
        self.notice.setVisible(bool(lines))

    def show_account(self, account_id: str) -> None:
        tab = self.account_tabs.get(account_id)
        if tab is not None:
            self.tabs.setCurrentWidget(tab)

    def bring_forward(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    # -- window events --------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        event.ignore()
        if self.keep_running_on_close:
            self.hide()
        else:
            self.quit_requested.emit()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self.visibility_changed.emit(True)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802
        super().hideEvent(event)
        self.visibility_changed.emit(False)
