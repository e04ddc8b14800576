"""Periods: parsing the command line's options, pinning to dates, and cutting into windows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenwatch_desktop.core.errors import UsageError
from tokenwatch_desktop.core.periods import (
    CUSTOM,
    DayBoundary,
    Period,
    PeriodSpec,
    parse_spec,
    resolve,
    split,
    today,
)

NOW = datetime(2026, 12, 4, 19, 0, tzinfo=UTC)
TODAY = date(2026, 12, 4)


@pytest.mark.parametrize(("label", "start"), [
    ("1d", TODAY), ("7d", date(2026, 11, 28)), ("30d", date(2026, 11, 5)),
    ("90d", date(2026, 9, 6)), ("mtd", date(2026, 12, 1)),
])
def test_resolve_labels(label: str, start: date) -> None:
    period = resolve(PeriodSpec(label), DayBoundary.UTC, NOW)
    assert period.start == start
    assert period.end == TODAY
    assert period.label == label


@pytest.mark.parametrize(("label", "length"), [("1d", 1), ("7d", 7), ("30d", 30), ("90d", 90)])
def test_lengths_include_today(label: str, length: int) -> None:
    period = resolve(PeriodSpec(label), DayBoundary.UTC, NOW)
    assert period.length == length
    assert len(list(period.days())) == length


def test_mtd_on_first_of_month() -> None:
    first = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    period = resolve(PeriodSpec("mtd"), DayBoundary.UTC, first)
    assert (period.start, period.end) == (date(2026, 12, 1), date(2026, 12, 1))


def test_custom_until_clamped_to_today() -> None:
    spec = parse_spec(None, "2026-11-01", "2027-01-31", "30d")
    period = resolve(spec, DayBoundary.UTC, NOW)
    assert period.label == CUSTOM
    assert (period.start, period.end) == (date(2026, 11, 1), TODAY)


def test_custom_without_until_ends_today() -> None:
    period = resolve(parse_spec(None, "2026-12-01", None, "30d"), DayBoundary.UTC, NOW)
    assert (period.start, period.end) == (date(2026, 12, 1), TODAY)


def test_custom_single_day() -> None:
    period = resolve(parse_spec(None, "2026-10-10", "2026-10-10", "30d"), DayBoundary.UTC, NOW)
    assert period.length == 1


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run in the Asia/Tokyo zone (UTC+9, no daylight saving time)."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_local_today_differs_from_utc(tokyo: None) -> None:
    late = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    assert today(DayBoundary.UTC, late) == TODAY
    assert today(DayBoundary.LOCAL, late) == date(2026, 12, 5)
    local = resolve(PeriodSpec("7d"), DayBoundary.LOCAL, late)
    assert (local.start, local.end) == (date(2026, 11, 29), date(2026, 12, 5))
    assert local.day_boundary is DayBoundary.LOCAL


def test_instants_are_utc_midnights() -> None:
    period = Period("7d", date(2026, 11, 28), TODAY)
    assert period.start_instant() == datetime(2026, 11, 28, tzinfo=UTC)
    assert period.end_instant() == datetime(2026, 12, 5, tzinfo=UTC)


def test_default_period_used() -> None:
    assert parse_spec(None, None, None, "7d") == PeriodSpec("7d")


@pytest.mark.parametrize(("label", "since", "until", "message"), [
    ("45d", None, None, "invalid period '45d'"),
    (None, None, None, "invalid period 'weekly'"),
    (None, None, "2026-12-01", "--until needs --since"),
    ("7d", "2026-12-01", None, "either --period or --since"),
    (None, "2026-12-05", "2026-12-01", "is after --until"),
    (None, "12/01/2026", None, "--since '12/01/2026' is not a date"),
    (None, "2026-12-01", "tomorrow", "--until 'tomorrow' is not a date"),
])
def test_parse_spec_rejects(label: str | None, since: str | None, until: str | None,
                            message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_spec(label, since, until, "weekly")
    assert message in str(caught.value)


def test_split_windows() -> None:
    period = Period("90d", date(2026, 9, 6), TODAY)
    windows = split(period, 31)
    assert windows == [
        (date(2026, 9, 6), date(2026, 10, 6)),
        (date(2026, 10, 7), date(2026, 11, 6)),
        (date(2026, 11, 7), TODAY),
    ]


def test_split_one_window() -> None:
    period = Period("30d", date(2026, 11, 5), TODAY)
    assert split(period, 180) == [(date(2026, 11, 5), TODAY)]


def test_split_rejects_zero() -> None:
    with pytest.raises(ValueError):
        split(Period("7d", date(2026, 11, 28), TODAY), 0)


@given(start=st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)),
       length=st.integers(min_value=1, max_value=800), size=st.integers(min_value=1, max_value=200))
def test_split_covers_every_day_once(start: date, length: int, size: int) -> None:
    period = Period(CUSTOM, start, start + timedelta(days=length - 1))
    windows = split(period, size)
    covered = [first + timedelta(days=n) for first, last in windows
               for n in range((last - first).days + 1)]
    assert covered == list(period.days())
    assert all(1 <= (last - first).days + 1 <= size for first, last in windows)
    assert len(windows) == -(-length // size)
