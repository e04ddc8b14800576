"""Screenshot hook for `packaging/screenshots.sh`; tokenwatch-desktop runs it after the first refresh.

Loaded through TOKENWATCH_DESKTOP_HOOK=packaging/screenshots.py:take. It opens the tray menu,
the window on the All tab and on one provider tab, and the settings dialog, saves each view
as a PNG in TOKENWATCH_SCREENSHOT_DIR, then quits the app.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from tokenwatch_desktop.ui.qt import QGuiApplication, QPoint, QRect, QWidget

log = logging.getLogger("tokenwatch_desktop.screenshots")

#: How long each view gets to lay out and paint before it is captured, in seconds.
SETTLE = 0.8
PROVIDER_TAB = "anthropic"


def screen_shot(path: Path, area: QRect) -> None:
    """Save part of the X screen: menus are separate windows, so only the screen shows them."""
    screen = QGuiApplication.primaryScreen()
    shot = screen.grabWindow(0).copy(area.intersected(screen.geometry()))
    if not shot.save(str(path)):
        raise RuntimeError(f"could not write {path}")
    log.info("saved %s", path)


def widget_shot(widget: QWidget, path: Path) -> None:
    if not widget.grab().save(str(path)):
        raise RuntimeError(f"could not write {path}")
    log.info("saved %s", path)


async def tray_menu(app: Any, folder: Path) -> None:
    tray = app.tray
    if tray is None:
        log.warning("no system tray: skipping the tray menu screenshot")
        return
    for _ in range(50):
        if tray.icon.geometry().width() > 0:
            break
        await asyncio.sleep(0.1)
    corner = tray.icon.geometry().topLeft()
    size = tray.menu.sizeHint()
    tray.menu.popup(QPoint(corner.x() - size.width(), corner.y() - size.height()))
    await asyncio.sleep(SETTLE)
    area = tray.menu.geometry().united(tray.icon.geometry()).adjusted(-40, -40, 40, 40)
    screen_shot(folder / "tray-menu.png", area)
    tray.menu.hide()


async def window_tabs(app: Any, folder: Path) -> None:
    window = app.window()
    window.resize(980, 700)
    window.move(40, 30)
    app.open_window()
    window.tabs.setCurrentIndex(0)
    await asyncio.sleep(SETTLE)
    widget_shot(window, folder / "window-all.png")
    window.show_account(PROVIDER_TAB)
    await asyncio.sleep(SETTLE)
    widget_shot(window, folder / f"window-{PROVIDER_TAB}.png")


async def settings_dialog(app: Any, folder: Path) -> None:
    from tokenwatch_desktop.ui.settings import SettingsDialog

    window = app.window()
    dialog = SettingsDialog(app.controller.settings, app.config_path, app.clients.http(True),
                            window)
    dialog.resize(760, 620)
    dialog.open()
    await asyncio.sleep(SETTLE * 2)
    widget_shot(dialog, folder / "settings.png")
    dialog.reject()


async def take(app: Any) -> None:
    folder = Path(os.environ.get("TOKENWATCH_SCREENSHOT_DIR", "docs/screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        await tray_menu(app, folder)
        await window_tabs(app, folder)
        await settings_dialog(app, folder)
    finally:
        app.request_quit()
