"""The settings dialog with real widgets, the in-memory keyring and the loopback provider fake.

Every test body is a coroutine run on a qasync loop, because the dialog runs keyring calls and
connection tests as tasks on that loop. Waits poll a condition for a bounded number of loop
turns; no assertion depends on how long something took.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors
import pytest
import qasync

from tests.conftest import NOW, MemoryKeyring
from tokenwatch_desktop.core import config
from tokenwatch_desktop.core.periods import DayBoundary
from tokenwatch_desktop.core.settings import AccountConfig, Settings
from tokenwatch_desktop.providers.fake.server import LoopbackServer
from tokenwatch_desktop.providers.http import Http, make_client
from tokenwatch_desktop.ui.qt import QApplication, QDialog, QEvent, QLabel, QLineEdit, QTimer
from tokenwatch_desktop.ui.settings import SettingsDialog

CANARY = "sk-admin-CANARY0123456789abcd"
SERVICE = "tokenwatch"
#: Dialogs the running test opened; `run` closes them and waits for their tasks.
OPEN_DIALOGS: list[SettingsDialog] = []


class LockedKeyring(keyring.backend.KeyringBackend):
    """A Secret Service whose collection stays locked: every call raises `KeyringLocked`."""

    priority = -10  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")


class HangingKeyring(MemoryKeyring):
    """A keyring whose calls block until `release` is set, like one waiting on a prompt."""

    priority = -10  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.waiting = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.waiting += 1
        self.release.wait(60)
        return super().get_password(service, username)


@pytest.fixture
def http(qloop: qasync.QEventLoop) -> Iterator[Http]:
    client = make_client()
    yield Http(client)
    qloop.run_until_complete(client.aclose())


@pytest.fixture
def config_path(isolated_home: Path) -> Path:
    return isolated_home / ".config" / "TokenWatch" / "config.yaml"


@pytest.fixture
def run(qloop: qasync.QEventLoop) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """Run a test body on the loop, then close its dialogs and wait for their tasks to end."""

    async def closed(body: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await body
        finally:
            for dialog in OPEN_DIALOGS:
                dialog.close()
            await until(lambda: not any(dialog.busy for dialog in OPEN_DIALOGS))
            OPEN_DIALOGS.clear()
            # Collect cycles that contain widgets here, on the GUI thread: a collection that
            # happened to run in a keyring thread would destroy them from the wrong thread.
            QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            gc.collect()

    def runner(body: Coroutine[Any, Any, Any]) -> Any:
        return qloop.run_until_complete(asyncio.wait_for(closed(body), 60))

    return runner


async def until(condition: Callable[[], bool], turns: int = 3000) -> None:
    """Let the loop run until `condition()` is true; fail after `turns` short sleeps."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never became true")


def openai_settings(config_path: Path, loopback: LoopbackServer | None = None) -> Settings:
    base_url = loopback.base_urls()["openai"] if loopback else None
    account = AccountConfig("openai", "openai", enabled=True, base_url=base_url)
    return Settings(path=config_path, accounts=[account])


def open_dialog(settings: Settings, config_path: Path, http: Http,
                **options: Any) -> SettingsDialog:
    dialog = SettingsDialog(settings, config_path, http, clock=lambda: NOW, **options)
    dialog.show()
    OPEN_DIALOGS.append(dialog)
    return dialog


def changes(dialog: SettingsDialog) -> list[Settings]:
    emitted: list[Settings] = []
    dialog.settings_changed.connect(emitted.append)
    return emitted


def files_containing(root: Path, text: str) -> list[Path]:
    needle = text.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def visible_texts(dialog: SettingsDialog) -> list[str]:
    texts = [dialog.windowTitle()]
    for label in dialog.findChildren(QLabel):
        texts += [label.text(), label.toolTip()]
    for edit in dialog.findChildren(QLineEdit):
        texts += [edit.placeholderText(), edit.toolTip()]
    return texts


def key_state(dialog: SettingsDialog, account_id: str) -> str:
    return dialog.row(account_id).key_state.text()


