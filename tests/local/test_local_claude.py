"""Claude Code account: line shapes, the deduplication rule, days, corrupt and invalid lines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from tests.local.local_logs import (
    SONNET,
    Runner,
    assistant,
    compact,
    period,
    requests,
    total_tokens,
    user,
    write,
)
from tokenwatch_desktop.core.periods import DayBoundary
from tokenwatch_desktop.core.records import AccountData, CostSource, Tokens

MARCH = period(date(2026, 3, 1), date(2026, 3, 3))
T1 = "2026-03-01T09:14:02.118Z"
T2 = "2026-03-01T09:14:05.902Z"
T3 = "2026-03-01T09:14:09.000Z"


def test_streamed_copies_count_once_with_final_counts(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "p" / "s.jsonl", [
        user(T1),
        assistant("msg_A", "req_A", T1, 1),
        assistant("msg_A", "req_A", T2, 187),
        assistant("msg_A", "req_A", T3, 187),
    ])

    data = run("claude-code", tmp_path, MARCH)

    assert requests(data) == 1
    assert total_tokens(data) == Tokens(input=4, cached_input=1000, cache_write=200, output=187)


def test_copies_without_request_id_count_once(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "p" / "s.jsonl", [
        assistant("msg_A", None, T1, 1),
        assistant("msg_A", "req_A", T2, 50),
        assistant("msg_A", None, T3, 120),
        assistant("msg_B", None, T1, 7),
        assistant("msg_B", None, T2, 9),
    ])

    data = run("claude-code", tmp_path, MARCH)

    assert requests(data) == 2
    assert total_tokens(data).output == 120 + 9


def test_different_request_ids_are_different_responses(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "p" / "s.jsonl", [
        assistant("msg_A", "req_1", T1, 10),
        assistant("msg_A", "req_2", T2, 20),
    ])

    data = run("claude-code", tmp_path, MARCH)

    assert requests(data) == 2
    assert total_tokens(data).output == 30


def test_resumed_session_in_second_file_counts_once(tmp_path: Path, run: Runner) -> None:
    lines = [assistant("msg_A", "req_A", T1, 1), assistant("msg_A", "req_A", T2, 187)]
    write(tmp_path / "p" / "first.jsonl", lines)
    write(tmp_path / "q" / "resumed.jsonl", [*lines, assistant("msg_C", "req_C", T3, 5)])

    data = run("claude-code", tmp_path, MARCH)

    assert requests(data) == 2
    assert total_tokens(data).output == 187 + 5


def test_sidechain_replay_matches_on_message_id(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "p" / "s.jsonl", [
        assistant("msg_A", "req_A", T2, 300, sidechain=True),
        assistant("msg_A", "req_A", T1, 100),
        assistant("msg_A", "req_btw", T3, 400, sidechain=True),
    ])

    data = run("claude-code", tmp_path, MARCH)

    assert requests(data) == 1
    # The non-sidechain copy counts even though a sidechain copy has more tokens.
    assert total_tokens(data).output == 100


def test_tie_prefers_the_copy_with_speed(tmp_path: Path) -> None:
    # genai-prices 0.2.3 lists a fast-mode price for claude-opus-4-8.
    fast = tmp_path / "fast"
    write(fast / "p" / "s.jsonl", [
        assistant("msg_A", "req_A", T1, 100, model="claude-opus-4-8"),
        assistant("msg_A", "req_A", T2, 100, model="claude-opus-4-8", speed="fast"),
    ])
    slow = tmp_path / "slow"
    write(slow / "p" / "s.jsonl", [assistant("msg_A", "req_A", T1, 100, model="claude-opus-4-8")])

    fast_cost = _cost(Runner(None)("claude-code", fast, MARCH))
    slow_cost = _cost(Runner(None)("claude-code", slow, MARCH))

    assert fast_cost > slow_cost > 0


def test_lines_without_message_id_each_count(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "p" / "s.jsonl", [
        assistant(None, "req_A", T1, 10),
        assistant(None, "req_B", T2, 20),
    ])

    data = run("claude-code", tmp_path, MARCH)

    assert requests(data) == 2
    assert total_tokens(data).output == 30


def test_synthetic_lines_are_skipped(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "p" / "s.jsonl", [
        assistant("msg_S", None, T1, 0, model="<synthetic>"),
        assistant("msg_A", "req_A", T2, 5),
    ])

    data = run("claude-code", tmp_path, MARCH)

    assert requests(data) == 1
    assert [row.model for row in data.usage] == [SONNET]


def test_progress_shape_under_data_message(tmp_path: Path, run: Runner) -> None:
    inner = assistant("msg_P", "req_P", T1, 42, sidechain=True)
    progress = {"type": "progress", "timestamp": T1, "data": {"message": {
        "type": "assistant", "timestamp": T1, "message": inner["message"],
        "requestId": "req_P", "isSidechain": True}}}
    write(tmp_path / "p" / "s.jsonl", [progress])

    data = run("claude-code", tmp_path, MARCH)

    assert requests(data) == 1
    assert total_tokens(data).output == 42


def test_cache_writes_from_split_else_total(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "p" / "s.jsonl", [
        assistant("msg_A", "req_A", T1, 1, cache_write=999, split=(300, 700)),
        assistant("msg_B", "req_B", T2, 1, cache_write=250),
        assistant("msg_C", "req_C", T3, 1, cache_write=0, split=(40, 60)),
    ])

    data = run("claude-code", tmp_path, MARCH)

    assert total_tokens(data).cache_write == 1000 + 250 + 100


def test_invalid_fields_skip_the_line(tmp_path: Path, run: Runner) -> None:
    bad_version = assistant("msg_V", "req_V", T1, 11)
    bad_version["version"] = 2
    bad_count = assistant("msg_N", "req_N", T1, 12)
    bad_count["message"]["usage"]["output_tokens"] = "12"
    empty_id = assistant("", "req_E", T1, 13)
    write(tmp_path / "p" / "s.jsonl", [bad_version, bad_count, empty_id,
                                       assistant("msg_A", "req_A", T2, 5)])

    data = run("claude-code", tmp_path, MARCH)

    assert requests(data) == 1
    assert any("3 Claude Code log line(s) with invalid fields" in note for note in data.notes)


def test_corrupt_lines_are_counted_not_fatal(tmp_path: Path, run: Runner) -> None:
    good = assistant("msg_A", "req_A", T1, 5)
    cut = assistant("msg_B", "req_B", T2, 6)
    write(tmp_path / "p" / "s.jsonl", [compact(cut)[:-30] + b"\n", good, b"\x00\xff\"usage\"\n"])

    data = run("claude-code", tmp_path, MARCH)

    assert requests(data) == 1
    assert any("2 corrupt Claude Code log line(s)" in note for note in data.notes)


def test_estimate_is_marked(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "p" / "s.jsonl", [assistant("msg_A", "req_A", T1, 5)])

    data = run("claude-code", tmp_path, MARCH)

    assert data.cost_source is CostSource.ESTIMATED
    assert all(row.source is CostSource.ESTIMATED for row in data.costs)
    assert data.usage[0].cost is not None and data.usage[0].cost > 0
    assert any("API-equivalent estimate" in note for note in data.notes)


def test_demo_mode_scans_without_a_store(tmp_path: Path) -> None:
    write(tmp_path / "logs" / "p" / "s.jsonl", [assistant("msg_A", "req_A", T1, 5)])

    data = Runner(None)("claude-code", tmp_path / "logs", MARCH)

    assert requests(data) == 1
    assert not (tmp_path / "data").exists()


# A response spanning midnight --------------------------------------------------------------

SPAN = [assistant("msg_M", "req_M", "2026-03-01T23:59:58.000Z", 1),
        assistant("msg_M", "req_M", "2026-03-02T00:00:03.000Z", 90)]


def test_midnight_response_utc_day(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "p" / "s.jsonl", list(reversed(SPAN)))

    data = run("claude-code", tmp_path, MARCH)

    assert [(row.day, row.tokens.output) for row in data.usage] == [(date(2026, 3, 1), 90)]


def test_midnight_response_local_zone_ahead(tmp_path: Path, run: Runner,
                                            local_zone: object) -> None:
    local_zone("Asia/Kolkata")  # type: ignore[operator]
    # 23:59:58Z is 05:29:58 on March 2 in UTC+05:30.
    write(tmp_path / "p" / "s.jsonl", SPAN)

    data = run("claude-code", tmp_path, period(date(2026, 3, 1), date(2026, 3, 3),
                                               DayBoundary.LOCAL))

    assert [(row.day, row.tokens.output) for row in data.usage] == [(date(2026, 3, 2), 90)]


def test_midnight_response_local_zone_behind(tmp_path: Path, run: Runner,
                                             local_zone: object) -> None:
    local_zone("America/New_York")  # type: ignore[operator]
    # Local midnight in UTC-05:00 is 05:00Z; the earliest copy is 04:59:58Z on March 3.
    span = [assistant("msg_M", "req_M", "2026-03-03T05:00:01.000Z", 90),
            assistant("msg_M", "req_M", "2026-03-03T04:59:58.000Z", 1)]
    write(tmp_path / "p" / "s.jsonl", span)

    local = run("claude-code", tmp_path, period(date(2026, 3, 1), date(2026, 3, 3),
                                                DayBoundary.LOCAL))
    utc = run("claude-code", tmp_path, MARCH)

    assert [(row.day, row.tokens.output) for row in local.usage] == [(date(2026, 3, 2), 90)]
    assert [(row.day, row.tokens.output) for row in utc.usage] == [(date(2026, 3, 3), 90)]


def _cost(data: AccountData) -> Decimal:
    return sum((row.amount for row in data.costs), Decimal(0))
