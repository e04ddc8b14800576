"""Fetch a local-log account: scan its files off the event loop, then read its period's buckets."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any

from tokenwatch_desktop.core.periods import DayBoundary, Period
from tokenwatch_desktop.core.pricing import PriceTable
from tokenwatch_desktop.core.records import AccountData, CostRow, CostSource, Tokens, UsageRow
from tokenwatch_desktop.local import detect, scanner
from tokenwatch_desktop.local.lines import BUCKET_SECONDS
from tokenwatch_desktop.local.store import Ledger
from tokenwatch_desktop.providers.base import FetchRequest

log = logging.getLogger(__name__)

ESTIMATE_NOTE = ("API-equivalent estimate: the tokens this agent used, priced at API list "
                 "prices. It is not a bill, and a subscription plan may have covered it.")


@dataclass(frozen=True)
class Agent:
    """A coding agent whose logs an account reads."""

    provider_id: str
    vendor: str  #: the price table's vendor for its models
    name: str


class _Ledgers:
    """Open stores, one per database file, kept between refreshes of a running process so a
    refresh with nothing new costs only a look at each file's size."""

    def __init__(self) -> None:
        self._open: dict[Path, Ledger] = {}
        self._lock = threading.Lock()

    def get(self, path: Path, vendor: str) -> Ledger:
        with self._lock:
            ledger = self._open.get(path)
            if ledger is None:
                ledger = self._open[path] = Ledger(path, vendor)
            return ledger

    def close_all(self) -> None:
        with self._lock:
            for ledger in self._open.values():
                with ledger.lock:
                    ledger.close()
            self._open.clear()


LEDGERS = _Ledgers()


async def fetch(request: FetchRequest, agent: Agent) -> AccountData:
    """Scan the account's logs in a worker thread and build its figures for the period."""
    roots = detect.roots(agent.provider_id, request.account.options, os.environ)
    return await asyncio.to_thread(refresh, request, agent, roots)


def store_path(data_dir: Path, account_id: str) -> Path:
    return data_dir / "local-logs" / f"{account_id}.sqlite3"


def refresh(request: FetchRequest, agent: Agent, roots: list[Path]) -> AccountData:
    """Scan, count and read back: runs on a worker thread."""
    if request.data_dir is None:
        ledger = Ledger(None, agent.vendor)
        try:
            return _scan_and_build(ledger, request, agent, roots)
        finally:
            ledger.close()
    ledger = LEDGERS.get(store_path(request.data_dir, request.account.id), agent.vendor)
    with ledger.lock:
        return _scan_and_build(ledger, request, agent, roots)


