"""One account's row in the settings dialog: enable, name, key entry, options, test, remove.

The row never contains a stored key. Its key field starts empty and only carries what the user
types until the dialog stores it; the key's state comes from the keyring as a word ("stored",
"not stored", "keyring locked", ...) or, right after saving, in masked form (`sk-…abcd`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from urllib.parse import urlsplit

from tokenwatch_desktop.core import secrets
from tokenwatch_desktop.core.secrets import KeyringProblem, KeyringState
from tokenwatch_desktop.core.settings import AccountConfig
from tokenwatch_desktop.providers import registry
from tokenwatch_desktop.providers.base import ProviderInfo
from tokenwatch_desktop.ui.qt import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QToolButton,
    QWidget,
    Signal,
)
from tokenwatch_desktop.ui.tr import tr

CONTEXT = "SettingsDialog"
OK_STYLE = "color: #1e7e34;"
ERROR_STYLE = "color: #c62828;"


def _tr(text: str) -> str:
    return tr(text, CONTEXT)


def state_text(state: KeyringState | None, problem: KeyringProblem | None = None) -> str:
    """Name a key's keyring state for display, without the key itself."""
    if problem is not None and problem.timed_out:
        return _tr("keyring not answering")
    texts = {
        None: _tr("checking…"),
        KeyringState.STORED: _tr("stored"),
        KeyringState.NOT_STORED: _tr("not stored"),
        KeyringState.LOCKED: _tr("keyring locked"),
        KeyringState.UNAVAILABLE: _tr("no keyring available"),
    }
    return texts[state]


