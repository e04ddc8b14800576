"""Parse one Claude Code log line into a `UsageLine`.

Two record shapes carry usage: an assistant line with `message.usage` at the top level, and a
sub-agent progress line with the same fields nested under `data.message`. Lines of every other
kind, and locally generated `<synthetic>` messages, carry no usage and give None.

Lines are decoded with orjson (about three times faster than `json` on these lines). A line
that orjson rejects is decoded again with `json`, which accepts a few things orjson does not
(NaN, lone surrogates, trailing form feeds), so both decoders give the same verdicts. A line
that starts with anything but `{` goes straight to `json`, because orjson would accept leading
blanks that `json` rejects.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import orjson

from tokenwatch_desktop.local.lines import (
    MAX_COUNT,
    LineError,
    LineProblem,
    UsageLine,
    count,
    parse_instant,
)

log = logging.getLogger(__name__)

#: A line that cannot carry usage never contains this key, so it is skipped unparsed.
USAGE_KEY = b'"usage"'
SYNTHETIC = "<synthetic>"
#: The C scanner behind `json.loads`, called directly to skip its encoding detection.
_SCAN: Any = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_LOADS = orjson.loads
_ORJSON_ERROR = orjson.JSONDecodeError


def parse_line(raw: bytes) -> UsageLine | None:
    """Return the usage of one log line, None when it has none, or raise `LineError`."""
    if USAGE_KEY not in raw:
        return None
    document = _decode(raw)
    message = document.get("message")
    if type(message) is dict and "usage" in message:
        if document.get("type", "assistant") != "assistant":
            return None
        record = document
    else:
        nested = _nested_record(document)
        if nested is None:
            return None
        record, message = nested
    return _read_record(record, message)


def _decode(raw: bytes) -> dict[str, Any]:
    """Decode one line as a JSON object: orjson first, `json` for what orjson rejects."""
    if raw[:1] == b"{":
        try:
            document = _LOADS(raw)
        except _ORJSON_ERROR:
            pass
        else:
            if type(document) is dict:
                return document
    return _decode_slow(raw)


def _decode_slow(raw: bytes) -> dict[str, Any]:
    """Decode with `json` (skipping `json.loads`' encoding detection)."""
    try:
        text = raw.decode()
        document, end = _SCAN(text, 0)
    except (ValueError, StopIteration, RecursionError):
        raise LineError(LineProblem.CORRUPT, "line is not valid JSON") from None
    if end != len(text) and text[end:].strip():
        raise LineError(LineProblem.CORRUPT, "line has text after its JSON value")
    if type(document) is not dict:
        raise LineError(LineProblem.CORRUPT, "line is not a JSON object")
    return document


def _nested_record(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The sub-agent progress shape: the record and its message under `data.message`."""
    data = document.get("data")
    nested = data.get("message") if type(data) is dict else None
    if type(nested) is not dict or nested.get("type", "assistant") != "assistant":
        return None
    inner = nested.get("message")
    if type(inner) is dict and "usage" in inner:
        return nested, inner
    return None


def _read_record(record: dict[str, Any], message: dict[str, Any]) -> UsageLine | None:
    model = message.get("model")
    if model == SYNTHETIC:
        return None
    message_id = message.get("id")
    request_id = record.get("requestId")
    version = record.get("version")
    session = record.get("sessionId")
    # Each identity field must be absent or a non-empty string (five checks in the common case).
    if not ((type(model) is str and model or model is None)
            and (type(message_id) is str and message_id or message_id is None)
            and (type(request_id) is str and request_id or request_id is None)
            and (type(version) is str and version or version is None)
            and (type(session) is str and session or session is None)):
        _reject_identity(((version, "version"), (session, "sessionId"),
                          (request_id, "requestId"), (message_id, "message.id"),
                          (model, "message.model")))
    usage = message["usage"]
    if type(usage) is not dict:
        raise LineError(LineProblem.INVALID, "message.usage is not an object")
    given = usage.get("input_tokens")
    output = usage.get("output_tokens")
    read = usage.get("cache_read_input_tokens", 0)
    if not (type(given) is int and type(output) is int and type(read) is int
            and 0 <= given <= MAX_COUNT and 0 <= output <= MAX_COUNT
            and 0 <= read <= MAX_COUNT):
        given = count(given, "usage.input_tokens", required=True)
        read = count(usage.get("cache_read_input_tokens"), "usage.cache_read_input_tokens")
        output = count(output, "usage.output_tokens", required=True)
    cache_5m, cache_1h = _cache_writes(usage)
    return UsageLine(parse_instant(record.get("timestamp")), model, given, read, cache_5m,
                     cache_1h, output, message_id, request_id, record.get("isSidechain") is True,
                     usage.get("speed") is not None)


def _text_or_none(value: object) -> bool:
    return value is None or (type(value) is str and value != "")


def _reject_identity(fields: tuple[tuple[object, str], ...]) -> None:
    for value, name in fields:
        if not _text_or_none(value):
            raise LineError(LineProblem.INVALID, f"{name} is present but not a non-empty string")


def _cache_writes(usage: dict[str, Any]) -> tuple[int, int]:
    """5-minute and 1-hour cache writes: the nested split when present, else the flat total."""
    flat = usage.get("cache_creation_input_tokens", 0)
    if type(flat) is not int or not 0 <= flat <= MAX_COUNT:
        flat = count(flat, "usage.cache_creation_input_tokens")
    split = usage.get("cache_creation")
    if type(split) is not dict or not (
        "ephemeral_5m_input_tokens" in split or "ephemeral_1h_input_tokens" in split
    ):
        return flat, 0
    five = count(split.get("ephemeral_5m_input_tokens"), "cache_creation.ephemeral_5m_input_tokens")
    hour = count(split.get("ephemeral_1h_input_tokens"), "cache_creation.ephemeral_1h_input_tokens")
    if flat and flat != five + hour:
        log.debug("cache write split %d + %d differs from the total %d; using the split",
                  five, hour, flat)
    return five, hour
