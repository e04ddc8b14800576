"""Paging, cursors and grouping shared by the OpenAI and Anthropic report fakes.

Both APIs page by bucket count: `limit` buckets per page, `has_more`, and an opaque `next_page`.
Here a cursor is base64 of the page number plus a digest of the query, so a client that changes
its filters between pages gets a 400 like a real server that keeps its state in the cursor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tokenwatch_desktop.providers.fake import FakeRequest, FakeWorld

#: Maximum and default `limit` per bucket width of the usage endpoints (both providers).
USAGE_LIMITS = {"1d": (31, 7), "1h": (168, 24), "1m": (1440, 60)}


class Rejected(Exception):
    """A request that gets a 400 response. The exception text is the error message."""


@dataclass(frozen=True)
class Paging:
    """The range of buckets on the requested page, and the cursor of the next page."""

    start: int
    stop: int
    next_page: str | None


def days_between(first: date, end: date) -> list[date]:
    """List the days from `first` up to (not including) `end`."""
    return [first + timedelta(days=offset) for offset in range((end - first).days)]


def limit(request: FakeRequest, maximum: int, default: int) -> int:
    """Read the `limit` parameter and check it against the endpoint's range exactly."""
    text = request.value("limit")
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise Rejected(f"limit must be an integer between 1 and {maximum}, got {text!r}")
    return int(text)


def group_by(request: FakeRequest, allowed: Iterable[str]) -> list[str]:
    """Read the `group_by` values and check each one against the endpoint's set."""
    allowed = set(allowed)
    values = request.values("group_by")
    for value in values:
        if value not in allowed:
            raise Rejected(f"invalid group_by value {value!r}; allowed: {', '.join(sorted(allowed))}")
    return values


def page(world: FakeWorld, request: FakeRequest, total: int, size: int,
         three_pages: bool) -> Paging:
    """Cut `total` buckets into pages of `size` (or exactly three pages) and pick the requested one."""
    size = min(size, world.page_size or size)
    bounds = _bounds(total, size, three_pages)
    digest = _query_digest(request)
    cursor = request.value("page")
    number = 0 if cursor is None else _read_cursor(cursor, digest, len(bounds) - 1)
    start, stop = bounds[number], bounds[number + 1]
    more = number + 2 < len(bounds)
    return Paging(start, stop, _cursor(number + 1, digest) if more else None)


def _bounds(total: int, size: int, three_pages: bool) -> list[int]:
    if three_pages:
        return [0, total // 3, 2 * total // 3, total]
    return [*range(0, total, size), total] if total else [0, 0]


def _query_digest(request: FakeRequest) -> str:
    query = sorted((name, value) for name, value in request.query if name != "page")
    return hashlib.sha256(repr(query).encode()).hexdigest()[:16]


def _cursor(number: int, digest: str) -> str:
    return base64.urlsafe_b64encode(f"page:{number}:{digest}".encode()).decode().rstrip("=")


def _read_cursor(cursor: str, digest: str, pages: int) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Rejected("invalid page cursor") from None
    label, _, rest = text.partition(":")
    number, _, sent_digest = rest.partition(":")
    if label != "page" or not number.isdigit() or not 0 < int(number) < pages:
        raise Rejected("invalid page cursor")
    if sent_digest != digest:
        raise Rejected("the page cursor belongs to a query with other parameters")
    return int(number)


def grouped(entries: Sequence[Mapping[str, Any]], keys: Sequence[str], fields: Sequence[str],
            sums: Sequence[str]) -> list[dict[str, Any]]:
    """Sum `sums` over entries with equal values of `keys`. Other grouping `fields` are null."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for entry in entries:
        ident = tuple(entry.get(name) for name in keys)
        row = groups.get(ident)
        if row is None:
            row = {name: (entry.get(name) if name in keys else None) for name in fields}
            row.update({name: _zero(entry[name]) for name in sums})
            groups[ident] = row
        for name in sums:
            row[name] += entry[name]
    return list(groups.values())


def _zero(value: Any) -> Any:
    return Decimal(0) if isinstance(value, Decimal) else 0
