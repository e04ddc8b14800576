"""The reference app for the desktop benchmark: QApplication, a qasync loop, a tray icon and menu.

Nothing else: no HTTP client, no config, no window. `desktop_bench.py` starts it exactly as it
starts `tokenwatch-desktop` and compares start-up time and memory against it. With BENCH_OUT
set, it writes {"tray_shown": <epoch seconds>, "maxrss_kb": ...} there and quits.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time

import qasync
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon


def icon() -> QIcon:
    pixmap = QPixmap(22, 22)
    pixmap.fill(QColor("#2e86de"))
    return QIcon(pixmap)


async def main(app: QApplication) -> None:
    tray = QSystemTrayIcon(icon())
    menu = QMenu()
    menu.addAction("Open")
    quit_action = menu.addAction("Quit")
    tray.setContextMenu(menu)
    done = asyncio.Event()
    quit_action.triggered.connect(done.set)
    tray.show()
    shown = time.time()
    await asyncio.sleep(0)
    out = os.environ.get("BENCH_OUT")
    if out:
        await asyncio.sleep(1.0)  # the same settling time the app's hook allows
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with open(out, "w", encoding="utf-8") as handle:
            json.dump({"tray_shown": shown, "maxrss_kb": usage.ru_maxrss,
                       "tray_available": QSystemTrayIcon.isSystemTrayAvailable()}, handle)
        done.set()
    await done.wait()
    tray.hide()


if __name__ == "__main__":
    application = QApplication(sys.argv[:1])
    application.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(application)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(main(application))
