"""Shared reading of bucketed usage and cost reports (OpenAI and Anthropic use the same envelope).

Both providers return `{"data": [bucket...], "has_more": bool, "next_page": str | null}`, where a
bucket holds one day and a `results` list. This module fetches a period as concurrent windows of at
most one page of buckets each, follows every page, and reads envelopes and counts strictly while
ignoring unknown fields. A row that cannot be read is left out and reported, never counted as 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

from tokenwatch_desktop.core.errors import ErrorKind, ParseError, ProviderError
from tokenwatch_desktop.core.periods import Period, split
from tokenwatch_desktop.core.records import AccountData, ProblemInfo
from tokenwatch_desktop.providers.http import CallContext, Http, Query, follow_pages

log = logging.getLogger(__name__)

T = TypeVar("T")
Row = Mapping[str, Any]


@dataclass
class Collected(Generic[T]):
    """Rows read from one or more pages, the days their buckets covered, and rows left out."""

    rows: list[T] = field(default_factory=list)
    days: set[date] = field(default_factory=set)
    invalid: list[str] = field(default_factory=list)

    def extend(self, other: Collected[T]) -> None:
        self.rows.extend(other.rows)
        self.days.update(other.days)
        self.invalid.extend(other.invalid)


@asynccontextmanager
async def task_group() -> AsyncIterator[asyncio.TaskGroup]:
    """Run tasks together. When one fails, cancel the others and raise the first failure itself.

    `asyncio.TaskGroup` raises an `ExceptionGroup`; callers (the engine) expect one
    `ProviderError`, so the first provider error found in the group is raised in its place.
    """
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except BaseExceptionGroup as exc:
        raise first_error(exc) from None


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """Return the first `ProviderError` in a (nested) exception group, else its first leaf."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        current = pending.pop(0)
        if isinstance(current, BaseExceptionGroup):
            pending[0:0] = list(current.exceptions)
        else:
            leaves.append(current)
    for leaf in leaves:
        if isinstance(leaf, ProviderError):
            return leaf
    return leaves[0]


async def in_windows(
    period: Period,
    max_days: int,
    fetch_window: Callable[[date, date], Coroutine[Any, Any, Collected[T]]],
) -> Collected[T]:
    """Fetch a period as windows of at most `max_days` days, all in flight at once."""
    async with task_group() as group:
        tasks: list[asyncio.Task[Collected[T]]] = [group.create_task(fetch_window(start, end))
                 for start, end in split(period, max_days)]
    combined: Collected[T] = Collected()
    for task in tasks:
        combined.extend(task.result())
    return combined


@dataclass(frozen=True)
class Report:
    """One bucketed report endpoint: its path, page size, query window and bucket dates."""

    path: str
    max_days: int
    window_params: Callable[[date, date], list[tuple[str, str]]]
    bucket_day: Callable[[Mapping[str, Any], str], date]


async def fetch_report(
    ctx: CallContext,
    http: Http,
    period: Period,
    report: Report,
    group_by: Sequence[str],
    parse: Callable[[Row, date], T],
    where: str,
) -> Collected[T]:
    """Fetch a report grouped by `group_by` over `period`, its windows all in flight at once."""

    async def window(start: date, end: date) -> Collected[T]:
        params = [*report.window_params(start, end), *(("group_by[]", name) for name in group_by)]
        pages = await fetch_pages(ctx, http, report.path, params)
        return read_pages(pages, (start, end), report.bucket_day, parse, where)

    return await in_windows(period, report.max_days, window)


async def fetch_pages(
    ctx: CallContext, http: Http, path: str, params: Query
) -> list[Mapping[str, Any]]:
    """Fetch every page of one report query, sending the same filters with each cursor."""

    async def one_page(cursor: str | None, number: int) -> Mapping[str, Any]:
        query = list(params) if cursor is None else [*params, ("page", cursor)]
        page: Mapping[str, Any] = await http.request_json(ctx, "GET", path, params=query,
                                                          page=number)
        return page

    return await follow_pages(ctx, one_page)


