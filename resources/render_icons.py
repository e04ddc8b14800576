"""Render resources/tokenwatch.svg into the packaged PNGs (tokenwatch_desktop/resources/).

Run from anywhere after editing the SVG:

    QT_QPA_PLATFORM=offscreen python resources/render_icons.py

QtSvg is used here only: the app itself loads the PNGs, so the bundle needs no SVG plugin.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "resources" / "tokenwatch.svg"
TARGET = ROOT / "tokenwatch_desktop" / "resources"


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def main() -> int:
    app = QGuiApplication(sys.argv[:1])  # noqa: F841 - QImage painting needs a GUI application
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        print(f"could not read {SOURCE}", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        path = TARGET / f"tokenwatch-{size}.png"
        if not render(renderer, size).save(str(path), "PNG"):
            print(f"could not write {path}", file=sys.stderr)
            return 1
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