def _scan_and_build(ledger: Ledger, request: FetchRequest, agent: Agent,
                    roots: list[Path]) -> AccountData:
    started = time.perf_counter()
    paths = scanner.find_files(roots, agent.provider_id)
    with _collector_paused():
        update = ledger.update(PriceTable(request.prices))
        try:
            result = scanner.scan(paths, agent.provider_id, ledger.files(), update.add)
            changed = update.finish(result.states, result.gone)
        except BaseException:
            update.abort()
            raise
        # Let the scan's objects go while the collector is still paused: freeing them lowers its
        # allocation count again, so re-enabling it does not start a pass over all of them.
        del update
    log.info("account %s: %d files, %d read (%d bytes), %d responses changed in %.0f ms",
             request.account.id, len(paths), result.files_read, result.bytes_read, changed,
             (time.perf_counter() - started) * 1000)
    data = build(ledger, request.period, agent)
    if not any(root.is_dir() for root in roots):
        data.notes.append(f"No {agent.name} log folder found (looked in "
                          + ", ".join(str(root) for root in roots) + ").")
    return data


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a scan builds its many small objects.

    A scan holds hundreds of thousands of lines and responses, none in reference cycles, and
    the collector would walk them all again and again (about a tenth of a first scan's time on
    the 500 MB benchmark tree).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build(ledger: Ledger, period: Period, agent: Agent) -> AccountData:
    """The period's figures from the stored buckets, in the period's day convention.

    The per-day sums are kept with the ledger until its next change, so a refresh that found
    nothing new builds its figures from them instead of reading every bucket again.
    """
    start, end = period_instants(period)
    memo = ledger.memo()
    key = ("cells", start, end, period.day_boundary, _zone())
    cells = memo.get(key)
    if cells is None:
        cells = memo[key] = _day_cells(ledger, start, end, period.day_boundary)
    data = AccountData(cost_source=CostSource.ESTIMATED, notes=[ESTIMATE_NOTE])
    daily: dict[date, Decimal] = defaultdict(Decimal)
    for (day, model), cell in cells:
        priced = cell[6] == 0
        data.usage.append(UsageRow(
            day=day, model=model,
            tokens=Tokens(cell[0], cell[1], cell[2] + cell[3], cell[4]), requests=cell[5],
            cost=cell[7] if priced else None,
            cost_source=CostSource.ESTIMATED if priced else None))
        daily[day] += cell[7]
        if not priced:
            data.unpriced_models.add(f"{agent.vendor}/{model or 'unknown model'}")
    data.costs = [CostRow(day, amount, CostSource.ESTIMATED) for day, amount in sorted(daily.items())]
    notes = memo.get(("notes", agent.provider_id))
    if notes is None:
        notes = memo[("notes", agent.provider_id)] = _line_notes(ledger, agent)
    data.notes.extend(notes)
    return data


def _day_cells(ledger: Ledger, start: int, end: int, boundary: DayBoundary
               ) -> list[tuple[tuple[date, str | None], list[Any]]]:
    """Per (day, model): the seven counts of `BucketRow.counts` and the cost, sorted."""
    day_of = day_function(boundary)
    cells: dict[tuple[date, str | None], list[Any]] = defaultdict(lambda: [0] * 7 + [Decimal(0)])
    for bucket, model, *counts, cost in ledger.bucket_tuples(start, end):
        cell = cells[(day_of(bucket), model or None)]
        for index, value in enumerate(counts):
            cell[index] += value
        cell[7] += Decimal(cost)
    return sorted(cells.items(), key=lambda item: (item[0][0], item[0][1] or ""))


def _zone() -> tuple[Any, ...]:
    """Return the process's time zone settings, on which local days depend."""
    return (os.environ.get("TZ"), time.tzname, time.timezone, time.altzone)


def _line_notes(ledger: Ledger, agent: Agent) -> list[str]:
    corrupt, invalid = ledger.line_problems()
    notes = []
    if corrupt:
        notes.append(f"{corrupt} corrupt {agent.name} log line(s) were skipped.")
    if invalid:
        notes.append(f"{invalid} {agent.name} log line(s) with invalid fields were skipped.")
    fallback = ledger.fallback_models() if agent.provider_id == "codex" else 0
    if fallback:
        notes.append(f"{fallback} {agent.name} turn(s) named no model and were counted as gpt-5.")
    return notes


def period_instants(period: Period) -> tuple[int, int]:
    """The period's start and exclusive end as Unix seconds, in its day convention."""
    first = datetime.combine(period.start, clock())
    after = datetime.combine(period.end + timedelta(days=1), clock())
    if period.day_boundary is DayBoundary.UTC:
        return _utc_seconds(first), _utc_seconds(after)
    return int(first.astimezone().timestamp()), int(after.astimezone().timestamp())


def _utc_seconds(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds())


def day_function(boundary: DayBoundary) -> Any:
    """Map a bucket to its day: UTC, or the process's local zone (`TZ`)."""
    cache: dict[int, date] = {}

    def day_of(bucket: int) -> date:
        found = cache.get(bucket)
        if found is None:
            seconds = bucket * BUCKET_SECONDS
            if boundary is DayBoundary.UTC:
                found = date(1970, 1, 1) + timedelta(days=seconds // 86400)
            else:
                found = datetime.fromtimestamp(seconds).date()
            cache[bucket] = found
        return found

    return day_of
