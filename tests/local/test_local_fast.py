"""The scan's fast paths give the same results as the plain ones they replace.

- orjson decoding against `json` decoding, and the parser against a plain reading of the rules;
- folding consecutive copies in a file against counting every copy;
- sharing the scan with a helper process against reading on one thread;
- the kept day sums against another process's writes.
"""

from __future__ import annotations

import gc
import json
import logging
import random
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.local.local_logs import Runner, assistant, compact, period, requests, write
from tokenwatch_desktop.core.periods import DayBoundary
from tokenwatch_desktop.local import account, claude_lines, helper, scanner
from tokenwatch_desktop.local.generate import generate, parse_size
from tokenwatch_desktop.local.lines import LineError, UsageLine, count, parse_instant
from tokenwatch_desktop.local.store import Ledger

ALL = period(date(2025, 1, 1), date(2026, 12, 4))
MARCH = period(date(2026, 3, 1), date(2026, 3, 31))

# Lines ----------------------------------------------------------------------------------

ODD_VALUES = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
              | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
              | st.just("\ud800") | st.just("<synthetic>") | st.just(""))
COUNT_VALUES = st.integers(0, 10**6) | ODD_VALUES
TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from('"\\{}[]:,\n\t\u2028'),
               max_size=40)


@st.composite
def usage(draw: Any) -> dict[str, Any]:
    names = ["input_tokens", "output_tokens", "cache_read_input_tokens",
             "cache_creation_input_tokens", "service_tier", "speed"]
    found = {name: draw(COUNT_VALUES) for name in names if draw(st.integers(0, 5))}
    if draw(st.booleans()):
        found["cache_creation"] = {
            name: draw(COUNT_VALUES) for name in ("ephemeral_5m_input_tokens",
                                                  "ephemeral_1h_input_tokens")
            if draw(st.integers(0, 4))}
    return found


@st.composite
def records(draw: Any) -> Any:
    """Assistant and progress records with odd values, shuffled keys and escaped text."""
    message: dict[str, Any] = {
        "id": draw(st.just("msg_01A") | ODD_VALUES), "type": "message", "role": "assistant",
        "model": draw(st.sampled_from(["claude-sonnet-4-5", "<synthetic>"]) | ODD_VALUES),
        "content": [{"type": "text", "text": draw(TEXT)},
                    {"type": "tool_use", "id": "toolu_1", "input": {"usage": draw(TEXT)}}],
        "usage": draw(usage() | ODD_VALUES),
    }
    record: dict[str, Any] = {
        "isSidechain": draw(st.booleans() | ODD_VALUES), "sessionId": draw(st.just("s-1")
                                                                            | ODD_VALUES),
        "version": draw(st.just("2.1.4") | ODD_VALUES), "message": message,
        "requestId": draw(st.just("req_1") | ODD_VALUES),
        "type": draw(st.sampled_from(["assistant", "user"]) | ODD_VALUES),
        "timestamp": draw(st.sampled_from(["2026-03-01T09:14:02.118Z", "2026-03-01T09:14:02",
                                           "2026-03-01T10:14:02.118+01:00"]) | ODD_VALUES),
    }
    for key in draw(st.lists(st.sampled_from(sorted(record)), max_size=3)):
        record.pop(key, None)
    record = _shuffled(draw, record)
    if draw(st.integers(0, 3)) == 0:  # the sub-agent progress shape
        record = {"type": "progress", "sessionId": "s-1",
                  "data": {"type": "agent_progress", "message": record}}
    return record


def _shuffled(draw: Any, record: dict[str, Any]) -> dict[str, Any]:
    keys = draw(st.permutations(sorted(record)))
    return {key: record[key] for key in keys}


@st.composite
def encoded(draw: Any) -> bytes:
    record = draw(records())
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " :  ")]))
    text = json.dumps(record, separators=separators, ensure_ascii=draw(st.booleans()))
    raw = text.encode("utf-8", "surrogatepass")
    raw += draw(st.sampled_from([b"", b" ", b"\r", b"\x0c", b"  \t", b"x"]))
    if draw(st.integers(0, 9)) == 0:
        raw = b" " + raw
    if draw(st.integers(0, 9)) == 0:
        raw = raw[:draw(st.integers(0, len(raw)))]
    return raw


def outcome(parse: Any, raw: bytes) -> Any:
    try:
        return parse(raw)
    except LineError as exc:
        return exc.problem


def _refuse(raw: bytes) -> Any:
    raise claude_lines.orjson.JSONDecodeError("refused for the test", "", 0)


def json_only(raw: bytes) -> Any:
    """`parse_line` with orjson refusing every line, so `json` decodes all of them."""
    original = claude_lines._LOADS
    claude_lines._LOADS = _refuse
    try:
        return outcome(claude_lines.parse_line, raw)
    finally:
        claude_lines._LOADS = original


