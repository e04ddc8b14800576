"""Incremental scans: appended lines, rewritten, renamed and deleted files, copies found later."""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.local.local_logs import Runner, assistant, compact, period, requests, total_tokens, write
from tokenwatch_desktop.core.records import AccountData
from tokenwatch_desktop.core.settings import AccountConfig
from tokenwatch_desktop.local import account, claude_code, scanner
from tokenwatch_desktop.local.store import Ledger
from tokenwatch_desktop.providers.base import FetchRequest

MARCH = period(date(2026, 3, 1), date(2026, 3, 31))


def _at(minute: int) -> str:
    return f"2026-03-01T10:{minute:02d}:00.000Z"


def test_appended_lines_are_read_once(tmp_path: Path, run: Runner) -> None:
    log = write(tmp_path / "logs" / "p" / "s.jsonl", [assistant("msg_A", "req_A", _at(0), 10)])
    run("claude-code", tmp_path / "logs", MARCH)

    write(log, [assistant("msg_A", "req_A", _at(1), 25), assistant("msg_B", "req_B", _at(2), 5)],
          mode="ab")
    data = run("claude-code", tmp_path / "logs", MARCH)

    assert requests(data) == 2
    assert total_tokens(data).output == 25 + 5


def test_half_written_line_waits_for_its_end(tmp_path: Path, run: Runner) -> None:
    whole = compact(assistant("msg_B", "req_B", _at(2), 5))
    log = write(tmp_path / "logs" / "p" / "s.jsonl",
                [assistant("msg_A", "req_A", _at(0), 10), whole[:50]])
    first = run("claude-code", tmp_path / "logs", MARCH)

    write(log, [whole[50:]], mode="ab")
    second = run("claude-code", tmp_path / "logs", MARCH)

    assert requests(first) == 1
    assert requests(second) == 2
    assert not any("corrupt" in note for note in second.notes)


def test_nothing_new_reads_nothing(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "logs" / "p" / "s.jsonl", [assistant("msg_A", "req_A", _at(0), 10)])
    run("claude-code", tmp_path / "logs", MARCH)
    ledger = account.LEDGERS.get(account.store_path(run.data_dir, "claude-code"), "anthropic")

    paths = scanner.find_files([tmp_path / "logs"], "claude-code")
    result = scanner.scan(paths, "claude-code", ledger.files())

    assert result.files_read == 0
    assert result.lines == []


def test_later_better_copy_in_other_file_moves_totals(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "logs" / "p" / "a.jsonl", [assistant("msg_A", "req_A", _at(5), 10)])
    run("claude-code", tmp_path / "logs", MARCH)

    write(tmp_path / "logs" / "q" / "b.jsonl", [assistant("msg_A", "req_A", _at(1), 80),
                                                assistant("msg_A", None, _at(7), 3)])
    data = run("claude-code", tmp_path / "logs", MARCH)

    assert requests(data) == 1
    assert total_tokens(data).output == 80


def test_truncated_file_is_read_again(tmp_path: Path, run: Runner) -> None:
    log = write(tmp_path / "logs" / "p" / "s.jsonl",
                [assistant("msg_A", "req_A", _at(0), 10), assistant("msg_B", "req_B", _at(1), 20)])
    run("claude-code", tmp_path / "logs", MARCH)

    # Rewritten shorter: one old response again plus a new one. History keeps msg_B.
    write(log, [assistant("msg_A", "req_A", _at(0), 10), assistant("msg_C", "req_C", _at(2), 1)])
    data = run("claude-code", tmp_path / "logs", MARCH)

    assert requests(data) == 3
    assert total_tokens(data).output == 10 + 20 + 1


def test_rewritten_file_same_size_is_read_again(tmp_path: Path, run: Runner) -> None:
    log = write(tmp_path / "logs" / "p" / "s.jsonl", [assistant("msg_A", "req_A", _at(0), 10)])
    run("claude-code", tmp_path / "logs", MARCH)

    write(log, [assistant("msg_Z", "req_Z", _at(0), 10)])
    os.utime(log, ns=(1, 1))
    data = run("claude-code", tmp_path / "logs", MARCH)

    assert requests(data) == 2


