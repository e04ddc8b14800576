"""Reporting periods (`1d`, `7d`, `30d`, `90d`, `mtd`, or explicit dates) and day conventions."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tokenwatch_desktop.core.errors import UsageError

PERIODS = ("1d", "7d", "30d", "90d", "mtd")
#: Longest custom period, in days: a year and a bit, so a year-on-year range still fits.
MAX_CUSTOM_DAYS = 400
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CUSTOM = "custom"


class DayBoundary(enum.StrEnum):
    """Which midnight starts a day: UTC (as every billing API buckets) or the local zone."""

    UTC = "utc"
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class PeriodSpec:
    """A period as the user gave it, before it is pinned to dates."""

    label: str = "30d"
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True, slots=True)
class Period:
    """Inclusive range of days in one day convention."""

    label: str
    start: date
    end: date
    day_boundary: DayBoundary = DayBoundary.UTC

    def days(self) -> Iterator[date]:
        day = self.start
        while day <= self.end:
            yield day
            day += timedelta(days=1)

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    def start_instant(self) -> datetime:
        """The UTC instant at which the first day starts (for UTC-day periods)."""
        return datetime.combine(self.start, time(), tzinfo=UTC)

    def end_instant(self) -> datetime:
        """The UTC instant just after the last day (exclusive end)."""
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)


def parse_spec(label: str | None, since: str | None, until: str | None, default: str,
               now: datetime | None = None) -> PeriodSpec:
    """Check the command line's period options; raise `UsageError` with the valid choices.

    `--since` later than today is an error. Today is taken in whichever convention is later
    (UTC or local), so a local day that has already begun is accepted.
    """
    if since is None and until is not None:
        raise UsageError("--until needs --since; give both dates as YYYY-MM-DD")
    if since is not None:
        if label is not None:
            raise UsageError("give either --period or --since/--until, not both")
        start = _parse_date(since, "--since")
        end = _parse_date(until, "--until") if until is not None else None
        if end is not None and start > end:
            raise UsageError(f"--since {start} is after --until {end}")
        latest = max(today(DayBoundary.UTC, now), today(DayBoundary.LOCAL, now))
        if start > latest:
            raise UsageError(f"--since {start} is in the future; today is {latest}")
        last = min(end or latest, latest)
        if (last - start).days + 1 > MAX_CUSTOM_DAYS:
            raise UsageError(f"the period from {start} to {last} is longer than "
                             f"{MAX_CUSTOM_DAYS} days; choose a later --since")
        return PeriodSpec(CUSTOM, start, end)
    chosen = label if label is not None else default
    if chosen not in PERIODS:
        raise UsageError(f"invalid period {chosen!r}; valid periods are {', '.join(PERIODS)}")
    return PeriodSpec(chosen)


def today(boundary: DayBoundary, now: datetime | None = None) -> date:
    """Today in the given convention; `now` must be timezone-aware when given."""
    instant = now if now is not None else datetime.now(UTC)
    if boundary is DayBoundary.UTC:
        return instant.astimezone(UTC).date()
    return instant.astimezone().date()


def resolve(spec: PeriodSpec, boundary: DayBoundary, now: datetime | None = None) -> Period:
    """Pin a period to dates in one day convention. `--until` past today is clamped to today."""
    current = today(boundary, now)
    if spec.label == CUSTOM:
        assert spec.since is not None
        end = min(spec.until or current, current)
        start = min(spec.since, end)
        return Period(CUSTOM, start, end, boundary)
    if spec.label == "mtd":
        return Period("mtd", current.replace(day=1), current, boundary)
    count = int(spec.label.removesuffix("d"))
    return Period(spec.label, current - timedelta(days=count - 1), current, boundary)


def split(period: Period, max_days: int) -> list[tuple[date, date]]:
    """Cut a period into consecutive windows of at most `max_days` days (inclusive ends)."""
    if max_days < 1:
        raise ValueError(f"max_days must be at least 1, got {max_days}")
    windows = []
    start = period.start
    while start <= period.end:
        end = min(start + timedelta(days=max_days - 1), period.end)
        windows.append((start, end))
        start = end + timedelta(days=1)
    return windows


def _parse_date(text: str, option: str) -> date:
    # date.fromisoformat also takes 20261101 and week dates; the options promise YYYY-MM-DD.
    try:
        if not _ISO_DATE.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date; use YYYY-MM-DD") from None
