"""Write realistic Claude Code and Codex log trees, for tests, benchmarks and demos.

The Claude Code tree has several projects and months of sessions. Responses are streamed over
several lines that share input and cache counts while output grows; some lack `requestId`; some
sessions are resumed into a new file that starts with a copy of the old one; sub-agents write
sidechain lines and nested `data.message` progress copies; there are `<synthetic>` lines, old
lines with `costUSD`, and a few corrupt lines. The Codex tree has rollouts with cumulative
counters, `info: null` events, events without `last_token_usage`, model changes, a sub-agent
replay and archived copies. Everything is compact JSON, as the agents write it.

Usage: python -m tokenwatch_desktop.local.generate OUT --size 500MB [--agents claude-code,codex]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

CLAUDE_MODELS = (("claude-sonnet-4-5-20250929", 60), ("claude-opus-4-5-20251101", 20),
                 ("claude-haiku-4-5-20251001", 15), ("claude-opus-4-1-20250805", 5))
CODEX_MODELS = ("gpt-5-codex", "gpt-5.1-codex", "gpt-5.1-codex-max", "gpt-5")
#: Claude Code stopped writing `costUSD` in version 1.0.9; sessions before this day use 1.0.8.
COST_USD_UNTIL = 30  # days after the first day of history
_WORDS = ("the file function return value test error config import class module request "
          "response token cache read write update check build run path line data model async "
          "await self def if else for while None True False list dict str int").split()


@dataclass
class Summary:
    """What was written, so a benchmark can explain where two counters differ."""

    files: int = 0
    bytes: int = 0
    lines: int = 0
    responses: int = 0  #: distinct API responses (unique message ids in main threads)
    assistant_lines: int = 0
    no_request_id_lines: int = 0  #: assistant lines without `requestId`
    mixed_request_id_responses: int = 0  #: responses whose copies differ in having one
    sidechain_responses: int = 0
    btw_replays: int = 0  #: sidechain copies of a main response under a new requestId
    progress_copies: int = 0
    resumed_sessions: int = 0
    resumed_copied_lines: int = 0
    synthetic_lines: int = 0
    cost_usd_responses: int = 0
    corrupt_lines: int = 0
    codex_files: int = 0
    codex_events: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class _Text:
    """Random prose and code from one pre-built block, sliced (fast enough for 500 MB)."""

    def __init__(self, rng: random.Random) -> None:
        words = [rng.choice(_WORDS) for _ in range(200_000)]
        for index in range(0, len(words), 13):
            words[index] += rng.choice(('\n', '"', "\\n", "(", ")", ":", "\t", "{}"))
        self.block = " ".join(words)
        self.rng = rng

    def __call__(self, size: int) -> str:
        start = self.rng.randrange(0, len(self.block) - size - 1)
        return self.block[start:start + size]


def _dump(record: Any) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


class ClaudeWriter:
    """Writes one Claude Code tree under `<out>/claude/projects`."""

    def __init__(self, out: Path, rng: random.Random, summary: Summary, end: date,
                 days: int) -> None:
        self.root = out / "claude" / "projects"
        self.rng = rng
        self.text = _Text(rng)
        self.summary = summary
        self.first_day = end - timedelta(days=days - 1)
        self.days = days
        self.projects = [f"-home-dana-src-{name}" for name in
                         ("tokenwatch", "webshop", "infra", "notes", "ml-lab", "cli-tools",
                          "docs-site", "billing")]
        self.finished: list[tuple[Path, list[bytes]]] = []

    def session(self, budget: int) -> int:
        """Write one session of about `budget` bytes; return the bytes written."""
        project = self.rng.choice(self.projects)
        session_id = str(uuid.UUID(int=self.rng.getrandbits(128)))
        start = self._start_instant()
        lines: list[bytes] = []
        resumed = self.finished and self.rng.random() < 0.08
        if resumed:
            _old_path, old_lines = self.rng.choice(self.finished)
            lines.extend(old_lines)
            self.summary.resumed_sessions += 1
            self.summary.resumed_copied_lines += len(old_lines)
        context = _Session(self, session_id, start, old=(start - self._first()).days
                           < COST_USD_UNTIL)
        written = sum(map(len, lines))
        while written < budget:
            turn = context.turn()
            lines.extend(turn)
            written += sum(map(len, turn))
        path = self.root / project / f"{session_id}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join(lines)
        path.write_bytes(data)
        self.finished.append((path, lines[-40:] if len(lines) > 40 else lines))
        self.finished = self.finished[-50:]
        self.summary.files += 1
        self.summary.lines += len(lines)
        return len(data)

    def _first(self) -> datetime:
        return datetime(self.first_day.year, self.first_day.month, self.first_day.day,
                        tzinfo=UTC)

    def _start_instant(self) -> datetime:
        return self._first() + timedelta(seconds=self.rng.randrange(self.days * 86400))


class _Session:
    """One conversation: user prompts, streamed responses, tool results, sub-agents."""

    def __init__(self, writer: ClaudeWriter, session_id: str, start: datetime,
                 old: bool) -> None:
        self.w = writer
        self.rng = writer.rng
        self.session_id = session_id
        self.now = start
        self.old = old
        self.version = "1.0.8" if old else self.rng.choice(("2.0.14", "2.1.4", "2.1.9"))
        self.model = self._pick_model()
        self.parent: str | None = None

    def _pick_model(self) -> str:
        names = [name for name, _ in CLAUDE_MODELS]
        weights = [weight for _, weight in CLAUDE_MODELS]
        return self.rng.choices(names, weights)[0]

    def _tick(self, low: float, high: float) -> str:
        self.now += timedelta(seconds=self.rng.uniform(low, high))
        return self.now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.now.microsecond // 1000:03d}Z"

    def _base(self, kind: str, sidechain: bool = False) -> dict[str, Any]:
        line_id = str(uuid.UUID(int=self.rng.getrandbits(128)))
        record = {"parentUuid": self.parent, "isSidechain": sidechain, "userType": "external",
                  "cwd": "/home/dana/src/project", "sessionId": self.session_id,
                  "version": self.version, "gitBranch": "main", "type": kind, "uuid": line_id}
        self.parent = line_id
        return record

    def turn(self) -> list[bytes]:
        out = [self._user(self.w.text(self.rng.randint(20, 400)))]
        for _ in range(self.rng.randint(1, 6)):
            out.extend(self._response())
            out.append(self._tool_result())
        if self.rng.random() < 0.15:
            out.extend(self._subagent())
        if self.rng.random() < 0.03:
            out.append(self._synthetic())
        if self.rng.random() < 0.02:
            out.append(self._corrupt(out[1]))
        return out

    def _user(self, text: str) -> bytes:
        record = self._base("user")
        record.update(message={"role": "user", "content": text}, timestamp=self._tick(5, 600))
        return _dump(record)

    def _tool_result(self) -> bytes:
        record = self._base("user")
        size = int(self.rng.paretovariate(1.3) * 900)
        record.update(message={"role": "user", "content": [{
            "tool_use_id": "toolu_" + uuid.UUID(int=self.rng.getrandbits(128)).hex[:24],
            "type": "tool_result", "content": self.w.text(min(size, 60_000))}]},
            timestamp=self._tick(0.2, 30))
        return _dump(record)

    def _usage(self, output: int, split: bool) -> dict[str, Any]:
        write = self.rng.choice((0, 0, self.rng.randint(100, 20_000)))
        usage: dict[str, Any] = {"input_tokens": self.rng.randint(1, 40),
                                 "cache_creation_input_tokens": write,
                                 "cache_read_input_tokens": self.rng.randint(5_000, 180_000)}
        if split:
            hour = write if self.rng.random() < 0.1 else 0
            usage["cache_creation"] = {"ephemeral_5m_input_tokens": write - hour,
                                       "ephemeral_1h_input_tokens": hour}
        usage["output_tokens"] = output
        usage["service_tier"] = "standard"
        return usage

    def _response(self, sidechain: bool = False) -> list[bytes]:
        message_id = "msg_01" + uuid.UUID(int=self.rng.getrandbits(128)).hex[:22]
        request_id = "req_011" + uuid.UUID(int=self.rng.getrandbits(128)).hex[:20]
        copies = self.rng.choice((1, 2, 2, 3))
        usage = self._usage(1, split=not self.old)
        rid_mode = self.rng.random()  # 0.06: no requestId on any copy, 0.04: on some
        final = self.rng.randint(20, 2_500)
        out, records = [], []
        for index in range(copies):
            record = self._base("assistant", sidechain)
            usage = dict(usage, output_tokens=1 if index < copies - 1 else final)
            content: list[dict[str, Any]] = [
                {"type": "text", "text": self.w.text(self.rng.randint(40, 1500))}]
            if self.rng.random() < 0.5:
                content.append({"type": "tool_use", "id": "toolu_" + message_id[6:30],
                                "name": "Read", "input": {"file_path": "/src/app.py"}})
            record["message"] = {"id": message_id, "type": "message", "role": "assistant",
                                 "model": self.model, "content": content, "stop_reason": None,
                                 "stop_sequence": None, "usage": usage}
            if rid_mode >= 0.10 or (rid_mode >= 0.06 and index % 2 == 0):
                record["requestId"] = request_id
            else:
                self.w.summary.no_request_id_lines += 1
            if self.old:
                record["costUSD"] = round(self.rng.uniform(0.001, 0.2), 6)
            record["timestamp"] = self._tick(0.5, 20)
            records.append(record)
            out.append(_dump(record))
        self._count_response(records, copies, sidechain)
        if not sidechain and self.rng.random() < 0.01:
            out.append(self._btw_replay(records[-1]))
        return out

    def _count_response(self, records: list[dict[str, Any]], copies: int,
                        sidechain: bool) -> None:
        summary = self.w.summary
        summary.responses += 1
        summary.assistant_lines += copies
        summary.sidechain_responses += int(sidechain)
        summary.cost_usd_responses += int(self.old)
        present = {"requestId" in record for record in records}
        summary.mixed_request_id_responses += int(len(present) == 2)

    def _btw_replay(self, record: dict[str, Any]) -> bytes:
        """A `/btw` sidechain replaying a main response under a new request id."""
        replay = dict(record, isSidechain=True, timestamp=self._tick(1, 5),
                      requestId="req_011" + uuid.UUID(int=self.rng.getrandbits(128)).hex[:20])
        self.w.summary.btw_replays += 1
        self.w.summary.assistant_lines += 1
        return _dump(replay)

    def _subagent(self) -> list[bytes]:
        out = []
        for _ in range(self.rng.randint(1, 4)):
            lines = self._response(sidechain=True)
            out.extend(lines)
            last = json.loads(lines[-1])
            progress = {"parentUuid": self.parent, "isSidechain": False, "type": "progress",
                        "sessionId": self.session_id, "version": self.version,
                        "timestamp": last["timestamp"],
                        "data": {"type": "agent_progress", "message": {
                            "type": "assistant", "timestamp": last["timestamp"],
                            "message": last["message"], "requestId": last.get("requestId"),
                            "isSidechain": True}}}
            if progress["data"]["message"]["requestId"] is None:
                del progress["data"]["message"]["requestId"]
            out.append(_dump(progress))
            self.w.summary.progress_copies += 1
        return out

    def _synthetic(self) -> bytes:
        record = self._base("assistant")
        record["message"] = {"id": str(uuid.UUID(int=self.rng.getrandbits(128))),
                             "type": "message", "role": "assistant", "model": "<synthetic>",
                             "content": [{"type": "text", "text": "No response requested."}],
                             "usage": {"input_tokens": 0, "output_tokens": 0,
                                       "cache_creation_input_tokens": 0,
                                       "cache_read_input_tokens": 0}}
        record["timestamp"] = self._tick(0.1, 1)
        self.w.summary.synthetic_lines += 1
        return _dump(record)

    def _corrupt(self, line: bytes) -> bytes:
        """An assistant line cut off mid-write (as after a crash), past its `usage` key."""
        self.w.summary.corrupt_lines += 1
        return line[:-25] + b"\n"


class CodexWriter:
    """Writes Codex rollouts under `<out>/codex/sessions` and a few under `archived_sessions`."""

    def __init__(self, out: Path, rng: random.Random, summary: Summary, end: date,
                 days: int) -> None:
        self.home = out / "codex"
        self.rng = rng
        self.text = _Text(rng)
        self.summary = summary
        self.first = datetime(end.year, end.month, end.day, tzinfo=UTC) - timedelta(days=days)
        self.days = days

    def rollout(self, budget: int, subagent: bool = False) -> int:
        start = self.first + timedelta(seconds=self.rng.randrange(self.days * 86400))
        session = str(uuid.UUID(int=self.rng.getrandbits(128)))
        name = f"rollout-{start.strftime('%Y-%m-%dT%H-%M-%S')}-{session}.jsonl"
        lines = _Rollout(self, session, start, subagent).lines(budget)
        path = self.home / "sessions" / start.strftime("%Y/%m/%d") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join(lines)
        path.write_bytes(data)
        if self.rng.random() < 0.1:
            archived = self.home / "archived_sessions" / name
            archived.parent.mkdir(parents=True, exist_ok=True)
            archived.write_bytes(data)
            self.summary.extra["codex_archived_copies"] = (
                self.summary.extra.get("codex_archived_copies", 0) + 1)
        self.summary.codex_files += 1
        self.summary.files += 1
        self.summary.lines += len(lines)
        return len(data)


class _Rollout:
    def __init__(self, writer: CodexWriter, session: str, start: datetime,
                 subagent: bool) -> None:
        self.w = writer
        self.rng = writer.rng
        self.now = start
        self.session = session
        self.subagent = subagent
        self.totals = [0, 0, 0, 0]

    def _stamp(self, low: float, high: float) -> str:
        self.now += timedelta(seconds=self.rng.uniform(low, high))
        return self.now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.now.microsecond // 1000:03d}Z"

    def lines(self, budget: int) -> list[bytes]:
        meta: dict[str, Any] = {"id": self.session, "timestamp": self._stamp(0, 0),
                                "cwd": "/home/dana/src/project", "originator": "codex_cli_rs",
                                "cli_version": "0.98.0", "model_provider": "openai"}
        if self.subagent:
            meta["source"] = {"subagent": {"thread_spawn": {"parent_thread_id": "0199-parent"}}}
        out = [_dump({"timestamp": meta["timestamp"], "type": "session_meta", "payload": meta})]
        if self.subagent:
            out.extend(self._replay())
        with_context = self.rng.random() > 0.05  # early-September-2025 logs had none
        model = self.rng.choice(CODEX_MODELS)
        written = sum(map(len, out))
        while written < budget:
            if with_context and (len(out) < 3 or self.rng.random() < 0.1):
                model = model if self.rng.random() < 0.7 else self.rng.choice(CODEX_MODELS)
                out.append(_dump({"timestamp": self._stamp(0.1, 2), "type": "turn_context",
                                  "payload": {"model": model, "cwd": "/home/dana/src/project",
                                              "effort": "medium",
                                              "approval_policy": "on-request"}}))
            out.append(self._item())
            out.append(self._token_count())
            written += len(out[-1]) + len(out[-2])
        return out

    def _replay(self) -> list[bytes]:
        """A sub-agent rollout starts by replaying its parent's counts, all in one second."""
        stamp = self.now.strftime("%Y-%m-%dT%H:%M:%S")
        out = []
        for index in range(2):
            usage = self._usage(5000 * (index + 1), 3000 * (index + 1), 400 * (index + 1))
            self.totals = [usage["input_tokens"], usage["cached_input_tokens"],
                           usage["output_tokens"], usage["reasoning_output_tokens"]]
            out.append(_dump({"timestamp": f"{stamp}.{100 + index:03d}Z", "type": "event_msg",
                              "payload": {"type": "token_count",
                                          "info": {"total_token_usage": usage,
                                                   "last_token_usage": usage}}}))
        self.now += timedelta(seconds=2)
        return out

    def _item(self) -> bytes:
        payload = {"type": "function_call_output", "call_id": "call_" + self.session[:8],
                   "output": self.w.text(self.rng.randint(100, 6000))}
        return _dump({"timestamp": self._stamp(0.5, 40), "type": "response_item",
                      "payload": payload})

    def _usage(self, given: int, cached: int, output: int) -> dict[str, int]:
        reasoning = output // 3
        return {"input_tokens": given, "cached_input_tokens": cached, "output_tokens": output,
                "reasoning_output_tokens": reasoning, "total_tokens": given + output}

    def _token_count(self) -> bytes:
        self.w.summary.codex_events += 1
        stamp = self._stamp(0.5, 30)
        if self.rng.random() < 0.08:
            return _dump({"timestamp": stamp, "type": "event_msg",
                          "payload": {"type": "token_count", "info": None,
                                      "rate_limits": {"primary": None, "secondary": None}}})
        given = self.rng.randint(2_000, 60_000)
        turn = self._usage(given, self.rng.randint(0, given), self.rng.randint(10, 4_000))
        self.totals = [a + b for a, b in zip(self.totals, (
            turn["input_tokens"], turn["cached_input_tokens"], turn["output_tokens"],
            turn["reasoning_output_tokens"]), strict=True)]
        total = self._usage(self.totals[0], self.totals[1], self.totals[2])
        total["reasoning_output_tokens"] = self.totals[3]
        info: dict[str, Any] = {"total_token_usage": total, "model_context_window": 272000}
        if self.rng.random() > 0.2:
            info["last_token_usage"] = turn
        return _dump({"timestamp": stamp, "type": "event_msg",
                      "payload": {"type": "token_count", "info": info}})