def test_rotated_file_new_inode_same_name(tmp_path: Path, run: Runner) -> None:
    log = write(tmp_path / "logs" / "p" / "s.jsonl", [assistant("msg_A", "req_A", _at(0), 10)])
    run("claude-code", tmp_path / "logs", MARCH)

    log.rename(log.with_name("s.jsonl.1"))  # no longer a *.jsonl file: gone from the scan
    write(log, [assistant("msg_A", "req_A", _at(0), 10), assistant("msg_B", "req_B", _at(1), 4)])
    data = run("claude-code", tmp_path / "logs", MARCH)

    assert requests(data) == 2
    assert total_tokens(data).output == 14


def test_renamed_file_keeps_its_position(tmp_path: Path, run: Runner) -> None:
    log = write(tmp_path / "logs" / "p" / "s.jsonl", [assistant(None, "req_A", _at(0), 10)])
    run("claude-code", tmp_path / "logs", MARCH)

    moved = log.rename(log.with_name("renamed.jsonl"))
    write(moved, [assistant(None, "req_B", _at(1), 4)], mode="ab")
    data = run("claude-code", tmp_path / "logs", MARCH)

    assert requests(data) == 2
    assert total_tokens(data).output == 14


def test_deleted_files_keep_history(tmp_path: Path, run: Runner) -> None:
    log = write(tmp_path / "logs" / "p" / "s.jsonl", [assistant("msg_A", "req_A", _at(0), 10)])
    run("claude-code", tmp_path / "logs", MARCH)

    log.unlink()
    data = run("claude-code", tmp_path / "logs", MARCH)
    ledger = account.LEDGERS.get(account.store_path(run.data_dir, "claude-code"), "anthropic")

    assert requests(data) == 1
    assert total_tokens(data).output == 10
    assert ledger.files() == {}


def test_history_survives_a_new_process(tmp_path: Path, run: Runner) -> None:
    log = write(tmp_path / "logs" / "p" / "s.jsonl", [assistant("msg_A", "req_A", _at(0), 10)])
    run("claude-code", tmp_path / "logs", MARCH)
    account.LEDGERS.close_all()  # as if the program had exited

    write(log, [assistant("msg_A", "req_A", _at(1), 30)], mode="ab")
    data = run("claude-code", tmp_path / "logs", MARCH)

    assert requests(data) == 1
    assert total_tokens(data).output == 30


def test_store_keeps_buckets_per_quarter_hour(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "logs" / "p" / "s.jsonl", [
        assistant("msg_A", "req_A", "2026-03-01T10:00:00.000Z", 1),
        assistant("msg_B", "req_B", "2026-03-01T10:14:59.999Z", 1),
        assistant("msg_C", "req_C", "2026-03-01T10:15:00.000Z", 1),
    ])
    run("claude-code", tmp_path / "logs", MARCH)

    ledger = Ledger(account.store_path(run.data_dir, "claude-code"), "anthropic")
    rows = sorted((row.bucket * 900, row.counts[5]) for row in ledger.buckets(0, 2**40))
    ledger.close()

    start = 1772359200  # 2026-03-01T10:00:00Z
    assert rows == [(start, 2), (start + 900, 1)]


def test_scan_leaves_event_loop_free(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan waits until a heartbeat task on the loop has ticked three times. A scan run on
    the loop's own thread would keep the heartbeat from ticking, and the wait would fail."""
    write(tmp_path / "logs" / "p" / "s.jsonl", [assistant("msg_A", "req_A", _at(0), 10)])
    ticked = threading.Event()
    original = scanner.read_file

    def read_after_heartbeat(*args: Any) -> Any:
        assert ticked.wait(timeout=30), "the event loop did not run during the scan"
        return original(*args)

    monkeypatch.setattr(scanner, "read_file", read_after_heartbeat)
    request = FetchRequest(
        account=AccountConfig("claude-code", "claude-code",
                              options={"paths": [str(tmp_path / "logs")]}),
        key=None, period=MARCH, http=None,  # type: ignore[arg-type]
        now=datetime.now(UTC), data_dir=None)

    async def fetch_with_heartbeat() -> tuple[int, AccountData]:
        ticks = 0

        async def heartbeat() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0)
                ticks += 1
                if ticks == 3:
                    ticked.set()

        beat = asyncio.create_task(heartbeat())
        data = await claude_code.fetch(request)
        beat.cancel()
        return ticks, data

    ticks, data = asyncio.run(fetch_with_heartbeat())

    assert ticks >= 3
    assert requests(data) == 1