def test_entered_key_stored_only_in_keyring(
    qtbot: Any, run: Any, http: Http, config_path: Path, isolated_home: Path,
    memory_keyring: MemoryKeyring,
) -> None:
    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)
        emitted = changes(dialog)
        await until(lambda: key_state(dialog, "openai") == "not stored")

        qtbot.keyClicks(dialog.row("openai").key_edit, f"  {CANARY}  ")  # pasted with spaces
        dialog.save_button.click()
        await until(lambda: dialog.result() == QDialog.DialogCode.Accepted)

        assert memory_keyring.secrets == {(SERVICE, "openai"): CANARY}
        assert key_state(dialog, "openai") == "stored (sk-…abcd)"
        assert dialog.row("openai").key_edit.text() == ""
        assert len(emitted) == 1
        assert config_path.is_file()
        assert [a.id for a in config.load(config_path).accounts] == ["openai"]
        assert files_containing(isolated_home, CANARY) == []
        assert not any(CANARY in text for text in visible_texts(dialog))

    run(body())


def test_stored_key_never_shown(
    qtbot: Any, run: Any, http: Http, config_path: Path, memory_keyring: MemoryKeyring,
) -> None:
    memory_keyring.secrets[(SERVICE, "openai")] = CANARY

    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)
        await until(lambda: key_state(dialog, "openai") == "stored")

        assert dialog.row("openai").key_edit.text() == ""
        assert dialog.row("openai").key_edit.echoMode() == QLineEdit.EchoMode.Password
        assert not any(CANARY in text for text in visible_texts(dialog))
        assert not any(CANARY[-8:] in text for text in visible_texts(dialog))

    run(body())


def test_keyring_backend_named(
    qtbot: Any, run: Any, http: Http, config_path: Path,
) -> None:
    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)
        await until(lambda: "MemoryKeyring" in dialog.keyring_label.text())

        assert "OS keyring" in dialog.keyring_label.text()
        assert "TOKENWATCH_KEY_<ACCOUNT>" in dialog.keyring_label.text()

    run(body())


def test_connection_with_entered_key(
    qtbot: Any, run: Any, http: Http, config_path: Path, loopback: LoopbackServer,
    memory_keyring: MemoryKeyring,
) -> None:
    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path, loopback), config_path, http)
        qtbot.addWidget(dialog)
        row = dialog.row("openai")

        qtbot.keyClicks(row.key_edit, CANARY)
        row.test_button.click()
        await until(lambda: row.test_result.text().startswith(("Connected", "Failed")))

        assert row.test_result.text().startswith("Connected: $"), row.test_result.text()
        assert "last 30 days" in row.test_result.text()
        assert loopback.world.counters["openai:requests"] > 0
        assert memory_keyring.secrets == {}
        assert not config_path.exists()

    run(body())


def test_connection_auth_failure_shown(
    qtbot: Any, run: Any, http: Http, config_path: Path, loopback: LoopbackServer,
) -> None:
    loopback.world.set_scenario("openai", "auth")

    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path, loopback), config_path, http)
        qtbot.addWidget(dialog)
        row = dialog.row("openai")

        qtbot.keyClicks(row.key_edit, CANARY)
        row.test_button.click()
        await until(lambda: row.test_result.text().startswith(("Connected", "Failed")))

        assert row.test_result.text().startswith("Failed: OpenAI (account openai)")
        assert "HTTP 401" in row.test_result.text()
        assert CANARY not in row.test_result.text()
        assert row.test_button.isEnabled()

    run(body())


def test_connection_uses_stored_key(
    qtbot: Any, run: Any, http: Http, config_path: Path, loopback: LoopbackServer,
    memory_keyring: MemoryKeyring,
) -> None:
    memory_keyring.secrets[(SERVICE, "openai")] = CANARY
    loopback.world.set_scenario("openai", "auth", key=CANARY)  # only the stored key gets a 401

    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path, loopback), config_path, http)
        qtbot.addWidget(dialog)
        row = dialog.row("openai")

        row.test_button.click()
        await until(lambda: row.test_result.text().startswith(("Connected", "Failed")))

        assert "HTTP 401" in row.test_result.text()

    run(body())