def bucket_list(page: Mapping[str, Any], where: str) -> list[Mapping[str, Any]]:
    """Return the page's `data` list of bucket objects, or raise `ParseError` on a wrong shape."""
    data = page.get("data")
    if not isinstance(data, list):
        raise ParseError(f"{where}: the response has no `data` list; check the base URL.")
    for bucket in data:
        if not isinstance(bucket, Mapping):
            raise ParseError(f"{where}: an entry of `data` is not a bucket object.")
        if not isinstance(bucket.get("results"), list):
            raise ParseError(f"{where}: a bucket has no `results` list.")
    return data


def read_pages(
    pages: Sequence[Mapping[str, Any]],
    window: tuple[date, date],
    bucket_day: Callable[[Mapping[str, Any], str], date],
    parse: Callable[[Row, date], T],
    where: str,
) -> Collected[T]:
    """Parse the rows of every page's buckets that fall inside `window` (inclusive days)."""
    collected: Collected[T] = Collected()
    for page in pages:
        found = bucket_list(page, where)
        collected.extend(read_rows(found, lambda bucket: bucket_day(bucket, where), window,
                                   parse, where, seen=collected.days))
    return collected


def read_rows(
    buckets: Sequence[Mapping[str, Any]],
    bucket_day: Callable[[Mapping[str, Any]], date],
    window: tuple[date, date],
    parse: Callable[[Row, date], T],
    where: str,
    seen: set[date] | None = None,
) -> Collected[T]:
    """Parse each result row of buckets inside `window`. Invalid rows are listed, not raised.

    `seen` holds days already read from earlier pages; a bucket for one of them is a duplicate.
    """
    collected: Collected[T] = Collected()
    earlier = seen if seen is not None else set()
    for bucket in buckets:
        day = bucket_day(bucket)
        if not window[0] <= day <= window[1]:
            log.debug("%s: skipped a bucket for %s outside %s..%s", where, day, *window)
            continue
        if day in collected.days or day in earlier:
            # The same day twice (a repeated page or bucket) would be counted twice.
            collected.invalid.append(f"{where}: the answer repeats the bucket for {day}; "
                                     "only its first copy is counted")
            continue
        collected.days.add(day)
        for result in bucket["results"]:
            try:
                if not isinstance(result, Mapping):
                    raise ParseError(f"{where}: a row on {day} is not an object")
                collected.rows.append(parse(result, day))
            except ParseError as exc:
                collected.invalid.append(exc.message)
    return collected


def count(row: Row, name: str, where: str, *, required: bool = True) -> int:
    """Read a non-negative integer field. An absent optional field counts 0."""
    value = optional_count(row, name, where)
    if value is None:
        if required:
            raise ParseError(f"{where}: `{name}` is missing")
        return 0
    return value


def optional_count(row: Row, name: str, where: str) -> int | None:
    """Read a non-negative integer field, or None when it is absent or null."""
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParseError(f"{where}: `{name}` is {_short(value)}, expected a count")
    return value


def optional_text(row: Row, name: str, where: str) -> str | None:
    """Read a string field, or None when it is absent or null."""
    value = row.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ParseError(f"{where}: `{name}` is {_short(value)}, expected a string or null")


def invalid_problem(ctx: CallContext, what: str, invalid: Sequence[str]) -> ProblemInfo | None:
    """Build one `bad_response` problem for the rows of one call that were left out."""
    if not invalid:
        return None
    rows = "row was" if len(invalid) == 1 else "rows were"
    return ProblemInfo(
        ErrorKind.BAD_RESPONSE.value,
        f"{ctx.who}: {len(invalid)} {what} {rows} invalid and left out, so the figures are "
        f"too low (first: {invalid[0]}). Refresh later; report it if it persists.",
    )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def add_invalid(data: AccountData, ctx: CallContext, what: str, found: Collected[Any]) -> None:
    """Add a problem to `data` when rows of one call were left out; the account is then partial."""
    problem = invalid_problem(ctx, what, found.invalid)
    if problem is not None:
        log.warning("%s: %d invalid %s rows left out", ctx.account_id, len(found.invalid), what)
        data.problems.append(problem)
