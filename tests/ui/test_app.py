"""The entry point's dispatch and the error display."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tokenwatch_desktop import app
from tokenwatch_desktop.ui.errors import Level, install_excepthook, show_error
from tokenwatch_desktop.ui.qt import QMessageBox


def test_self_check_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenwatch_desktop.ui import selfcheck

    calls: list[bool] = []
    monkeypatch.setattr(selfcheck, "run", lambda: calls.append(True) or 0)
    assert app.main(["--self-check"]) == 0
    assert calls == [True]


def test_parse_args_flags() -> None:
    args = app.parse_args(["--demo", "--config", "~/x.yaml", "--debug"])
    assert args.demo is True
    assert args.config == "~/x.yaml"
    assert args.debug is True
    assert args.self_check is False


def test_bad_hook_spec_names_variable() -> None:
    with pytest.raises(SystemExit, match="TOKENWATCH_DESKTOP_HOOK"):
        app.load_hook("no-colon-here")


def test_show_error_levels(qtbot: Any) -> None:
    box = show_error(None, Level.WARNING, "OpenAI failed", "Check the key, then refresh.",
                     details="trace")
    qtbot.addWidget(box)
    assert box.icon() == QMessageBox.Icon.Warning
    assert box.text() == "Check the key, then refresh."
    assert box.detailedText() == "trace"
    assert box.isVisible()


def test_excepthook_shows_copyable_details(qtbot: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[tuple[Level, str, str]] = []
    monkeypatch.setattr("tokenwatch_desktop.ui.errors.show_error",
                        lambda parent, level, title, text, details="": shown.append(
                            (level, text, details)))
    previous = install_excepthook()
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            sys.excepthook(*sys.exc_info())
    finally:
        sys.excepthook = previous
    assert len(shown) == 1
    level, text, details = shown[0]
    assert level is Level.ERROR
    assert "ValueError" in text
    assert "Traceback" in details
    assert "boom" in details