def test_connection_without_key(
    qtbot: Any, run: Any, http: Http, config_path: Path, loopback: LoopbackServer,
) -> None:
    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path, loopback), config_path, http)
        qtbot.addWidget(dialog)
        row = dialog.row("openai")

        row.test_button.click()
        await until(lambda: row.test_result.text().startswith(("Connected", "Failed")))

        assert "has no key" in row.test_result.text()
        assert loopback.world.counters["openai:requests"] == 0

    run(body())


def test_connection_invalid_base_url(
    qtbot: Any, run: Any, http: Http, config_path: Path,
) -> None:
    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)
        row = dialog.row("openai")
        row.advanced_button.click()
        assert row.base_url_edit is not None
        qtbot.keyClicks(row.base_url_edit, "api.example.test/v1")

        row.test_button.click()

        assert "base URL api.example.test/v1 is invalid" in row.test_result.text()

    run(body())


def test_add_accounts_and_save(
    qtbot: Any, run: Any, http: Http, config_path: Path, memory_keyring: MemoryKeyring,
) -> None:
    async def body() -> None:
        dialog = open_dialog(Settings(path=config_path), config_path, http)
        qtbot.addWidget(dialog)
        emitted = changes(dialog)
        assert dialog.empty_label.isVisible()

        dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData("deepseek"))
        dialog.add_button.click()
        dialog.add_button.click()
        await until(lambda: key_state(dialog, "deepseek-2") == "not stored")
        qtbot.keyClicks(dialog.row("deepseek-2").key_edit, "sk-second-deepseek-key-9876")
        dialog.save_button.click()
        await until(lambda: dialog.result() == QDialog.DialogCode.Accepted)

        assert [row.account_id for row in dialog.rows()] == ["deepseek", "deepseek-2"]
        assert not dialog.empty_label.isVisible()
        assert [a.id for a in emitted[0].accounts] == ["deepseek", "deepseek-2"]
        assert [a.id for a in config.load(config_path).accounts] == ["deepseek", "deepseek-2"]
        assert memory_keyring.secrets == {(SERVICE, "deepseek-2"): "sk-second-deepseek-key-9876"}

    run(body())


def test_remove_account_deletes_key(
    qtbot: Any, run: Any, http: Http, config_path: Path, memory_keyring: MemoryKeyring,
) -> None:
    memory_keyring.secrets[(SERVICE, "openai")] = CANARY
    memory_keyring.secrets[(SERVICE, "deepseek")] = "sk-deepseek-kept-000000"
    settings = Settings(path=config_path, accounts=[AccountConfig("openai", "openai"),
                                                    AccountConfig("deepseek", "deepseek")])

    async def body() -> None:
        dialog = open_dialog(settings, config_path, http)
        qtbot.addWidget(dialog)
        emitted = changes(dialog)

        dialog.row("openai").remove_button.click()
        assert "openai" not in [row.account_id for row in dialog.rows()]
        assert (SERVICE, "openai") in memory_keyring.secrets  # nothing happens before Save
        dialog.save_button.click()
        await until(lambda: dialog.result() == QDialog.DialogCode.Accepted)

        assert memory_keyring.secrets == {(SERVICE, "deepseek"): "sk-deepseek-kept-000000"}
        assert [a.id for a in emitted[0].accounts] == ["deepseek"]
        assert [a.id for a in config.load(config_path).accounts] == ["deepseek"]

    run(body())


def test_remove_then_cancel_keeps_key(
    qtbot: Any, run: Any, http: Http, config_path: Path, memory_keyring: MemoryKeyring,
) -> None:
    memory_keyring.secrets[(SERVICE, "openai")] = CANARY

    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)
        emitted = changes(dialog)

        dialog.row("openai").remove_button.click()
        dialog.buttons.rejected.emit()
        await asyncio.sleep(0.01)

        assert dialog.result() == QDialog.DialogCode.Rejected
        assert memory_keyring.secrets == {(SERVICE, "openai"): CANARY}
        assert emitted == []
        assert not config_path.exists()

    run(body())


