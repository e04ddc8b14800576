"""The refresh controller: which accounts to fetch and when, the current figures, the app state.

One QTimer, armed for the next due account, drives refreshes; nothing polls. A refresh runs as
one asyncio task on the qasync loop, so the GUI thread never waits on the network or the
keyring. Every failure ends as a visible state, and the next refresh is scheduled regardless.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from tokenwatch_desktop.core import secrets
from tokenwatch_desktop.core.errors import ErrorKind
from tokenwatch_desktop.core.periods import PERIODS, DayBoundary, PeriodSpec, resolve
from tokenwatch_desktop.core.records import AccountKind, AccountReport, Status
from tokenwatch_desktop.core.report import Report
from tokenwatch_desktop.core.settings import AccountConfig, Settings
from tokenwatch_desktop.engine import Engine, RefreshOptions, effective_accounts, identity
from tokenwatch_desktop.providers.http import Http
from tokenwatch_desktop.ui.qt import QObject, QTimer, Signal
from tokenwatch_desktop.ui.schedule import Clock, Schedule, SystemClock, floor_override
from tokenwatch_desktop.ui.tr import tr

log = logging.getLogger(__name__)

#: Error kinds that end an account before any request is sent, so no provider floor applies.
UNSENT_KINDS = frozenset({ErrorKind.NO_KEY.value, ErrorKind.KEYRING.value, ErrorKind.CONFIG.value})
#: How long Quit waits for cancelled fetches to finish their cleanup.
SHUTDOWN_GRACE = 2.0
#: A QTimer's interval is an int of milliseconds; cap one wait well below its overflow.
MAX_TIMER_MS = 6 * 3600 * 1000


class RefreshState(enum.StrEnum):
    """The app's state as the tray icon shows it."""

    FRESH = "fresh"
    REFRESHING = "refreshing"
    STALE = "stale"
    ERROR = "error"


EngineFactory = Callable[[Settings, bool], Engine]


@dataclass
class PeriodFigures:
    """Figures, refresh times and unsent attempts of a period that is not shown now.

    `fetched` contains monotonic times of the last refresh of each account for that period and
    `unsent` the attempts that sent no request, as `Schedule` keeps them for the shown period.
    """

    reports: dict[str, AccountReport] = field(default_factory=dict)
    fetched: dict[str, float] = field(default_factory=dict)
    unsent: set[str] = field(default_factory=set)

    def forget(self, keep: set[str]) -> None:
        """Drop every account not in `keep` (removed or changed since these were fetched)."""
        self.reports = {k: v for k, v in self.reports.items() if k in keep}
        self.fetched = {k: v for k, v in self.fetched.items() if k in keep}
        self.unsent &= keep


