"""When each account is refreshed next: the adaptive interval, provider floors, resume from sleep.

No Qt and no timers here: the controller asks `next_wakeup()` and arms its one QTimer for it.
Times are the injected clock's monotonic seconds, so tests move time by hand.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

from tokenwatch_desktop.core.settings import AccountConfig
from tokenwatch_desktop.providers import registry

log = logging.getLogger(__name__)

MIN_REFRESH_ENV = "TOKENWATCH_MIN_REFRESH_SECONDS"
#: While the window is open the interval is this fraction of `refresh_minutes`.
OPEN_WINDOW_DIVISOR = 3


class Clock(Protocol):
    """Time sources the scheduler reads: monotonic seconds, wall-clock seconds, aware now."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    def now(self) -> datetime: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)


def is_loopback(url: str | None) -> bool:
    """True for URLs whose host is a loopback address (127.0.0.0/8, ::1) or `localhost`."""
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def floor_override(accounts: Sequence[AccountConfig], demo: bool,
                   environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds from `TOKENWATCH_MIN_REFRESH_SECONDS`, honoured only in demo mode or on loopback.

    The override exists for tests and benchmarks. Against a real provider it is ignored (with
    a warning), because polling faster than the floor only earns rate limits.
    """
    env = os.environ if environ is None else environ
    raw = env.get(MIN_REFRESH_ENV, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        log.warning("%s=%r is not a number of seconds; ignored", MIN_REFRESH_ENV, raw)
        return None
    billed = [a for a in accounts if registry.PROVIDERS.get(registry.canonical(a.provider))
              and registry.info(a.provider).default_base_url is not None]
    if demo or (billed and all(is_loopback(a.base_url) for a in billed)):
        return max(0.0, seconds)
    log.warning("%s is ignored: it applies only in demo mode or when every account's base_url "
                "is a loopback address", MIN_REFRESH_ENV)
    return None


def provider_floor(account: AccountConfig) -> float:
    """The provider's minimum seconds between two refreshes of one account."""
    info = registry.PROVIDERS.get(registry.canonical(account.provider))
    minutes = info.floor_minutes if info is not None else 15
    return minutes * 60.0


@dataclass
class Schedule:
    """Per-account due times. `refresh_minutes` is the user's interval while the window is hidden.

    `floors` maps account id to seconds; `override` (from the environment) replaces every floor
    that is larger. `fetched` holds the monotonic time of each account's last refresh attempt.
    """

    clock: Clock
    refresh_minutes: int = 15
    window_open: bool = False
    floors: dict[str, float] = field(default_factory=dict)
    override: float | None = None
    fetched: dict[str, float] = field(default_factory=dict)
    unsent: set[str] = field(default_factory=set)
    _mark_wall: float = 0.0
    _mark_mono: float = 0.0

    def __post_init__(self) -> None:
        self._mark_wall = self.clock.wall()
        self._mark_mono = self.clock.monotonic()

    def set_accounts(self, accounts: Iterable[AccountConfig]) -> None:
        """Track these accounts; forget removed ones. New accounts are due at once."""
        floors = {account.id: provider_floor(account) for account in accounts}
        self.floors = floors
        self.fetched = {k: v for k, v in self.fetched.items() if k in floors}
        self.unsent &= set(floors)

    def interval(self) -> float:
        """Seconds between refreshes before floors: shorter while the window is open."""
        seconds = self.refresh_minutes * 60.0
        return seconds / OPEN_WINDOW_DIVISOR if self.window_open else seconds

    def floor(self, account_id: str) -> float:
        floor = self.floors.get(account_id, 15 * 60.0)
        return min(floor, self.override) if self.override is not None else floor

    def due_at(self, account_id: str) -> float:
        """Monotonic time at which the account is next refreshed (now or earlier when never)."""
        last = self.fetched.get(account_id)
        if last is None:
            return float("-inf")
        return last + max(self.interval(), self.floor(account_id))

    def allowed_at(self, account_id: str) -> float:
        """Monotonic time before which a manual refresh would break the provider's floor."""
        last = self.fetched.get(account_id)
        if last is None or account_id in self.unsent:
            return float("-inf")
        return last + self.floor(account_id)

    def due(self) -> list[str]:
        now = self.clock.monotonic()
        return [account_id for account_id in self.floors if self.due_at(account_id) <= now]

    def allowed(self) -> list[str]:
        now = self.clock.monotonic()
        return [account_id for account_id in self.floors if self.allowed_at(account_id) <= now]

    def next_wakeup(self) -> float | None:
        """Seconds from now until the next account is due (0 when one is due), None if none."""
        if not self.floors:
            return None
        soonest = min(self.due_at(account_id) for account_id in self.floors)
        return max(0.0, soonest - self.clock.monotonic())

    def mark_fetched(self, account_ids: Iterable[str]) -> None:
        now = self.clock.monotonic()
        for account_id in account_ids:
            self.fetched[account_id] = now
            self.unsent.discard(account_id)

    def mark_unsent(self, account_ids: Iterable[str]) -> None:
        """These attempts sent no request (no key, keyring locked): Refresh now may retry them."""
        self.unsent.update(account_ids)

    def check_resume(self) -> bool:
        """Detect a sleep: wall time ran ahead of monotonic time by more than two intervals.

        The monotonic clock stops while the machine sleeps and the wall clock does not. On a
        jump, the sleep counts as elapsed time for every account, so those past their interval
        are due at once. Returns whether a jump was seen.
        """
        wall, mono = self.clock.wall(), self.clock.monotonic()
        jump = (wall - self._mark_wall) - (mono - self._mark_mono)
        self._mark_wall, self._mark_mono = wall, mono
        if jump <= 2 * self.interval():
            return False
        log.info("the wall clock jumped %.0f s ahead of the monotonic clock; refreshing", jump)
        self.fetched = {account_id: at - jump for account_id, at in self.fetched.items()}
        return True