def generate(out: Path, size: int, agents: tuple[str, ...] = ("claude-code",), seed: int = 7,
             end: date | None = None, days: int = 120) -> Summary:
    """Write log trees totalling about `size` bytes under `out`; return what was written."""
    rng = random.Random(seed)
    summary = Summary()
    last = end or datetime.now(UTC).date()
    shares = {"claude-code": 0.8, "codex": 0.2} if len(agents) == 2 else {agents[0]: 1.0}
    if "claude-code" in agents:
        writer = ClaudeWriter(out, rng, summary, last, days)
        target = int(size * shares["claude-code"])
        written = 0
        while written < target:
            written += writer.session(min(int(rng.paretovariate(1.2) * 150_000), 8_000_000))
        summary.bytes += written
    if "codex" in agents:
        codex = CodexWriter(out, rng, summary, last, days)
        target = int(size * shares["codex"])
        written = codex.rollout(60_000, subagent=True)
        while written < target:
            written += codex.rollout(min(int(rng.paretovariate(1.2) * 100_000), 4_000_000))
        summary.bytes += written
    return summary


def parse_size(text: str) -> int:
    """Parse `500MB`, `2GB`, `800kB` or a plain byte count (units are powers of 1000)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)[bB]?\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}; use e.g. 500MB")
    factor = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[match.group(2).lower()]
    return int(float(match.group(1)) * factor)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write `claude/` and `codex/` into")
    parser.add_argument("--size", type=parse_size, default=parse_size("50MB"),
                        help="total size of the logs, e.g. 500MB (default 50MB)")
    parser.add_argument("--agents", default="claude-code",
                        help="comma list of claude-code and codex (default claude-code)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--days", type=int, default=120, help="days of history (default 120)")
    parser.add_argument("--end", type=date.fromisoformat, default=None,
                        help="last day of history, YYYY-MM-DD (default today, UTC)")
    args = parser.parse_args(argv)
    agents = tuple(part.strip() for part in args.agents.split(",") if part.strip())
    summary = generate(args.out, args.size, agents, args.seed, args.end, args.days)
    print(json.dumps(asdict(summary), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
