"""Helpers for the local-log tests: log lines in the documented shapes, and a fetch runner."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tokenwatch_desktop.core.periods import DayBoundary, Period
from tokenwatch_desktop.core.records import AccountData, Tokens
from tokenwatch_desktop.core.settings import AccountConfig, PriceOverride
from tokenwatch_desktop.local import claude_code, codex
from tokenwatch_desktop.providers.base import FetchRequest

SONNET = "claude-sonnet-4-5-20250929"


def assistant(message_id: str | None, request_id: str | None, timestamp: str, output: int, *,
              input_tokens: int = 4, cache_read: int = 1000, cache_write: int = 200,
              model: str = SONNET, sidechain: bool = False, split: tuple[int, int] | None = None,
              speed: str | None = None, session: str = "8f0c3a52-6d1e-4b7a-9c2f-1e5d7a9b3c40",
              ) -> dict[str, Any]:
    """An assistant line as Claude Code writes it (field order and names as in its logs)."""
    usage: dict[str, Any] = {"input_tokens": input_tokens,
                             "cache_creation_input_tokens": cache_write,
                             "cache_read_input_tokens": cache_read}
    if split is not None:
        usage["cache_creation"] = {"ephemeral_5m_input_tokens": split[0],
                                   "ephemeral_1h_input_tokens": split[1]}
    usage["output_tokens"] = output
    usage["service_tier"] = "standard"
    if speed is not None:
        usage["speed"] = speed
    message: dict[str, Any] = {"type": "message", "role": "assistant", "model": model,
                               "content": [{"type": "text", "text": "Done."}], "usage": usage}
    if message_id is not None:
        message = {"id": message_id, **message}
    line: dict[str, Any] = {"parentUuid": None, "isSidechain": sidechain, "userType": "external",
                            "cwd": "/home/dana/src/tokenwatch", "sessionId": session,
                            "version": "2.1.4", "message": message}
    if request_id is not None:
        line["requestId"] = request_id
    line.update({"type": "assistant", "uuid": "b1a2c3d4-0000-4000-8000-000000000001",
                 "timestamp": timestamp})
    return line


def user(timestamp: str, text: str = "please read the file") -> dict[str, Any]:
    return {"parentUuid": None, "isSidechain": False, "type": "user",
            "message": {"role": "user", "content": text}, "timestamp": timestamp}


def compact(record: Any) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def write(path: Path, records: Sequence[Any], mode: str = "wb") -> Path:
    """Write records as compact JSON lines; a `bytes` record is written as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as handle:
        for record in records:
            handle.write(record if isinstance(record, bytes) else compact(record))
    return path


def period(start: date, end: date, boundary: DayBoundary = DayBoundary.UTC) -> Period:
    return Period("custom", start, end, boundary)


@dataclass
class Runner:
    """Fetches one local account over a log folder, persisting under `data_dir` (or not)."""

    data_dir: Path | None

    def __call__(self, provider: str, root: Path, span: Period,
                 prices: Sequence[PriceOverride] = ()) -> AccountData:
        request = FetchRequest(
            account=AccountConfig(provider, provider, options={"paths": [str(root)]}),
            key=None, period=span, http=None,  # type: ignore[arg-type]
            now=datetime(2026, 12, 4, 19, 0, tzinfo=UTC), data_dir=self.data_dir,
            prices=tuple(prices))
        module = claude_code if provider == "claude-code" else codex
        return asyncio.run(module.fetch(request))




def total_tokens(data: AccountData) -> Tokens:
    total = Tokens()
    for row in data.usage:
        total = total + row.tokens
    return total


def requests(data: AccountData) -> int:
    return sum(row.requests or 0 for row in data.usage)