def _indexes(ledger: Ledger) -> list[str]:
    return [row[0] for row in ledger.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'responses' "
        "AND sql IS NOT NULL")]


def test_index_left_out_of_first_scan_is_built_by_the_next_that_reads_lines(
        tmp_path: Path, run: Runner) -> None:
    log = write(tmp_path / "logs" / "p" / "s.jsonl", [assistant("msg_A", "req_A", _at(0), 10),
                                                      assistant("msg_B", "req_B", _at(1), 20)])
    run("claude-code", tmp_path / "logs", MARCH)
    ledger = account.LEDGERS.get(account.store_path(run.data_dir, "claude-code"), "anthropic")
    after_first = _indexes(ledger)
    run("claude-code", tmp_path / "logs", MARCH)  # nothing new: no lookup, no index needed
    after_nothing_new = _indexes(ledger)

    # A later copy of msg_A (found through the index) replaces the counted one.
    write(log, [assistant("msg_A", "req_A", _at(2), 70)], mode="ab")
    data = run("claude-code", tmp_path / "logs", MARCH)

    assert after_first == []
    assert after_nothing_new == []
    assert _indexes(ledger) == ["responses_message"]
    assert requests(data) == 2
    assert total_tokens(data).output == 70 + 20
    plan = " ".join(str(row) for row in ledger.db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM responses WHERE message_id IN ('msg_A')"))
    assert "responses_message" in plan


def test_first_scan_log_reaches_the_database_file(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "logs" / "p" / "s.jsonl",
          [assistant(f"msg_{n}", f"req_{n}", _at(n % 60), 10 + n) for n in range(300)])
    data = run("claude-code", tmp_path / "logs", MARCH)
    ledger = account.LEDGERS.get(account.store_path(run.data_dir, "claude-code"), "anthropic")
    checkpointer = ledger.checkpointer
    assert checkpointer is not None
    checkpointer.join()
    # The database file alone, without its write-ahead log, holds the first scan.
    alone = tmp_path / "alone.sqlite3"
    alone.write_bytes(account.store_path(run.data_dir, "claude-code").read_bytes())
    copy = Ledger(alone, "anthropic")
    try:
        stored = copy.db.execute("SELECT COUNT(*), SUM(output) FROM responses").fetchone()
        autocheckpoint = ledger.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    finally:
        copy.close()
    assert requests(data) == 300
    assert stored == (300, sum(10 + n for n in range(300)))
    assert autocheckpoint == 1000


def test_failed_first_scan_leaves_an_empty_store(tmp_path: Path, run: Runner,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "logs" / "p" / "s.jsonl",
          [assistant(f"msg_{n}", f"req_{n}", _at(n % 60), 10 + n) for n in range(50)])

    def fail(*_args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Ledger, "_save_files", fail)
    with pytest.raises(OSError):
        run("claude-code", tmp_path / "logs", MARCH)
    monkeypatch.undo()
    ledger = account.LEDGERS.get(account.store_path(run.data_dir, "claude-code"), "anthropic")
    left = ledger.db.execute("SELECT (SELECT COUNT(*) FROM responses), "
                             "(SELECT COUNT(*) FROM buckets)").fetchone()
    autocheckpoint = ledger.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    data = run("claude-code", tmp_path / "logs", MARCH)

    assert left == (0, 0)
    assert autocheckpoint == 1000
    assert ledger.checkpointer is not None  # the scan after it did succeed
    assert requests(data) == 50