class Controller(QObject):
    """Owns the figures and the schedule.

    Signals:
        report_changed(object): the merged `Report` after a refresh or a period change.
        accounts_changed(object): the list of `AccountConfig` now shown (tabs follow it).
        state_changed(str): a `RefreshState` value.
        failure_changed(str): a refresh-level error message, or "" once it is cleared.
        notify(str, str): a title and message for a one-off desktop notification.
        message(str): a short status line ("OpenAI was refreshed 2 min ago ...").
        refresh_finished(): a refresh ended (with figures, an error, or cancelled).
    """

    report_changed = Signal(object)
    accounts_changed = Signal(object)
    state_changed = Signal(str)
    failure_changed = Signal(str)
    notify = Signal(str, str)
    message = Signal(str)
    refresh_finished = Signal()

    def __init__(self, settings: Settings, engine_factory: EngineFactory, *, demo: bool = False,
                 clock: Clock | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.clock = clock or SystemClock()
        self.demo = demo
        self.settings = settings
        self.period = settings.period if settings.period in PERIODS else "30d"
        self._engine_factory = engine_factory
        self._engine: Engine | None = None
        self.accounts: list[AccountConfig] = []
        self.reports: dict[str, AccountReport] = {}
        self.report: Report | None = None
        self.failure = ""
        self.state = RefreshState.FRESH
        self.last_refresh: datetime | None = None
        self._auth_failures: dict[str, int] = {}
        #: Figures of the periods not shown now, so switching back within a floor sends nothing.
        self._other_periods: dict[str, PeriodFigures] = {}
        #: Bumped when an account's settings or key change: a refresh started before that
        #: neither shows its result nor counts as this account's refresh.
        self._generation: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.schedule = Schedule(self.clock, settings.refresh_minutes)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.on_timer)

    # -- configuration -------------------------------------------------------------------

    def start(self) -> None:
        """Load the accounts and refresh those due (all of them, the first time)."""
        self.apply_settings(self.settings)

    def apply_settings(self, settings: Settings, demo: bool | None = None) -> None:
        """Adopt new settings: tabs follow the accounts, new or changed accounts refresh now."""
        demo_changed = demo is not None and demo != self.demo
        if demo is not None:
            self.demo = demo
        if self.demo:
            from tokenwatch_desktop.providers.fake.demo import demo_settings

            settings = demo_settings(settings)
        old = {} if demo_changed else {a.id: a for a in self.accounts}
        boundary_changed = settings.day_boundary != self.settings.day_boundary
        self.settings = settings
        self.accounts = [a for a in self._effective(settings)]
        self._engine = self._engine_factory(settings, self.demo)
        self.schedule.refresh_minutes = settings.refresh_minutes
        self.schedule.set_accounts(self.accounts)
        self.schedule.override = floor_override(self.accounts, self.demo)
        unchanged = {a.id for a in self.accounts if old.get(a.id) == a
                     and not (boundary_changed and identity(a).kind is AccountKind.LOCAL)}
        self._invalidate({a.id for a in self.accounts} - unchanged, keep=unchanged)
        self.accounts_changed.emit(list(self.accounts))
        self._publish()
        self._reschedule(soon=True)

    def keys_changed(self, account_ids: Iterable[str]) -> None:
        """New keys were stored for these accounts: fetch them now, floors notwithstanding.

        The key is not part of `AccountConfig`, so `apply_settings` cannot see this change.
        A rejected key's request counted against the floor; a new key starts afresh.
        """
        changed = {i for i in account_ids if i in self.schedule.floors}
        if not changed:
            return
        log.info("new keys for %s; fetching them now", ", ".join(sorted(changed)))
        self._invalidate(changed, keep={a.id for a in self.accounts} - changed)
        self._publish()
        self._reschedule(soon=True)

    def _invalidate(self, changed: set[str], keep: set[str]) -> None:
        """Forget the figures and refresh times of `changed`; only `keep` survive."""
        for account_id in changed:
            self._generation[account_id] = self._generation.get(account_id, 0) + 1
            self._auth_failures.pop(account_id, None)
        for account_id in list(self.schedule.fetched):
            if account_id not in keep:
                del self.schedule.fetched[account_id]
        self.schedule.unsent &= keep
        self.reports = {k: v for k, v in self.reports.items() if k in keep}
        for figures in self._other_periods.values():
            figures.forget(keep)

    def _effective(self, settings: Settings) -> list[AccountConfig]:
        if self.demo:
            return list(settings.accounts)
        return effective_accounts(settings, os.environ)

    def set_window_open(self, is_open: bool) -> None:
        """Record whether the window is open: the interval shortens while it is, and opening it
        refreshes what is due."""
        if self.schedule.window_open == is_open:
            return
        self.schedule.window_open = is_open
        self.check_resume()
        self._reschedule(soon=True)

    def set_period(self, label: str) -> None:
        """Show another period: figures fetched for it within the floor are shown again.

        A period not seen yet, or seen longer ago than an account's floor, is fetched. A
        running refresh is not cancelled: its figures are kept for the period it fetched.
        """
        if label not in PERIODS or label == self.period:
            return
        log.info("period changed to %s", label)
        self._other_periods[self.period] = PeriodFigures(
            self.reports, self.schedule.fetched, self.schedule.unsent)
        figures = self._other_periods.pop(label, None) or PeriodFigures()
        now = self.clock.monotonic()
        self.period = label
        self.reports = figures.reports
        self.schedule.fetched = {i: at for i, at in figures.fetched.items()
                                 if now - at < self.schedule.floor(i)}
        self.schedule.unsent = figures.unsent & set(self.schedule.fetched)
        self._publish()
        self._reschedule(soon=True)

    # -- refreshing ----------------------------------------------------------------------

    def on_timer(self) -> None:
        """Handle the refresh timer: detect a sleep, then refresh whatever is due."""
        self.check_resume()
        self._start(self.schedule.due())

    def check_resume(self) -> None:
        """Refresh at once when the machine slept (see `Schedule.check_resume`)."""
        if self.schedule.check_resume():
            for figures in self._other_periods.values():  # their times predate the sleep
                figures.fetched.clear()
                figures.unsent.clear()
            self._reschedule(soon=True)

    def refresh_now(self) -> list[str]:
        """Refresh every account whose provider floor allows it, and report which must wait."""
        allowed = self.schedule.allowed()
        waiting = [a for a in self.accounts if a.id not in allowed]
        if waiting:
            self.message.emit(self._floor_message(waiting))
        self._start(allowed)
        return allowed

    def _floor_message(self, waiting: Sequence[AccountConfig]) -> str:
        now = self.clock.monotonic()
        longest = max(self.schedule.allowed_at(a.id) - now for a in waiting)
        names = ", ".join(a.name or a.id for a in waiting)
        return tr("{names}: refreshed recently; the provider allows the next refresh in "
                  "{minutes} min").format(names=names, minutes=max(1, round(longest / 60)))

    def _start(self, account_ids: Sequence[str]) -> None:
        if self._closing or not account_ids:
            self._reschedule()
            return
        if self._task is not None and not self._task.done():
            log.debug("a refresh is running; %s wait for the next one", ", ".join(account_ids))
            return
        ids = [a.id for a in self.accounts if a.id in set(account_ids)]
        self.timer.stop()
        self._task = asyncio.ensure_future(self._refresh(ids))

    async def _refresh(self, account_ids: list[str]) -> None:
        accounts = [a for a in self.accounts if a.id in set(account_ids)]
        period = self.period
        started = {i: self._generation.get(i, 0) for i in account_ids}
        self._set_state(RefreshState.REFRESHING)
        try:
            assert self._engine is not None
            options = RefreshOptions(now=self.clock.now())
            fresh = await self._engine.refresh(accounts, PeriodSpec(period), options)
        except asyncio.CancelledError:
            log.debug("refresh of %s cancelled", ", ".join(account_ids))
            self._task = None
            raise
        except Exception as exc:
            log.exception("refresh of %s failed", ", ".join(account_ids))
            self._fail(exc)
        else:
            self._merge(fresh, period, started)
        finally:
            if self._task is not None:
                self._mark_fetched(period, [i for i in account_ids
                                            if self._generation.get(i, 0) == started[i]])
            self._task = None
            if not self._closing:
                self._publish()
                self._reschedule()
                self.refresh_finished.emit()

    def _figures(self, period: str) -> tuple[dict[str, AccountReport], dict[str, float], set[str]]:
        """Reports, refresh times and unsent attempts of a period, shown now or not."""
        if period == self.period:
            return self.reports, self.schedule.fetched, self.schedule.unsent
        figures = self._other_periods.setdefault(period, PeriodFigures())
        return figures.reports, figures.fetched, figures.unsent

    def _mark_fetched(self, period: str, account_ids: Sequence[str]) -> None:
        reports, fetched, unsent = self._figures(period)
        now = self.clock.monotonic()
        for account_id in account_ids:
            fetched[account_id] = now
            unsent.discard(account_id)
            report = reports.get(account_id)
            if report is not None and report.error is not None \
                    and report.error.kind in UNSENT_KINDS:
                unsent.add(account_id)

    def _fail(self, exc: Exception) -> None:
        self.failure = tr(
            "The refresh failed because of an internal error ({error}). The last figures are "
            "kept and the next refresh runs as scheduled; if this repeats, run "
            "tokenwatch-desktop --debug and report the log."
        ).format(error=type(exc).__name__)
        self.failure_changed.emit(self.failure)

    def _merge(self, fresh: Report, period: str, started: dict[str, int]) -> None:
        """Take the new account reports, keeping the last good figures of accounts that failed.

        Accounts whose settings or key changed since the refresh started are left out: their
        figures came from the old settings.
        """
        reports = self._figures(period)[0]
        for account in fresh.accounts:
            if self._generation.get(account.id, 0) != started.get(account.id, 0):
                continue
            reports[account.id] = _keep_last_good(reports.get(account.id), account)
            self._track_auth(account)
        if self.failure:
            self.failure = ""
            self.failure_changed.emit("")
        self.last_refresh = self.clock.now()

    def _track_auth(self, account: AccountReport) -> None:
        """Notify once when a key fails with `auth` on two refreshes in a row."""
        failed = account.error is not None and account.error.kind == ErrorKind.AUTH.value
        count = self._auth_failures.get(account.id, 0) + 1 if failed else 0
        self._auth_failures[account.id] = count
        if count == 2:
            variable = secrets.env_name(account.id)
            if os.environ.get(variable, "").strip():
                fix = tr("It comes from the environment variable {variable}, which is used "
                         "before any key stored in Settings: set it to a valid key and restart "
                         "TokenWatch.").format(variable=variable)
            else:
                fix = tr("Store a new key in Settings.")
            self.notify.emit(
                tr("{name}: key rejected").format(name=account.name),
                tr("The key of {name} was rejected twice in a row.").format(name=account.name)
                + " " + fix,
            )

    # -- state ---------------------------------------------------------------------------

    def _publish(self) -> None:
        """Rebuild the merged report from the per-account reports and tell the views."""
        self.report = self._merged_report()
        self._set_state(self._compute_state())
        self.report_changed.emit(self.report)

    def _merged_report(self) -> Report | None:
        shown = [self.reports[a.id] for a in self.accounts if a.id in self.reports]
        if not shown:
            return None
        now = self.clock.now()
        spec = PeriodSpec(self.period)
        billed = resolve(spec, DayBoundary.UTC, now)
        local = resolve(spec, self.settings.day_boundary, now)
        return Report(period=billed, accounts=shown, generated_at=self.last_refresh or now,
                      elapsed_ms=max(a.elapsed_ms for a in shown), demo=self.demo,
                      local_period=local if local != billed else None)

    def _compute_state(self) -> RefreshState:
        if self._task is not None and not self._task.done():
            return RefreshState.REFRESHING
        if self.failure:
            return RefreshState.ERROR
        shown = list(self.reports.values())
        if any(a.status is Status.ERROR and not a.stale for a in shown):
            return RefreshState.ERROR
        if any(a.stale for a in shown):
            return RefreshState.STALE
        return RefreshState.FRESH

    def _set_state(self, state: RefreshState) -> None:
        if state is self.state:
            return
        log.debug("state %s -> %s", self.state.value, state.value)
        self.state = state
        self.state_changed.emit(state.value)

    def _reschedule(self, soon: bool = False) -> None:
        """Arm the one timer for the next due account (0 ms when one is due already)."""
        if self._closing:
            return
        wait = self.schedule.next_wakeup()
        if wait is None:
            self.timer.stop()
            return
        self.timer.start(0 if soon and wait == 0 else min(int(wait * 1000), MAX_TIMER_MS))

    # -- shutdown ------------------------------------------------------------------------

    @property
    def refreshing(self) -> bool:
        return self._task is not None and not self._task.done()

    async def shutdown(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop the timer, cancel the running refresh and wait for it briefly."""
        self._closing = True
        self.timer.stop()
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), grace)
        if not task.done():
            log.warning("a refresh did not stop within %.1f s of Quit", grace)


def _keep_last_good(old: AccountReport | None, new: AccountReport) -> AccountReport:
    if new.status is not Status.ERROR or new.stale or old is None or old.as_of is None:
        return new
    return replace(old, status=Status.ERROR, error=new.error, stale=True,
                   elapsed_ms=new.elapsed_ms)


def engine_factory(http: Callable[[bool], Http], history: Callable[[], object | None],
                   data_dir: Callable[[], object | None]) -> EngineFactory:
    """Build engines over the shared HTTP client; demo engines get no history or data dir."""

    def build(settings: Settings, demo: bool) -> Engine:
        store = None if demo else history()
        folder = None if demo else data_dir()
        return Engine(settings, http(demo), demo=demo, history=store,  # type: ignore[arg-type]
                      data_dir=folder)  # type: ignore[arg-type]

    return build
