"""Resume from sleep, as an event: systemd-logind's `PrepareForSleep(false)` on the system bus.

The refresh timer counts monotonic time, which stops while the machine sleeps, so without this
signal a resumed machine would show old figures until the timer's remaining time ran out. The
controller still confirms the sleep against the clocks (`Schedule.check_resume`), so a signal
with no real sleep behind it refreshes nothing. Where there is no logind (macOS, Windows, a
container), the timer and opening the window remain the checks.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from tokenwatch_desktop.ui.qt import SLOT, QObject, Signal, Slot, dbus

log = logging.getLogger(__name__)

LOGIND = ("org.freedesktop.login1", "/org/freedesktop/login1", "org.freedesktop.login1.Manager")


class SleepWatcher(QObject):
    """Signals: resumed() after the machine wakes up."""

    resumed = Signal()

    def start(self, bus: Any = None) -> bool:
        """Listen for logind's sleep signal; False where there is no such bus or service."""
        if bus is None:
            if not sys.platform.startswith("linux"):
                return False
            bus = dbus().QDBusConnection.systemBus()
        if not bus.isConnected():
            log.debug("no system D-Bus; resume is detected when the timer fires")
            return False
        service, path, interface = LOGIND
        connected = bool(bus.connect(service, path, interface, "PrepareForSleep", self,
                                     SLOT("on_prepare_for_sleep(bool)")))
        log.debug("listening for logind's PrepareForSleep: %s", connected)
        return connected

    @Slot(bool)
    def on_prepare_for_sleep(self, going_to_sleep: bool) -> None:
        if not going_to_sleep:
            log.info("the machine woke up")
            self.resumed.emit()