def test_readded_id_gets_new_number(
    qtbot: Any, run: Any, http: Http, config_path: Path,
) -> None:
    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)

        dialog.row("openai").remove_button.click()
        dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData("openai"))
        dialog.add_button.click()

        assert [row.account_id for row in dialog.rows()] == ["openai-2"]

    run(body())


def test_general_settings_saved(
    qtbot: Any, run: Any, http: Http, config_path: Path,
) -> None:
    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)
        emitted = changes(dialog)
        assert dialog.refresh_spin.minimum() == 5
        assert dialog.refresh_spin.maximum() == 1440

        dialog.period_combo.setCurrentIndex(dialog.period_combo.findData("7d"))
        dialog.boundary_combo.setCurrentIndex(dialog.boundary_combo.findData("local"))
        dialog.refresh_spin.setValue(60)
        dialog.row("openai").enabled_box.setChecked(False)
        qtbot.keyClicks(dialog.row("openai").name_edit, "Acme org")
        dialog.save_button.click()
        await until(lambda: dialog.result() == QDialog.DialogCode.Accepted)

        saved = config.load(config_path)
        assert saved.period == "7d"
        assert saved.day_boundary is DayBoundary.LOCAL
        assert saved.refresh_minutes == 60
        assert saved.accounts[0].enabled is False
        assert saved.accounts[0].name == "Acme org"
        assert emitted[0].refresh_minutes == 60

    run(body())


def test_grok_needs_team_id(
    qtbot: Any, run: Any, http: Http, config_path: Path,
) -> None:
    async def body() -> None:
        dialog = open_dialog(Settings(path=config_path), config_path, http)
        qtbot.addWidget(dialog)
        dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData("grok"))
        dialog.add_button.click()

        dialog.save_button.click()
        assert "needs a team id" in dialog.status_label.text()
        assert not config_path.exists()

        team_edit = dialog.row("grok").team_edit
        assert team_edit is not None
        qtbot.keyClicks(team_edit, "team-42")
        dialog.save_button.click()
        await until(lambda: dialog.result() == QDialog.DialogCode.Accepted)

        assert config.load(config_path).accounts[0].option("team_id") == "team-42"

    run(body())


def test_invalid_key_rejected(
    qtbot: Any, run: Any, http: Http, config_path: Path, memory_keyring: MemoryKeyring,
) -> None:
    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)
        row = dialog.row("openai")

        qtbot.keyClicks(row.key_edit, "sk-admin-abc def-ghi")
        dialog.save_button.click()

        assert row.key_note.text().startswith("Not saved: the key contains a space")
        assert "invalid" in dialog.status_label.text()
        assert memory_keyring.secrets == {}
        assert not config_path.exists()
        assert not any("abc def" in text for text in visible_texts(dialog))

    run(body())


def test_key_prefix_warns_only(
    qtbot: Any, run: Any, http: Http, config_path: Path, memory_keyring: MemoryKeyring,
) -> None:
    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)
        row = dialog.row("openai")

        qtbot.keyClicks(row.key_edit, "sk-proj-0123456789abcdef")
        assert "does not look like an OpenAI admin key" in row.key_note.text()
        dialog.save_button.click()
        await until(lambda: dialog.result() == QDialog.DialogCode.Accepted)

        assert memory_keyring.secrets == {(SERVICE, "openai"): "sk-proj-0123456789abcdef"}

    run(body())


def test_environment_key_noted(
    qtbot: Any, run: Any, http: Http, config_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOKENWATCH_KEY_OPENAI", CANARY)

    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)

        assert "TOKENWATCH_KEY_OPENAI is set" in dialog.row("openai").key_note.text()
        assert not any(CANARY in text for text in visible_texts(dialog))

    run(body())


