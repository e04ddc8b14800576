"""`tr()`: every user-visible string of the desktop app goes through Qt's translator."""

from __future__ import annotations

from tokenwatch_desktop.ui.qt import QCoreApplication


def tr(text: str, context: str = "TokenWatch", disambiguation: str | None = None,
       n: int = -1) -> str:
    """Translate `text` in `context`; with no translator installed, return it unchanged."""
    return QCoreApplication.translate(context, text, disambiguation, n)