def plain_reading(raw: bytes) -> Any:
    """The documented rules, read one field at a time with no shortcut."""
    if claude_lines.USAGE_KEY not in raw:
        return None
    try:
        text = raw.decode()
        document, end = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):
        return "corrupt"
    if type(document) is not dict or text[end:].strip():
        return "corrupt"
    message = document.get("message")
    record = document
    if not (type(message) is dict and "usage" in message):
        data = document.get("data")
        record = data.get("message") if type(data) is dict else None
        message = record.get("message") if type(record) is dict else None
        if type(message) is not dict or "usage" not in message:
            return None
    if record.get("type", "assistant") != "assistant" or message.get("model") == "<synthetic>":
        return None
    try:
        return _plain_fields(record, message)
    except LineError as exc:
        return exc.problem


def _plain_fields(record: dict[str, Any], message: dict[str, Any]) -> UsageLine:
    for value in (record.get("version"), record.get("sessionId"), record.get("requestId"),
                  message.get("id"), message.get("model")):
        if value is not None and (type(value) is not str or value == ""):
            raise LineError(claude_lines.LineProblem.INVALID, "field")
    use = message["usage"]
    if type(use) is not dict:
        raise LineError(claude_lines.LineProblem.INVALID, "usage")
    given = count(use.get("input_tokens"), "input", required=True)
    read = count(use.get("cache_read_input_tokens"), "read")
    output = count(use.get("output_tokens"), "output", required=True)
    flat = count(use.get("cache_creation_input_tokens"), "write")
    split = use.get("cache_creation")
    five, hour = flat, 0
    if type(split) is dict and ("ephemeral_5m_input_tokens" in split
                                or "ephemeral_1h_input_tokens" in split):
        five = count(split.get("ephemeral_5m_input_tokens"), "5m")
        hour = count(split.get("ephemeral_1h_input_tokens"), "1h")
    return UsageLine(parse_instant(record.get("timestamp")), message.get("model"), given, read,
                     five, hour, output, message.get("id"), record.get("requestId"),
                     record.get("isSidechain") is True, use.get("speed") is not None)


def _verdict(found: Any) -> Any:
    return "corrupt" if found is claude_lines.LineProblem.CORRUPT else found


@given(encoded())
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
def test_orjson_and_json_agree_on_every_line(raw: bytes) -> None:
    fast = outcome(claude_lines.parse_line, raw)

    assert fast == json_only(raw)
    assert _verdict(fast) == plain_reading(raw)


def test_lines_orjson_refuses_are_read_by_json() -> None:
    line = assistant("msg_A", "req_A", "2026-03-01T09:14:02.118Z", 7)
    line["message"]["content"][0]["text"] = "\ud800"
    line["message"]["stop_reason"] = float("nan")
    raw = json.dumps(line).encode("utf-8", "surrogatepass")
    with pytest.raises(claude_lines.orjson.JSONDecodeError):
        claude_lines.orjson.loads(raw)

    parsed = claude_lines.parse_line(raw + b"\x0c")

    assert parsed is not None and parsed.output == 7


def test_leading_blank_stays_corrupt() -> None:
    raw = b" " + compact(assistant("msg_A", "req_A", "2026-03-01T09:14:02.118Z", 7)).strip()

    with pytest.raises(LineError) as raised:
        claude_lines.parse_line(raw)

    assert raised.value.problem is claude_lines.LineProblem.CORRUPT


# Folding copies --------------------------------------------------------------------------

COPY = st.tuples(st.sampled_from(["msg_A", "msg_B"]), st.sampled_from(["req_1", "req_2", None]),
                 st.booleans(), st.integers(0, 50), st.integers(1, 300), st.integers(0, 2))


@given(st.lists(COPY, max_size=14))
@settings(max_examples=300, deadline=None)
def test_folding_copies_changes_no_count(copies: list[tuple[Any, ...]]) -> None:
    files: list[list[bytes]] = [[], [], []]
    for message_id, request_id, side, minute, output, which in copies:
        stamp = f"2026-03-01T10:{minute:02d}:00.000Z"
        files[which].append(compact(assistant(message_id, request_id, stamp, output,
                                              sidechain=side)))
    folded = Ledger(None, "anthropic")
    every = Ledger(None, "anthropic")
    with _tree(files) as root:
        result = scanner.scan(scanner.find_files([root], "claude-code"), "claude-code", {})
        folded.apply(result.lines, _prices(), result.states, result.gone)
        lines = [claude_lines.parse_line(raw.rstrip(b"\n")) for lines in files for raw in lines]
        every.apply([line for line in lines if line is not None], _prices(), [], [])

    try:
        assert _stored(folded) == _stored(every)
    finally:
        folded.close()
        every.close()


