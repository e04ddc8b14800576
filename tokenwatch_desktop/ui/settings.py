"""The settings dialog: accounts and their keys, default period, day boundary, refresh interval.

Every keyring call runs through `secrets.call_async` (a daemon thread resolving a future on the
qasync loop), so a keyring that hangs or waits on an unlock prompt never blocks the window.
Create and use the dialog while a qasync event loop runs. Nothing is written until Save: then
entered keys are stored, the config file is rewritten (it never contains a key), and the keys
of removed accounts are deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from tokenwatch_desktop.core import config, money, secrets
from tokenwatch_desktop.core.periods import PERIODS, DayBoundary, PeriodSpec
from tokenwatch_desktop.core.records import AccountReport, Status
from tokenwatch_desktop.core.secrets import KeyringProblem, KeyringState
from tokenwatch_desktop.core.settings import REFRESH_MINUTES, AccountConfig, Settings
from tokenwatch_desktop.engine import Engine, RefreshOptions
from tokenwatch_desktop.providers import registry
from tokenwatch_desktop.providers.http import Http
from tokenwatch_desktop.ui.qt import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from tokenwatch_desktop.ui.settings_account import CONTEXT, ERROR_STYLE, AccountRow
from tokenwatch_desktop.ui.tr import tr

log = logging.getLogger(__name__)

ENV_HINT = "TOKENWATCH_KEY_<ACCOUNT>"


def _tr(text: str) -> str:
    return tr(text, CONTEXT)


def _probe_key(account_id: str) -> KeyringState:
    """Return whether a key is stored, without handing it out (runs in a keyring thread)."""
    import keyring

    secrets.check_backend()
    stored = keyring.get_password(secrets.SERVICE, account_id)
    return KeyringState.STORED if stored else KeyringState.NOT_STORED


class SettingsDialog(QDialog):
    """Edit the settings and the accounts' keys.

    Signals: `settings_changed(Settings)` after the config file was written;
    `keys_stored(list)` with the ids of accounts whose new keys were stored by that save.
    """

    settings_changed = Signal(object)
    keys_stored = Signal(object)

    def __init__(
        self,
        settings: Settings,
        config_path: Path,
        http: Http,
        parent: QWidget | None = None,
        *,
        keyring_timeout: float = secrets.KEYRING_TIMEOUT,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._config_path = config_path
        self._http = http
        self._keyring_timeout = keyring_timeout
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rows: dict[str, AccountRow] = {}
        self._removed: dict[str, AccountConfig] = {}
        self._tasks: set[asyncio.Task[None]] = set()

        self.setWindowTitle(_tr("TokenWatch settings"))
        self.setAttribute(Qt.WidgetAttribute.WA_QuitOnClose, False)  # a tray app outlives it
        self._build()
        for account in settings.accounts:
            self._add_row(account, new=False)
        self._spawn(self._probe_keyring())

    # --- construction -------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_general())
        self.keyring_label = QLabel(_tr("Checking the keyring…"))
        self.keyring_label.setObjectName("keyring-status")
        self.keyring_label.setWordWrap(True)
        self.keyring_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.keyring_label)
        layout.addWidget(self._build_accounts(), 1)
        layout.addLayout(self._build_add())
        self.status_label = QLabel()
        self.status_label.setObjectName("save-status")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.resize(620, 720)

    def _build_general(self) -> QGroupBox:
        box = QGroupBox(_tr("General"))
        form = QFormLayout(box)
        self.period_combo = QComboBox()
        for label in PERIODS:
            self.period_combo.addItem(_period_name(label), label)
        self.period_combo.setCurrentIndex(max(0, self.period_combo.findData(self._settings.period)))
        form.addRow(_tr("Default period"), self.period_combo)
        self.boundary_combo = QComboBox()
        self.boundary_combo.addItem(_tr("UTC"), DayBoundary.UTC.value)
        self.boundary_combo.addItem(_tr("Local time"), DayBoundary.LOCAL.value)
        self.boundary_combo.setCurrentIndex(
            max(0, self.boundary_combo.findData(self._settings.day_boundary.value)))
        self.boundary_combo.setToolTip(_tr("Where a day starts for local-log accounts. Billed "
                                           "API figures always use UTC days."))
        form.addRow(_tr("Day boundary (local logs)"), self.boundary_combo)
        self.refresh_spin = QSpinBox()
        self.refresh_spin.setRange(*REFRESH_MINUTES)
        self.refresh_spin.setSuffix(_tr(" min"))
        self.refresh_spin.setValue(min(max(self._settings.refresh_minutes, REFRESH_MINUTES[0]),
                                       REFRESH_MINUTES[1]))
        self.refresh_spin.setToolTip(_tr("Each provider also has its own minimum interval."))
        form.addRow(_tr("Refresh every"), self.refresh_spin)
        return box

    def _build_accounts(self) -> QScrollArea:
        self._accounts_widget = QWidget()
        self._accounts_layout = QVBoxLayout(self._accounts_widget)
        self._accounts_layout.addStretch(1)
        self.empty_label = QLabel(_tr("No accounts yet: choose a provider below and add one."))
        self._accounts_layout.insertWidget(0, self.empty_label)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._accounts_widget)
        return scroll

    def _build_add(self) -> QHBoxLayout:
        self.provider_combo = QComboBox()
        for provider_id, info in registry.PROVIDERS.items():
            self.provider_combo.addItem(info.display_name, provider_id)
        self.add_button = QPushButton(_tr("Add account"))
        self.add_button.clicked.connect(self._on_add)
        line = QHBoxLayout()
        line.addWidget(QLabel(_tr("Provider")))
        line.addWidget(self.provider_combo, 1)
        line.addWidget(self.add_button)
        return line

    # --- rows ---------------------------------------------------------------------------------

    def rows(self) -> list[AccountRow]:
        return list(self._rows.values())

    def row(self, account_id: str) -> AccountRow:
        return self._rows[account_id]

    def _add_row(self, account: AccountConfig, *, new: bool) -> AccountRow:
        row = AccountRow(account, new=new)
        row.remove_requested.connect(self._on_remove)
        row.test_requested.connect(self._on_test)
        self._rows[account.id] = row
        self._accounts_layout.insertWidget(self._accounts_layout.count() - 1, row)
        self.empty_label.setVisible(False)
        return row

    def _on_add(self) -> None:
        provider = str(self.provider_combo.currentData())
        # Ids removed in this dialog stay taken until Save has deleted their keys.
        used_ids = [*self._rows, *self._removed]
        account_id = config.next_account_id(
            replace(self._settings, accounts=[AccountConfig(i, provider) for i in used_ids]),
            provider)
        row = self._add_row(AccountConfig(account_id, provider, enabled=True), new=True)
        if row.needs_key:
            self._spawn(self._probe_row(row))
        self.status_label.setText(_tr("Account {id} added; it is saved when you press Save.")
                                  .format(id=account_id))

    def _on_remove(self, account_id: str) -> None:
        row = self._rows.pop(account_id)
        if row.original is not None:
            self._removed[account_id] = row.original
        row.hide()
        row.deleteLater()
        self.empty_label.setVisible(not self._rows)
        self.status_label.setText(_tr("Account {id} is removed, and its key deleted from the "
                                      "keyring, when you press Save.").format(id=account_id))

    # --- keyring state ------------------------------------------------------------------------

    async def _probe_keyring(self) -> None:
        try:
            backend = await secrets.call_async(secrets.backend_name, self._keyring_timeout)
            await secrets.call_async(secrets.check_backend, self._keyring_timeout)
        except KeyringProblem as exc:
            self._show_keyring_problem(exc)
        else:
            self.keyring_label.setText(_tr("Keys are stored in the OS keyring ({backend}). "
                                           "{env} environment variables take precedence.")
                                       .format(backend=backend, env=ENV_HINT))
        await asyncio.gather(*(self._probe_row(row) for row in self.rows() if row.needs_key))

    async def _probe_row(self, row: AccountRow) -> None:
        try:
            state = await secrets.call_async(partial(_probe_key, row.account_id),
                                             self._keyring_timeout)
        except KeyringProblem as exc:
            row.set_key_state(exc.state, exc)
            if exc.state is KeyringState.LOCKED or exc.timed_out:
                self._show_keyring_problem(exc)
            return
        row.set_key_state(state)

    def _show_keyring_problem(self, problem: KeyringProblem) -> None:
        if problem.timed_out:
            lead = _tr("The keyring is not answering")
        elif problem.state is KeyringState.LOCKED:
            lead = _tr("The keyring is locked")
        else:
            lead = _tr("No keyring is available")
        self.keyring_label.setText(_tr("{lead}: {detail}. Keys cannot be stored until this is "
                                       "fixed; {env} environment variables work meanwhile.")
                                   .format(lead=lead, detail=problem.message, env=ENV_HINT))
        self.keyring_label.setStyleSheet(ERROR_STYLE)

    # --- test connection ----------------------------------------------------------------------

    def _on_test(self, account_id: str) -> None:
        row = self._rows[account_id]
        problems = row.problems()
        if problems:
            row.set_test_result(" ".join(problems), ok=False)
            return
        try:
            entered = secrets.clean_key(row.entered_key()) if row.entered_key().strip() else None
        except secrets.InvalidKey as exc:
            row.set_test_result(_tr("The entered key is invalid: {reason}.").format(reason=exc),
                                ok=False)
            return
        row.test_button.setEnabled(False)
        row.set_test_result(_tr("Testing…"), ok=True)
        self._spawn(self._test(row, entered))

    async def _test(self, row: AccountRow, entered: str | None) -> None:
        account = replace(row.edited(), enabled=True)

        async def lookup(account_id: str) -> secrets.KeyLookup:
            if entered is not None:
                return secrets.KeyLookup(entered, "entered")
            return await secrets.lookup_key(account_id, timeout=self._keyring_timeout)

        engine = Engine(self._edited_settings(), self._http, key_lookup=lookup)
        spec = PeriodSpec(str(self.period_combo.currentData()))
        try:
            report = await engine.refresh([account], spec, RefreshOptions(now=self._clock()))
        except Exception:
            row.set_test_result(_tr("Failed because of an internal error; see the log file."),
                                ok=False)
            raise
        finally:
            row.test_button.setEnabled(True)
        text, ok = _test_summary(report.accounts[0], spec.label)
        row.set_test_result(text, ok)

    # --- save ---------------------------------------------------------------------------------

    def _on_save(self) -> None:
        keys = self._checked_keys()
        if keys is None:
            return
        try:
            edited = self._edited_settings(checked=True)
        except config.ConfigError as exc:
            self._show_status(str(exc), error=True)
            return
        self.save_button.setEnabled(False)
        self._show_status(_tr("Saving…"), error=False)
        self._spawn(self._save(edited, keys))

    def _checked_keys(self) -> dict[str, str] | None:
        """Collect the entered keys by account id; None (with the reason shown) if one is invalid."""
        keys: dict[str, str] = {}
        for row in self.rows():
            problems = row.problems()
            if problems:
                self._show_status(_tr("Account {id}: {problems}").format(
                    id=row.account_id, problems=" ".join(problems)), error=True)
                return None
            if not row.entered_key().strip():
                continue
            try:
                keys[row.account_id] = secrets.clean_key(row.entered_key())
            except secrets.InvalidKey as exc:
                row.set_key_message(_tr("Not saved: {reason}.").format(reason=exc), error=True)
                self._show_status(_tr("Account {id}: the entered key is invalid.").format(
                    id=row.account_id), error=True)
                return None
        return keys

    def _edited_settings(self, checked: bool = False) -> Settings:
        """Build settings from this dialog's values; `checked` runs the config file's checks."""
        settings = replace(
            self._settings,
            period=str(self.period_combo.currentData()),
            day_boundary=DayBoundary(str(self.boundary_combo.currentData())),
            refresh_minutes=self.refresh_spin.value(),
            accounts=[row.edited() for row in self.rows()],
            warnings=[],
        )
        if not checked:
            return settings
        for row in self.rows():
            if row.edited().problem is None:  # accounts of unknown providers are kept as they are
                settings = config.update_account(settings, row.account_id, **_changes(row))
        return settings

    async def _save(self, edited: Settings, keys: dict[str, str]) -> None:
        """Store keys, write the config, then delete removed accounts' keys.

        The config is written before any key is deleted: Cancel or Quit in between may leave a
        removed account's key in the keyring (harmless), never an account without its key.
        """
        stored, failures = await self._store_keys(keys)
        path = self._write(edited)
        if path is None:
            return
        self.settings_changed.emit(self._settings)
        if stored:
            self.keys_stored.emit(stored)
        kept, not_deleted = await self._delete_removed_keys()
        failures += not_deleted
        if kept:
            path = self._write(replace(edited, accounts=[*edited.accounts, *kept]))
            if path is None:
                return
            self.settings_changed.emit(self._settings)
        self.save_button.setEnabled(True)
        if failures:
            self._show_status(_tr("Settings saved, but: {failures}").format(
                failures=" ".join(failures)), error=True)
            return
        self._show_status(_tr("Settings saved to {path}.").format(path=path), error=False)
        self.accept()

    def _write(self, edited: Settings) -> Path | None:
        """Write the config file (small and local: no thread); None, with the reason shown."""
        try:
            path = config.save(edited, self._config_path)
        except config.ConfigError as exc:
            self._show_status(str(exc), error=True)
            self.save_button.setEnabled(True)
            return None
        self._settings = replace(edited, path=path)
        return path

    async def _delete_removed_keys(self) -> tuple[list[AccountConfig], list[str]]:
        """Delete removed accounts' keys. Return the accounts kept because that failed, and why.

        A kept account gets its row back and is written to the config again, so that no key
        is left in the keyring without one when the keyring merely was locked.
        """
        kept: list[AccountConfig] = []
        failures: list[str] = []
        for account_id, account in list(self._removed.items()):
            settings = replace(self._settings, accounts=[account])
            try:
                await secrets.call_async(
                    partial(config.remove_account_and_key, settings, account_id),
                    self._keyring_timeout)
            except KeyringProblem as exc:
                log.warning("account %s: its key could not be deleted: %s", account_id,
                            exc.state.value)
                failures.append(_tr("account {id} was kept because its key could not be deleted "
                                    "from the keyring ({detail}).").format(id=account_id,
                                                                            detail=exc.message))
                self._add_row(account, new=False).set_key_state(exc.state, exc)
                kept.append(account)
            del self._removed[account_id]
        return kept, failures

    async def _store_keys(self, keys: dict[str, str]) -> tuple[list[str], list[str]]:
        """Store the entered keys; return the account ids stored and the failures."""
        stored: list[str] = []
        failures: list[str] = []
        for account_id, key in keys.items():
            row = self._rows[account_id]
            try:
                masked = await secrets.call_async(
                    partial(secrets.store_key, account_id, key, self._keyring_timeout),
                    self._keyring_timeout + 1)
            except KeyringProblem as exc:
                row.set_key_state(exc.state, exc)
                row.set_key_message(_tr("Not stored: {detail}.").format(detail=exc.message),
                                    error=True)
                failures.append(_tr("the key for account {id} was not stored.").format(
                    id=account_id))
                continue
            row.key_stored(masked)
            stored.append(account_id)
        return stored, failures

    def _show_status(self, text: str, error: bool) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")

    # --- tasks --------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while a keyring call, a connection test or a save is still running."""
        return bool(self._tasks)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine on the qasync loop; an error in it is logged and shown, never lost."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._on_task_done)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        log.error("settings dialog: a background step failed", exc_info=task.exception())
        self._show_status(_tr("An internal error occurred; see the log file for details."),
                          error=True)
        self.save_button.setEnabled(True)

    def done(self, result: int) -> None:
        """Close the dialog and cancel its pending work (keyring threads are abandoned)."""
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        super().done(result)


