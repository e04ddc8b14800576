"""What the log parsers produce: one usage record per log line or event, and the line error."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tokenwatch_desktop.core.errors import ParseError

#: Width of a stored time bucket in seconds (15 minutes, so every UTC offset in use,
#: including :30 and :45 zones, starts its days on a bucket edge).
BUCKET_SECONDS = 900
#: Larger token counts are rejected as invalid; sums of them stay within SQLite's 64-bit integers.
MAX_COUNT = 10**12


class LineProblem(enum.StrEnum):
    CORRUPT = "corrupt"  #: not a JSON object (cut off, garbled)
    INVALID = "invalid"  #: JSON, but a field has the wrong type or value


class LineError(ParseError):
    """A log line that cannot be used; `problem` says whether it was corrupt or invalid."""

    def __init__(self, problem: LineProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(slots=True)
class UsageLine:
    """Token counts of one response (Claude Code) or one turn (Codex), as read from one line.

    `message_id`/`request_id` identify a Claude Code response (None for Codex and for lines
    without them). `input` counts uncached input only; cache writes are split by lifetime;
    `output` includes reasoning. `at_ms` is the line's instant in Unix milliseconds.
    `first_ms`, when set, is the earliest instant of the same-identity copies this line stands
    for (the scanner folds consecutive copies of one response in a file into one line).
    """

    at_ms: int
    model: str | None
    input: int
    cache_read: int
    cache_write_5m: int
    cache_write_1h: int
    output: int
    message_id: str | None = None
    request_id: str | None = None
    sidechain: bool = False
    fast: bool = False
    first_ms: int | None = None

    @property
    def total(self) -> int:
        return (self.input + self.cache_read + self.cache_write_5m + self.cache_write_1h
                + self.output)

    @property
    def earliest(self) -> int:
        return self.at_ms if self.first_ms is None else self.first_ms

    def as_tuple(self) -> tuple[Any, ...]:
        """The fields in order (cheaper to send between processes than the object)."""
        return (self.at_ms, self.model, self.input, self.cache_read, self.cache_write_5m,
                self.cache_write_1h, self.output, self.message_id, self.request_id,
                self.sidechain, self.fast, self.first_ms)

    def counts(self) -> tuple[int, int, int, int, int]:
        return (self.input, self.cache_read, self.cache_write_5m, self.cache_write_1h,
                self.output)


def parse_instant(value: object) -> int:
    """Convert an RFC 3339 timestamp to Unix milliseconds; a timestamp without zone is UTC."""
    if not isinstance(value, str) or not value:
        raise LineError(LineProblem.INVALID, f"timestamp {_short(value)} is not an RFC 3339 text")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise LineError(LineProblem.INVALID, f"timestamp {_short(value)} is not RFC 3339") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    try:
        return round(instant.timestamp() * 1000)
    except (OverflowError, ValueError):
        raise LineError(LineProblem.INVALID, f"timestamp {_short(value)} is out of range") from None


def count(value: object, what: str, required: bool = False) -> int:
    """A token count: a non-negative JSON integer. A missing optional count is 0."""
    if value is None and not required:
        return 0
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise LineError(LineProblem.INVALID, f"{what} is {_short(value)}, expected a count")
    return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
