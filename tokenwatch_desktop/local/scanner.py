"""Find the log files of an account and read what was appended to each since the last scan.

A file is known by its device and inode, so a renamed file keeps its position, and a new file
under an old name is read from the start. A file that shrank, or whose first bytes changed, was
rewritten and is read again from the start; copies of responses already counted then join
them instead of adding. Only whole lines are read; a line still being written waits for the
next scan.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenwatch_desktop.local import claude_lines, helper
from tokenwatch_desktop.local.codex_lines import RolloutReader
from tokenwatch_desktop.local.dedupe import is_better
from tokenwatch_desktop.local.lines import LineError, LineProblem, UsageLine

log = logging.getLogger(__name__)

HEAD_BYTES = 1024
CHUNK_BYTES = 16 * 1024 * 1024
#: How much of a new Codex rollout is read ahead to find a sub-agent's replayed events.
PEEK_BYTES = 256 * 1024

CLAUDE = "claude-code"
CODEX = "codex"


@dataclass
class FileState:
    """How far one log file (by device and inode) has been read."""

    dev: int
    ino: int
    path: str
    size: int
    offset: int
    head: bytes
    state: dict[str, Any] = field(default_factory=dict)
    corrupt: int = 0
    invalid: int = 0


#: One file to read: its path, the agent kind, and its state after the last scan (None: new).
Job = tuple[Path, str, "FileState | None"]


@dataclass
class FileScan:
    """Result of reading one file."""

    state: FileState
    lines: list[UsageLine] = field(default_factory=list)
    bytes_read: int = 0


@dataclass
class ScanResult:
    lines: list[UsageLine]
    states: list[FileState]
    gone: list[tuple[int, int]]
    files_read: int = 0
    bytes_read: int = 0


def find_files(roots: Iterable[Path], kind: str) -> list[Path]:
    """Every `*.jsonl` under the roots, sorted; for Codex, the first file of each name only.

    A Codex rollout present in both `sessions` and `archived_sessions` is read from `sessions`,
    whether they are two roots or one root contains both.
    """
    found: list[Path] = []
    names: set[str] = set()
    for root in roots:
        listed = sorted(_walk(root))
        if kind == CODEX:
            listed.sort(key=lambda path: "archived_sessions" in path.parts)
        for path in listed:
            if kind == CODEX:
                if path.name in names:
                    continue
                names.add(path.name)
            found.append(path)
    return found


def _walk(root: Path) -> Iterable[Path]:
    try:
        for directory, _dirs, files in os.walk(root):
            for name in files:
                if name.endswith(".jsonl"):
                    yield Path(directory, name)
    except OSError as exc:
        log.debug("cannot list %s: %s", root, exc)


def scan(paths: Sequence[Path], kind: str, known: dict[tuple[int, int], FileState],
         deliver: Callable[[list[UsageLine]], None] | None = None) -> ScanResult:
    """Read new data from every file; files no longer present are reported in `gone`.

    With `deliver`, the lines are handed to it (on the calling thread, in scan order, a file
    or a batch of files at a time) as soon as they are read, instead of being returned in
    `ScanResult.lines`. A large read (a first scan, say) is shared with one helper process:
    see `helper`.
    """
    jobs: list[Job] = []
    sizes: list[int] = []
    seen: set[tuple[int, int]] = set()
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue
        identity = (info.st_dev, info.st_ino)
        seen.add(identity)
        previous = known.get(identity)
        if previous is not None and _unchanged(previous, path, info):
            continue
        jobs.append((path, kind, previous))
        sizes.append(max(0, info.st_size - (previous.offset if previous is not None else 0)))
    result = ScanResult([], [], [identity for identity in known if identity not in seen])
    give = deliver if deliver is not None else result.lines.extend

    def take(outcomes: list[FileScan | None]) -> None:
        lines: list[UsageLine] = []
        for outcome in outcomes:
            if outcome is None:
                continue
            lines.extend(outcome.lines)
            result.states.append(outcome.state)
            result.files_read += 1
            result.bytes_read += outcome.bytes_read
        give(lines)

    if sum(sizes) >= helper.MIN_BYTES and helper.available():
        helper.read_shared(jobs, sizes, read_file, take)
    else:
        for job in jobs:
            take([read_file(*job)])
    return result


def read_file(path: Path, kind: str, previous: FileState | None) -> FileScan | None:
    """Read the unread part of one file; None when nothing changed since `previous`."""
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if previous is not None and _unchanged(previous, path, info):
                return None
            head = handle.read(HEAD_BYTES)
            state = _resume(path, info, head, previous)
            handle.seek(state.offset)
            return _read_from(handle, path, kind, state)
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None


def _unchanged(previous: FileState, path: Path, info: os.stat_result) -> bool:
    return (previous.size == info.st_size and previous.path == str(path)
            and previous.state.get("mtime") == info.st_mtime_ns)


def _resume(path: Path, info: os.stat_result, head: bytes,
            previous: FileState | None) -> FileState:
    """Return the offset to read from: the previous offset, or 0 for a new, shrunk or rewritten file."""
    if previous is not None:
        known_head = head[:previous.state.get("head_len", 0)]
        if info.st_size >= previous.offset and _digest(known_head) == previous.head:
            previous.path, previous.size = str(path), info.st_size
            previous.state["mtime"] = info.st_mtime_ns
            return previous
        log.debug("%s was rewritten; reading it again from the start", path)
    state = FileState(info.st_dev, info.st_ino, str(path), info.st_size, 0, _digest(head),
                      {"head_len": len(head), "mtime": info.st_mtime_ns})
    return state


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _read_from(handle: Any, path: Path, kind: str, state: FileState) -> FileScan:
    outcome = FileScan(state)
    parse = _parser(kind, path, state, handle)
    copies = _Copies(outcome.lines)
    carry = b""
    while True:
        chunk = handle.read(CHUNK_BYTES)
        if not chunk:
            break
        data = carry + chunk
        end = data.rfind(b"\n") + 1
        carry = data[end:]
        if end:
            _parse_block(data[:end], parse, state, copies, kind)
            state.offset += end
            outcome.bytes_read += end
    return outcome


def _parser(kind: str, path: Path, state: FileState,
            handle: Any) -> Callable[[bytes], UsageLine | None]:
    if kind == CLAUDE:
        return claude_lines.parse_line
    if state.offset != 0:
        return RolloutReader(path.name, state.state.setdefault("codex", {})).feed
    state.state["codex"] = {}
    reader = RolloutReader(path.name, state.state["codex"])
    reader.start(handle.read(PEEK_BYTES))
    handle.seek(0)
    return reader.feed


def _parse_block(block: bytes, parse: Callable[[bytes], UsageLine | None], state: FileState,
                 into: _Copies, kind: str) -> None:
    for raw in _candidate_lines(block, kind):
        try:
            line = parse(raw)
        except LineError as exc:
            if exc.problem is LineProblem.CORRUPT:
                state.corrupt += 1
            else:
                state.invalid += 1
            continue
        if line is None:
            continue
        if line.message_id is None:
            # A line without a message id counts on its own; the same bytes read again after a
            # rewrite are the same line.
            line.message_id = "line:" + hashlib.blake2b(raw, digest_size=12).hexdigest()
        into.add(line)


class _Copies:
    """Folds copies of one response that follow each other in a file into one line.

    Two lines fold when they have the same message id, request id and sidechain flag, and no
    other line with that message id lies between them. `ResponseBook` would put such a pair in
    the same response whatever came before (nothing between them changed that response's
    group), so folding them first (earliest instant, better copy) changes no result and sends
    about half as many lines on.
    """

    def __init__(self, into: list[UsageLine]) -> None:
        self.lines = into
        self.last: dict[str | None, int] = {}

    def add(self, line: UsageLine) -> None:
        index = self.last.get(line.message_id)
        if index is not None:
            kept = self.lines[index]
            if kept.request_id == line.request_id and kept.sidechain == line.sidechain:
                earliest = min(kept.earliest, line.at_ms)
                if is_better(line, kept):
                    self.lines[index] = kept = line
                kept.first_ms = earliest
                return
        self.last[line.message_id] = len(self.lines)
        self.lines.append(line)


def _candidate_lines(block: bytes, kind: str) -> Iterable[bytes]:
    """Lines that may carry usage, found by a byte search so the others are never decoded."""
    if kind != CLAUDE:
        yield from block.split(b"\n")
        return
    marker = claude_lines.USAGE_KEY
    position = block.find(marker)
    while position != -1:
        start = block.rfind(b"\n", 0, position) + 1
        end = block.find(b"\n", position)
        yield block[start:end]
        position = block.find(marker, end)