def _changes(row: AccountRow) -> dict[str, Any]:
    account = row.edited()
    return {"name": account.name, "enabled": account.enabled, "base_url": account.base_url,
            "options": account.options}


def _period_name(label: str) -> str:
    names = {"1d": _tr("Today"), "7d": _tr("Last 7 days"), "30d": _tr("Last 30 days"),
             "90d": _tr("Last 90 days"), "mtd": _tr("Month to date")}
    return names.get(label, label)


def _test_summary(report: AccountReport, period: str) -> tuple[str, bool]:
    """Describe a connection test's result: a figure on success, the error message otherwise."""
    if report.status is Status.ERROR:
        message = report.error.message if report.error else _tr("the request failed")
        return _tr("Failed: {message}").format(message=message), False
    if report.cost is not None:
        figure = _tr("{cost} in {period}").format(cost=money.display(report.cost),
                                                  period=_period_name(period).lower())
    elif report.balance:
        figure = _tr("balance {amounts}").format(amounts=", ".join(
            f"{money.plain(b.remaining)} {b.currency}" for b in report.balance))
    else:
        figure = _tr("no figures for this period")
    if report.status is Status.PARTIAL and report.error is not None:
        return _tr("Connected, partly: {figure}. {message}").format(
            figure=figure, message=report.error.message), False
    return _tr("Connected: {figure}.").format(figure=figure), True
