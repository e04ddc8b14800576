"""Line parsers on arbitrary input: a record, None, or `LineError`, never another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.local.local_logs import assistant, compact
from tokenwatch_desktop.local import claude_lines
from tokenwatch_desktop.local.codex_lines import RolloutReader
from tokenwatch_desktop.local.lines import LineError, UsageLine

SCALARS = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(
    max_size=30)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from(["type", "message", "usage", "id", "model", "data", "timestamp",
                     "requestId", "input_tokens", "output_tokens", "cache_creation", "info",
                     "payload", "total_token_usage", "last_token_usage", "isSidechain",
                     "cached_input_tokens", "version", "sessionId", "speed"]) | st.text(
                         max_size=8), inner, max_size=6), max_leaves=30)


def _mutated_assistant(draw: Any) -> bytes:
    record = assistant("msg_A", "req_A", "2026-03-01T09:14:02.118Z", 5)
    path = draw(st.sampled_from([("message", "usage"), ("message",), ()]))
    target = record
    for key in path:
        target = target[key]
    target[draw(st.sampled_from(sorted(target)))] = draw(JSON)
    return compact(record).rstrip(b"\n")


@st.composite
def claude_inputs(draw: Any) -> bytes:
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return draw(st.binary(max_size=200)) + b'"usage"'
    if choice == 1:
        return json.dumps(draw(JSON)).encode() + b'"usage"'
    return _mutated_assistant(draw)


@given(claude_inputs())
@settings(max_examples=400)
def test_claude_parser_raises_only_line_error(raw: bytes) -> None:
    try:
        result = claude_lines.parse_line(raw)
    except LineError:
        return
    assert result is None or isinstance(result, UsageLine)


@given(st.dictionaries(st.sampled_from(["info", "type", "model", "rate_limits"]), JSON),
       st.sampled_from(["event_msg", "turn_context", "response_item"]), JSON)
@settings(max_examples=400)
def test_codex_reader_raises_only_line_error(payload: dict[str, Any], kind: str,
                                             stamp: Any) -> None:
    payload.setdefault("type", "token_count")
    raw = json.dumps({"timestamp": stamp, "type": kind, "payload": payload}).encode()
    reader = RolloutReader("rollout.jsonl")
    try:
        result = reader.feed(raw + b'"token_count"')
        result = reader.feed(raw)
    except LineError:
        return
    assert result is None or isinstance(result, UsageLine)


@given(st.binary(max_size=300))
def test_codex_reader_on_bytes(raw: bytes) -> None:
    reader = RolloutReader("rollout.jsonl")
    reader.start(raw)
    try:
        reader.feed(raw + b'"token_count"')
    except LineError:
        pass
