"""Turn the lines of one Codex rollout file into per-turn `UsageLine`s.

Codex writes `token_count` events whose `total_token_usage` is cumulative for the session and
whose `last_token_usage` is the last turn. Per event the turn is `last_token_usage`, else the
total minus the previous total in the same file; events with `info: null` or an all-zero turn
are skipped. The model is the latest `turn_context` model (`gpt-5` when none was written, as in
early-September-2025 logs). `input_tokens` includes cached input and `output_tokens` includes
reasoning. Sub-agent rollouts start by replaying the parent's events, all stamped with one
second; those are skipped.
"""

from __future__ import annotations

import json
from typing import Any

from tokenwatch_desktop.local.lines import LineError, LineProblem, UsageLine, count, parse_instant

FALLBACK_MODEL = "gpt-5"
#: A line that is neither a turn context nor a token count is skipped unparsed.
MARKERS = (b'"token_count"', b'"turn_context"')
SUBAGENT_MARKER = b"thread_spawn"
_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")


class RolloutReader:
    """Reads one rollout file's lines in order; `state` survives between incremental reads."""

    def __init__(self, name: str, state: dict[str, Any] | None = None) -> None:
        self.name = name
        self.state: dict[str, Any] = state if state is not None else {}
        self.state.setdefault("previous", None)
        self.state.setdefault("model", None)
        self.state.setdefault("events", 0)
        self.state.setdefault("fallback", 0)
        self.state.setdefault("replay", None)

    def start(self, head: bytes) -> None:
        """Look at the start of a file read from offset 0: find a sub-agent's replayed second."""
        if SUBAGENT_MARKER not in head[:16 * 1024]:
            return
        seconds = []
        for raw in head.split(b"\n"):
            if b'"token_count"' not in raw:
                continue
            try:
                document = json.loads(raw)
            except ValueError:
                continue
            if not _has_usage(document):
                continue
            stamp = document.get("timestamp")
            seconds.append(stamp[:19] if isinstance(stamp, str) else None)
            if len(seconds) == 2:
                break
        if len(seconds) == 2 and seconds[0] is not None and seconds[0] == seconds[1]:
            self.state["replay"] = seconds[0]

    def feed(self, raw: bytes) -> UsageLine | None:
        """Return the turn carried by one line, None for lines without one, or raise `LineError`."""
        if not any(marker in raw for marker in MARKERS):
            return None
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError):
            raise LineError(LineProblem.CORRUPT, "line is not valid JSON") from None
        if not isinstance(document, dict):
            raise LineError(LineProblem.CORRUPT, "line is not a JSON object")
        payload = document.get("payload")
        if not isinstance(payload, dict):
            return None
        kind = document.get("type")
        if kind == "turn_context":
            self._set_model(payload.get("model"))
            return None
        if kind != "event_msg" or payload.get("type") != "token_count":
            return None
        return self._token_count(document, payload)

    def _set_model(self, model: object) -> None:
        if isinstance(model, str) and model:
            self.state["model"] = model

    def _token_count(self, document: dict[str, Any], payload: dict[str, Any]) -> UsageLine | None:
        self.state["events"] += 1
        ordinal = self.state["events"]
        info = payload.get("info")
        if not isinstance(info, dict):
            return None
        stamp = document.get("timestamp")
        total = _usage(info.get("total_token_usage"), "total_token_usage")
        if self._replayed(stamp):
            if total is not None:
                self.state["previous"] = total
            return None
        last = _usage(info.get("last_token_usage"), "last_token_usage")
        turn = last if last is not None else self._since_previous(total)
        if total is not None:
            self.state["previous"] = total
        if turn is None or not any(turn):
            return None
        return self._line(parse_instant(stamp), turn, payload, info, ordinal)

    def _replayed(self, stamp: object) -> bool:
        second = self.state["replay"]
        if second is None:
            return False
        if isinstance(stamp, str) and stamp[:19] == second:
            return True
        self.state["replay"] = None
        return False

    def _since_previous(self, total: list[int] | None) -> list[int] | None:
        if total is None:
            return None
        previous = self.state["previous"] or [0] * len(_FIELDS)
        return [max(0, now - before) for now, before in zip(total, previous, strict=True)]

    def _line(self, at_ms: int, turn: list[int], payload: dict[str, Any], info: dict[str, Any],
              ordinal: int) -> UsageLine:
        given, cached, output, _reasoning = turn
        cached = min(cached, given)
        model = _text(payload.get("model")) or _text(info.get("model")) or self.state["model"]
        if model is None:
            model = FALLBACK_MODEL
            self.state["fallback"] += 1
        return UsageLine(at_ms=at_ms, model=model, input=given - cached, cache_read=cached,
                         cache_write_5m=0, cache_write_1h=0, output=output,
                         message_id=f"codex:{self.name}:{ordinal}")


def _has_usage(document: object) -> bool:
    if not isinstance(document, dict):
        return False
    payload = document.get("payload")
    info = payload.get("info") if isinstance(payload, dict) else None
    return isinstance(info, dict) and (
        info.get("last_token_usage") is not None or info.get("total_token_usage") is not None)


def _usage(value: object, what: str) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise LineError(LineProblem.INVALID, f"{what} is not an object")
    return [count(value.get(name), f"{what}.{name}") for name in _FIELDS]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