def test_locked_keyring_shown(
    qtbot: Any, run: Any, http: Http, config_path: Path, isolated_home: Path,
) -> None:
    keyring.set_keyring(LockedKeyring())

    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)
        await until(lambda: key_state(dialog, "openai") == "keyring locked")
        assert dialog.keyring_label.text().startswith("The keyring is locked")
        assert "TOKENWATCH_KEY_<ACCOUNT>" in dialog.keyring_label.text()

        qtbot.keyClicks(dialog.row("openai").key_edit, CANARY)
        dialog.save_button.click()
        await until(lambda: "Settings saved, but" in dialog.status_label.text())

        assert dialog.isVisible()
        assert dialog.row("openai").key_note.text().startswith("Not stored: the keyring is locked")
        assert config_path.is_file()
        assert files_containing(isolated_home, CANARY) == []

    run(body())


def test_no_keyring_shown(
    qtbot: Any, run: Any, http: Http, config_path: Path,
) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())

    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)
        await until(lambda: key_state(dialog, "openai") == "no keyring available")

        assert dialog.keyring_label.text().startswith("No keyring is available")
        assert "keyring.backends.fail.Keyring" in dialog.keyring_label.text()
        assert "TOKENWATCH_KEY_<ACCOUNT>" in dialog.keyring_label.text()

    run(body())


def test_remove_with_locked_keyring_keeps_account(
    qtbot: Any, run: Any, http: Http, config_path: Path,
) -> None:
    keyring.set_keyring(LockedKeyring())

    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)

        dialog.row("openai").remove_button.click()
        dialog.save_button.click()
        await until(lambda: "Settings saved, but" in dialog.status_label.text())

        assert "account openai was kept" in dialog.status_label.text()
        assert [row.account_id for row in dialog.rows()] == ["openai"]
        assert [a.id for a in config.load(config_path).accounts] == ["openai"]

    run(body())


def test_hanging_keyring_keeps_dialog_responsive(
    qtbot: Any, run: Any, http: Http, config_path: Path,
) -> None:
    backend = HangingKeyring()
    keyring.set_keyring(backend)
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))

    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http,
                             keyring_timeout=120)
        qtbot.addWidget(dialog)
        await until(lambda: backend.waiting > 0)
        timer.start(1)
        await until(lambda: len(ticks) >= 5)

        row = dialog.row("openai")
        row.advanced_button.click()
        assert row.base_url_edit is not None
        assert row.base_url_edit.isVisible()
        qtbot.keyClicks(row.name_edit, "still typing")
        assert row.name_edit.text() == "still typing"
        assert key_state(dialog, "openai") == "checking…"

        backend.release.set()
        await until(lambda: key_state(dialog, "openai") == "not stored")

    try:
        run(body())
    finally:
        timer.stop()
        backend.release.set()


def test_hanging_keyring_times_out(
    qtbot: Any, run: Any, http: Http, config_path: Path,
) -> None:
    backend = HangingKeyring()
    keyring.set_keyring(backend)

    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http,
                             keyring_timeout=0.2)
        qtbot.addWidget(dialog)
        await until(lambda: key_state(dialog, "openai") == "keyring not answering")

        assert dialog.keyring_label.text().startswith("The keyring is not answering")
        assert "TOKENWATCH_KEY_<ACCOUNT>" in dialog.keyring_label.text()

    try:
        run(body())
    finally:
        backend.release.set()


def test_closing_does_not_quit(
    qtbot: Any, run: Any, http: Http, config_path: Path, qapp: QApplication,
) -> None:
    closed: list[int] = []

    def on_last_window_closed() -> None:
        closed.append(1)

    qapp.lastWindowClosed.connect(on_last_window_closed)
    assert qapp.quitOnLastWindowClosed()

    async def body() -> None:
        dialog = open_dialog(openai_settings(config_path), config_path, http)
        qtbot.addWidget(dialog)

        dialog.close()
        await asyncio.sleep(0.01)

        assert not dialog.isVisible()
        assert closed == []

    try:
        run(body())
    finally:
        qapp.lastWindowClosed.disconnect(on_last_window_closed)
