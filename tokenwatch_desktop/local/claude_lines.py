"""Parse one Claude Code log line into a `UsageLine`.

Two record shapes carry usage: an assistant line with `message.usage` at the top level, and a
sub-agent progress line with the same fields nested under `data.message`. Lines of every other
kind, and locally generated `<synthetic>` messages, carry no usage and give None.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tokenwatch_desktop.local.lines import LineError, LineProblem, UsageLine, count, parse_instant

log = logging.getLogger(__name__)

#: A line that cannot carry usage never contains this key, so it is skipped unparsed.
USAGE_KEY = b'"usage"'
SYNTHETIC = "<synthetic>"
_OPTIONAL_IDS = ("version", "sessionId", "requestId")


def parse_line(raw: bytes) -> UsageLine | None:
    """Return the usage of one log line, None when it has none, or raise `LineError`."""
    if USAGE_KEY not in raw:
        return None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise LineError(LineProblem.CORRUPT, "line is not valid JSON") from None
    if not isinstance(document, dict):
        raise LineError(LineProblem.CORRUPT, "line is not a JSON object")
    record = _usage_record(document)
    if record is None:
        return None
    return _read_record(record)


def _usage_record(document: dict[str, Any]) -> dict[str, Any] | None:
    """The object that holds `message.usage`: the line itself or its nested `data.message`."""
    message = document.get("message")
    if isinstance(message, dict) and "usage" in message:
        return document if document.get("type") in ("assistant", None) else None
    data = document.get("data")
    if not isinstance(data, dict):
        return None
    nested = data.get("message")
    if not isinstance(nested, dict):
        return None
    inner = nested.get("message")
    if isinstance(inner, dict) and "usage" in inner and nested.get("type") in ("assistant", None):
        return nested
    return None


def _read_record(record: dict[str, Any]) -> UsageLine | None:
    message: dict[str, Any] = record["message"]
    model = message.get("model")
    if model == SYNTHETIC:
        return None
    for name in _OPTIONAL_IDS:
        _optional_text(record.get(name), name)
    message_id = _optional_text(message.get("id"), "message.id")
    model = _optional_text(model, "message.model")
    usage = message["usage"]
    if not isinstance(usage, dict):
        raise LineError(LineProblem.INVALID, "message.usage is not an object")

    cache_5m, cache_1h = _cache_writes(usage)
    sidechain = record.get("isSidechain")
    return UsageLine(
        at_ms=parse_instant(record.get("timestamp")),
        model=model,
        input=count(usage.get("input_tokens"), "usage.input_tokens", required=True),
        cache_read=count(usage.get("cache_read_input_tokens"), "usage.cache_read_input_tokens"),
        cache_write_5m=cache_5m,
        cache_write_1h=cache_1h,
        output=count(usage.get("output_tokens"), "usage.output_tokens", required=True),
        message_id=message_id,
        request_id=_optional_text(record.get("requestId"), "requestId"),
        sidechain=sidechain is True,
        fast=usage.get("speed") is not None,
    )


def _cache_writes(usage: dict[str, Any]) -> tuple[int, int]:
    """5-minute and 1-hour cache writes: the nested split when present, else the flat total."""
    flat = count(usage.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens")
    split = usage.get("cache_creation")
    if not isinstance(split, dict) or not (
        "ephemeral_5m_input_tokens" in split or "ephemeral_1h_input_tokens" in split
    ):
        return flat, 0
    five = count(split.get("ephemeral_5m_input_tokens"), "cache_creation.ephemeral_5m_input_tokens")
    hour = count(split.get("ephemeral_1h_input_tokens"), "cache_creation.ephemeral_1h_input_tokens")
    if flat and flat != five + hour:
        log.debug("cache write split %d + %d differs from the total %d; using the split",
                  five, hour, flat)
    return five, hour


def _optional_text(value: object, what: str) -> str | None:
    """A field that may be missing but, when present, must be a non-empty string."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise LineError(LineProblem.INVALID, f"{what} is present but not a non-empty string")
    return value