class AccountRow(QGroupBox):
    """The editable form of one account.

    Signals: `remove_requested(str)` and `test_requested(str)` carry the account id.
    `original` is the account as loaded (None for an account added in this dialog).
    """

    remove_requested = Signal(str)
    test_requested = Signal(str)

    def __init__(self, account: AccountConfig, *, new: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.account_id = account.id
        self.original = None if new else account
        self._account = account
        self._info: ProviderInfo | None = registry.PROVIDERS.get(registry.canonical(account.provider))
        self.team_edit: QLineEdit | None = None
        self.base_url_edit: QLineEdit | None = None
        self.setObjectName(f"account-{account.id}")
        self.setTitle(self._title())

        form = QFormLayout(self)
        self._build_common(form)
        if self.needs_key:
            self._build_key(form)
        if self._info is not None and "team_id" in self._info.required_options:
            self._build_team_id(form)
        if self._info is not None and self._info.default_base_url is not None:
            self._build_advanced(form)
        self._build_actions(form)
        if self._info is None:
            # An unknown provider cannot be edited here: the file's entry is written back as it
            # was, and the row offers only Remove.
            for widget in (self.enabled_box, self.name_edit):
                widget.setEnabled(False)

    # --- construction -------------------------------------------------------------------------

    def _title(self) -> str:
        provider = self._info.display_name if self._info else self._account.provider
        return _tr("{provider} — account {id}").format(provider=provider, id=self.account_id)

    def _build_common(self, form: QFormLayout) -> None:
        self.enabled_box = QCheckBox(_tr("Enabled"))
        self.enabled_box.setChecked(self._account.enabled is not False)
        form.addRow(self.enabled_box)
        if self._account.problem is not None:
            problem = QLabel(self._account.problem.message)
            problem.setWordWrap(True)
            problem.setStyleSheet(ERROR_STYLE)
            form.addRow(problem)
        self.name_edit = QLineEdit(self._account.name or "")
        self.name_edit.setPlaceholderText(self._info.display_name if self._info else "")
        form.addRow(_tr("Display name"), self.name_edit)

    def _build_key(self, form: QFormLayout) -> None:
        assert self._info is not None
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText(_tr("paste {kind}").format(kind=self._info.key_kind))
        self.key_edit.setToolTip(_tr("Stored in the OS keyring when you save; never shown again."))
        self.key_state = QLabel(state_text(None))
        self.key_state.setObjectName("key-state")
        line = QHBoxLayout()
        line.addWidget(self.key_edit, 1)
        line.addWidget(self.key_state)
        form.addRow(_tr("API key"), line)
        self.key_note = QLabel(self._env_note())
        self.key_note.setWordWrap(True)
        self.key_note.setVisible(bool(self.key_note.text()))
        form.addRow(self.key_note)
        self.key_edit.textChanged.connect(self._on_key_edited)

    def _env_note(self) -> str:
        name = secrets.env_name(self.account_id)
        if not os.environ.get(name, "").strip():
            return ""
        return _tr("{name} is set in the environment and is used instead of the stored key.").format(
            name=name)

    def _build_team_id(self, form: QFormLayout) -> None:
        self.team_edit = QLineEdit(str(self._account.option("team_id") or ""))
        self.team_edit.setPlaceholderText(_tr("required: the xAI team id"))
        form.addRow(_tr("Team id"), self.team_edit)

    def _build_advanced(self, form: QFormLayout) -> None:
        assert self._info is not None
        self.advanced_button = QToolButton()
        self.advanced_button.setText(_tr("Advanced"))
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        form.addRow(self.advanced_button)
        edit = QLineEdit(self._account.base_url or "")
        edit.setPlaceholderText(self._info.default_base_url or "")
        edit.setToolTip(_tr("Leave empty for the provider's own address. Set it for a proxy, "
                            "a regional endpoint or a test server."))
        self.base_url_edit = edit
        self.base_url_label = QLabel(_tr("Base URL"))
        form.addRow(self.base_url_label, edit)
        self.advanced_button.toggled.connect(self._on_advanced_toggled)
        self._on_advanced_toggled(bool(self._account.base_url))
        self.advanced_button.setChecked(bool(self._account.base_url))

    def _build_actions(self, form: QFormLayout) -> None:
        self.test_button = QPushButton(_tr("Test connection"))
        self.remove_button = QPushButton(_tr("Remove"))
        self.test_result = QLabel()
        self.test_result.setObjectName("test-result")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        line = QHBoxLayout()
        line.addWidget(self.test_button)
        line.addStretch(1)
        line.addWidget(self.remove_button)
        form.addRow(line)
        form.addRow(self.test_result)
        self.test_button.setEnabled(self._account.problem is None)
        self.test_button.clicked.connect(lambda: self.test_requested.emit(self.account_id))
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self.account_id))

    # --- slots --------------------------------------------------------------------------------

    def _on_advanced_toggled(self, expanded: bool) -> None:
        arrow = Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow
        self.advanced_button.setArrowType(arrow)
        self.base_url_label.setVisible(expanded)
        if self.base_url_edit is not None:
            self.base_url_edit.setVisible(expanded)

    def _on_key_edited(self, text: str) -> None:
        self.set_key_message("")
        if self._info is None or not text.strip() or not self._info.key_prefixes:
            return
        if not text.strip().startswith(self._info.key_prefixes):
            # A warning only: providers change key formats, so a prefix never rejects a key.
            self.set_key_message(_tr("This does not look like {kind}; check that it is the "
                                     "right kind of key.").format(kind=self._info.key_kind))

    # --- reading the form ---------------------------------------------------------------------

    @property
    def needs_key(self) -> bool:
        return self._info is not None and self._info.needs_key

    @property
    def is_new(self) -> bool:
        return self.original is None

    def entered_key(self) -> str:
        """Return what the user typed into the key field (not yet checked or stored)."""
        return self.key_edit.text() if self.needs_key else ""

    def edited(self) -> AccountConfig:
        """Build the account from this form's values, keeping the options it does not edit."""
        options = dict(self._account.options)
        if self.team_edit is not None:
            team = self.team_edit.text().strip()
            if team:
                options["team_id"] = team
            else:
                options.pop("team_id", None)
        base_url = self.base_url_edit.text().strip() if self.base_url_edit is not None else ""
        if self._info is None:
            return self._account  # kept as loaded, problem and all
        return replace(
            self._account,
            name=self.name_edit.text().strip() or None,
            enabled=self._enabled_value(),
            base_url=base_url or None,
            options=options,
            problem=None,  # the dialog re-checks the edited account before saving it
            raw=None,
        )

    def _enabled_value(self) -> bool | None:
        checked = self.enabled_box.isChecked()
        if self._account.enabled is None and checked:
            return None  # still unset, so local logs stay enabled only when their folder exists
        return checked

    def problems(self) -> list[str]:
        """List what must be fixed before this account can be tested or saved."""
        found = []
        account = self.edited()
        if self._info is not None and "team_id" in self._info.required_options:
            if not account.option("team_id"):
                found.append(_tr("{provider} needs a team id.").format(
                    provider=self._info.display_name))
        if account.base_url and not _valid_url(account.base_url):
            found.append(_tr("The base URL {url} is invalid; enter a URL that starts with "
                             "https:// (or http:// for a local proxy).").format(url=account.base_url))
        return found

    # --- showing results ----------------------------------------------------------------------

    def set_key_state(self, state: KeyringState, problem: KeyringProblem | None = None) -> None:
        self.key_state.setText(state_text(state, problem))
        self.key_state.setToolTip(problem.message if problem else "")
        if state is KeyringState.STORED:
            self.key_edit.setPlaceholderText(_tr("paste a new key to replace the stored one"))

    def key_stored(self, masked: str) -> None:
        """Show a newly stored key in masked form and clear the entry field."""
        self.key_edit.clear()
        self.key_edit.setPlaceholderText(_tr("paste a new key to replace the stored one"))
        self.key_state.setText(_tr("stored ({masked})").format(masked=masked))
        self.key_state.setToolTip("")

    def set_key_message(self, text: str, error: bool = False) -> None:
        self.key_note.setText(text or self._env_note())
        self.key_note.setStyleSheet(ERROR_STYLE if error else "")
        self.key_note.setVisible(bool(self.key_note.text()))

    def set_test_result(self, text: str, ok: bool) -> None:
        self.test_result.setText(text)
        self.test_result.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)


def _valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
