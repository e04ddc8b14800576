"""Icons: the application icon from package data, and tray icons drawn at run time.

The tray icon shows the amount ("$12", "$1.2k") when it is short enough to read at tray size,
and the application's bar glyph otherwise. A badge in the lower right corner shows the refresh
state. macOS menu-bar icons are masks (template images): only the alpha channel counts there,
so every state must read in one colour.
"""

from __future__ import annotations

import logging
import sys
from importlib import resources
from importlib.resources.abc import Traversable

from tokenwatch_desktop.ui.qt import (
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QPainter,
    QPen,
    QPixmap,
    QRectF,
    Qt,
)

log = logging.getLogger(__name__)

STATES = ("fresh", "refreshing", "stale", "error")
#: Sizes of the packaged application icon PNGs (`tokenwatch-<size>.png`).
APP_ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
#: Pixel sizes drawn for a tray icon. The platform picks the nearest one.
TRAY_SIZES = (16, 22, 24, 32, 44, 64)
#: Maximum length of text drawn onto the tray icon, because longer text is unreadable at 16-22 px.
MAX_TEXT = 5

_BADGE = {
    "refreshing": QColor("#2d7ff9"),
    "stale": QColor("#e0a100"),
    "error": QColor("#d93025"),
}


def resource_dir() -> Traversable:
    """Return the runtime resource folder (`tokenwatch_desktop/resources`), installed or frozen."""
    return resources.files("tokenwatch_desktop") / "resources"


def app_icon_files() -> list[Traversable]:
    """List the application icon PNGs, smallest first."""
    folder = resource_dir()
    return [folder / f"tokenwatch-{size}.png" for size in APP_ICON_SIZES]


def app_icon() -> QIcon:
    """Load the application icon at every packaged size (an empty icon when none loads)."""
    icon = QIcon()
    for entry in app_icon_files():
        pixmap = QPixmap()
        if not pixmap.loadFromData(entry.read_bytes(), "PNG"):
            log.warning("icon file %s is not a valid PNG; reinstall TokenWatch", entry.name)
            continue
        icon.addPixmap(pixmap)
    return icon


def tray_icon(text: str | None, state: str, dark: bool) -> QIcon:
    """Draw the tray icon for a state ("fresh", "refreshing", "stale", "error").

    `dark` means a dark panel, so the foreground is light. `text` (for example "$12") is drawn
    when it has at most `MAX_TEXT` characters; otherwise the bar glyph is drawn.
    """
    if state not in STATES:
        raise ValueError(f"unknown tray icon state {state!r}; expected one of {', '.join(STATES)}")
    mask = _is_macos()
    label = text if text and len(text) <= MAX_TEXT else None

    icon = QIcon()
    for size in TRAY_SIZES:
        icon.addPixmap(_draw(size, label, state, dark, mask))
    if mask:
        icon.setIsMask(True)
    return icon


def _is_macos() -> bool:
    return sys.platform == "darwin"


def _foreground(dark: bool, mask: bool) -> QColor:
    if mask:
        return QColor("black")  # a template image: macOS recolours it from the alpha channel
    return QColor("#f2f2f2") if dark else QColor("#1f1f1f")


def _draw(size: int, label: str | None, state: str, dark: bool, mask: bool) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    foreground = _foreground(dark, mask)
    if state == "stale":
        foreground.setAlphaF(0.55)  # dimmed figures read as "old" in colour and as a mask

    if label is None:
        _draw_glyph(painter, size, foreground)
    else:
        # With a badge, the text moves up so the badge covers as little of it as possible.
        height = size if state == "fresh" else size * 0.62
        _draw_text(painter, size, height, label, foreground)
    if state != "fresh":
        _draw_badge(painter, size, state, dark, mask)

    painter.end()
    return pixmap


def _draw_glyph(painter: QPainter, size: int, color: QColor) -> None:
    """Three rising bars on a base line, the tray form of the application icon."""
    unit = size / 16
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    for index, height in enumerate((5, 9, 13)):
        left = unit * (1.5 + index * 4.5)
        painter.drawRoundedRect(QRectF(left, unit * (15 - height), unit * 3.5, unit * height),
                                unit * 0.8, unit * 0.8)


def _draw_text(painter: QPainter, size: int, height: float, label: str, color: QColor) -> None:
    font = QFont()
    font.setBold(True)
    font.setPixelSize(max(6, int(height * 0.9)))
    while font.pixelSize() > 6 and QFontMetrics(font).horizontalAdvance(label) > size:
        font.setPixelSize(font.pixelSize() - 1)
    painter.setFont(font)
    painter.setPen(color)
    painter.drawText(QRectF(0, 0, size, height), Qt.AlignmentFlag.AlignCenter, label)


def _draw_badge(painter: QPainter, size: int, state: str, dark: bool, mask: bool) -> None:
    """Draw the state badge: a blue ring (refreshing), an amber dot (stale), a red "!" (error).

    The dot sits on a cut-out ring so it stays apart from the text or glyph under it.
    """
    diameter = max(6.0, size * 0.4)
    rect = QRectF(size - diameter, size - diameter, diameter, diameter)
    color = QColor("black") if mask else _BADGE[state]

    painter.save()
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("black"))
    gap = max(1.0, size / 16)
    painter.drawEllipse(rect.adjusted(-gap, -gap, gap, gap))
    painter.restore()

    if state == "refreshing":
        pen = QPen(color, max(1.5, diameter * 0.22))
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        inset = pen.widthF() / 2
        painter.drawEllipse(rect.adjusted(inset, inset, -inset, -inset))
        return
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawEllipse(rect)
    if state == "error":
        _draw_exclamation(painter, rect, mask, dark)


def _draw_exclamation(painter: QPainter, rect: QRectF, mask: bool, dark: bool) -> None:
    painter.save()
    if mask:
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
    width = rect.width() * 0.2
    left = rect.center().x() - width / 2
    top = rect.top() + rect.height() * 0.18
    painter.setBrush(QColor("white"))
    painter.drawRect(QRectF(left, top, width, rect.height() * 0.42))
    painter.drawRect(QRectF(left, rect.bottom() - rect.height() * 0.3, width, width))
    painter.restore()