def _prices() -> Any:
    from tokenwatch_desktop.core.pricing import PriceTable

    return PriceTable()


def _stored(ledger: Ledger) -> tuple[Any, ...]:
    rows = ledger.db.execute("SELECT message_id, request_id, any_sidechain, first_ms, at_ms, "
                             "output, sidechain FROM responses ORDER BY id").fetchall()
    buckets = list(ledger.bucket_tuples(0, 2**40))
    return rows, sorted(buckets)


class _tree:
    """Three log files in a fresh folder, in scan order."""

    def __init__(self, files: list[list[bytes]]) -> None:
        import tempfile

        self.folder = tempfile.TemporaryDirectory()
        self.files = files

    def __enter__(self) -> Path:
        root = Path(self.folder.name)
        for index, lines in enumerate(self.files):
            (root / f"{index}.jsonl").write_bytes(b"".join(lines))
        return root

    def __exit__(self, *exc: object) -> None:
        self.folder.cleanup()


# The helper process --------------------------------------------------------------------


def _figures(data: Any) -> Any:
    return ([(row.day, row.model, row.tokens, row.requests, row.cost) for row in data.usage],
            sorted(data.notes))


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Use the helper for every scan, in small batches; the event is set once it replied."""
    monkeypatch.setattr(helper, "MIN_BYTES", 0)
    monkeypatch.setattr(helper, "BATCH_BYTES", 64 * 1024)
    replied = threading.Event()
    original = helper._line

    def line(fields: tuple[Any, ...]) -> Any:
        replied.set()
        return original(fields)

    monkeypatch.setattr(helper, "_line", line)
    return replied


@pytest.mark.parametrize("agent", ["claude-code", "codex"])
def test_helper_process_gives_the_same_figures(tmp_path: Path, agent: str,
                                               shared: threading.Event,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    generate(tmp_path / "tree", parse_size("2MB"), ("claude-code", "codex"), seed=11,
             end=date(2026, 3, 31), days=60)
    root = tmp_path / "tree" / ("claude/projects" if agent == "claude-code" else "codex")
    original = scanner.read_file

    def read_once_helper_replied(*job: Any) -> Any:
        # Only the scanning thread calls this (the feeder thread never reads a file), so the
        # helper has surely taken a share when the results are compared.
        assert shared.wait(timeout=60), "the helper process never replied"
        return original(*job)

    monkeypatch.setattr(scanner, "read_file", read_once_helper_replied)
    with_helper = Runner(tmp_path / "a")(agent, root, ALL)
    account.LEDGERS.close_all()
    monkeypatch.setattr(helper, "ENABLED", False)
    alone = Runner(tmp_path / "b")(agent, root, ALL)
    account.LEDGERS.close_all()

    assert shared.is_set()
    assert requests(alone) > 0
    assert _figures(with_helper) == _figures(alone)


def test_failed_helper_leaves_its_files_to_the_caller(tmp_path: Path, shared: threading.Event,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    generate(tmp_path / "tree", parse_size("1MB"), ("claude-code",), seed=4,
             end=date(2026, 3, 31), days=30)
    root = tmp_path / "tree" / "claude" / "projects"
    started: list[subprocess.Popen[bytes]] = []

    def broken() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE)
        started.append(process)
        return process

    monkeypatch.setattr(helper, "_start", broken)
    with caplog.at_level(logging.WARNING, logger=helper.__name__):
        failed = Runner(tmp_path / "a")("claude-code", root, ALL)
    account.LEDGERS.close_all()
    monkeypatch.setattr(helper, "ENABLED", False)
    alone = Runner(tmp_path / "b")("claude-code", root, ALL)
    account.LEDGERS.close_all()

    assert len(started) == 1
    assert started[0].returncode is not None
    assert "scan helper process failed" in caplog.text
    assert _figures(failed) == _figures(alone)


def test_batches_keep_scan_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helper, "BATCH_BYTES", 10)
    jobs = [(Path(f"{index}.jsonl"), "claude-code", None) for index in range(7)]
    sizes = [random.Random(index).randint(0, 12) for index in range(7)]

    groups = helper.batches(jobs, sizes)

    assert [job for group in groups for job in group] == jobs
    for group in groups[:-1]:
        filled = [sizes[int(job[0].stem)] for job in group]
        assert sum(filled) >= 10 > sum(filled[:-1])


# Kept figures ----------------------------------------------------------------------------


def _at(minute: int) -> str:
    return f"2026-03-01T10:{minute:02d}:00.000Z"


def test_kept_sums_see_another_process_writes(tmp_path: Path, run: Runner) -> None:
    log = write(tmp_path / "logs" / "p" / "s.jsonl", [assistant("msg_A", "req_A", _at(0), 10)])
    assert requests(run("claude-code", tmp_path / "logs", MARCH)) == 1

    write(log, [assistant("msg_B", "req_B", _at(1), 5)], mode="ab")
    other = Ledger(account.store_path(run.data_dir, "claude-code"), "anthropic")
    found = scanner.scan(scanner.find_files([tmp_path / "logs"], "claude-code"), "claude-code",
                         other.files())
    other.apply(found.lines, _prices(), found.states, found.gone)
    other.close()
    data = run("claude-code", tmp_path / "logs", MARCH)

    assert requests(data) == 2


def test_kept_sums_follow_the_period_and_zone(tmp_path: Path, run: Runner,
                                              local_zone: Any) -> None:
    write(tmp_path / "logs" / "p" / "s.jsonl", [assistant("msg_A", "req_A",
                                                          "2026-03-01T23:30:00.000Z", 10)])
    utc = run("claude-code", tmp_path / "logs", MARCH)
    local_zone("Asia/Tokyo")
    tokyo = run("claude-code", tmp_path / "logs",
                period(date(2026, 3, 1), date(2026, 3, 31), DayBoundary.LOCAL))
    march_2 = run("claude-code", tmp_path / "logs", period(date(2026, 3, 2), date(2026, 3, 2)))

    assert [row.day for row in utc.usage] == [date(2026, 3, 1)]
    assert [row.day for row in tokyo.usage] == [date(2026, 3, 2)]
    assert march_2.usage == []


def test_collector_is_back_on_after_a_scan(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "logs" / "p" / "s.jsonl", [assistant("msg_A", "req_A", _at(0), 10)])
    assert gc.isenabled()

    run("claude-code", tmp_path / "logs", MARCH)

    assert gc.isenabled()


def test_helper_serves_until_its_input_ends(tmp_path: Path) -> None:
    write(tmp_path / "p" / "s.jsonl", [assistant("msg_A", "req_A", _at(0), 10)])
    path = tmp_path / "p" / "s.jsonl"
    import io
    import pickle

    requests_in = io.BytesIO(pickle.dumps([(path, "claude-code", None)]))
    replies = io.BytesIO()

    helper.serve(requests_in, replies)

    replies.seek(0)
    (state, lines, read), = pickle.load(replies)
    assert state.path == str(path)
    assert read == path.stat().st_size
    assert [UsageLine(*fields).output for fields in lines] == [10]
    assert datetime.fromtimestamp(lines[0][0] / 1000, UTC).minute == 0


@given(st.lists(COPY, max_size=12), st.lists(COPY, max_size=12), st.integers(1, 4))
@settings(max_examples=200, deadline=None)
def test_counting_in_batches_matches_one_batch(stored: list[tuple[Any, ...]],
                                               new: list[tuple[Any, ...]], size: int) -> None:
    """Lines counted a few at a time (as a shared scan delivers them) give the same rows and
    the same bucket texts as all at once, including responses stored by an earlier scan and
    responses that change again in a later batch."""
    first = [_copy_line(copy) for copy in stored]
    lines = [_copy_line(copy) for copy in new]
    whole, batched = Ledger(None, "anthropic"), Ledger(None, "anthropic")
    try:
        for ledger in (whole, batched):
            ledger.apply(first, _prices(), [], [])
        whole.apply(lines, _prices(), [], [])
        update = batched.update(_prices())
        for start in range(0, len(lines), size):
            update.add(lines[start:start + size])
        update.finish([], [])

        assert _stored(batched) == _stored(whole)
    finally:
        whole.close()
        batched.close()


def _copy_line(copy: tuple[Any, ...]) -> UsageLine:
    message_id, request_id, side, minute, output, _file = copy
    line = claude_lines.parse_line(compact(assistant(
        message_id, request_id, f"2026-03-01T10:{minute:02d}:00.000Z", output,
        sidechain=side)).rstrip(b"\n"))
    assert line is not None
    return line


def test_failed_count_stops_the_helper(tmp_path: Path, shared: threading.Event,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    generate(tmp_path / "tree", parse_size("1MB"), ("claude-code",), seed=6,
             end=date(2026, 3, 31), days=30)
    paths = scanner.find_files([tmp_path / "tree" / "claude" / "projects"], "claude-code")
    started: list[subprocess.Popen[bytes]] = []
    original = helper._start

    def start() -> subprocess.Popen[bytes] | None:
        process = original()
        assert process is not None
        started.append(process)
        return process

    def fail(lines: list[UsageLine]) -> None:
        raise RuntimeError("counting failed")

    monkeypatch.setattr(helper, "_start", start)
    with pytest.raises(RuntimeError, match="counting failed"):
        scanner.scan(paths, "claude-code", {}, fail)

    assert len(started) == 1
    assert started[0].returncode is not None
