"""The log generator: its trees scan to the responses it says it wrote."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.local.local_logs import Runner, period, requests
from tokenwatch_desktop.local.generate import generate, parse_size

ALL = period(date(2025, 1, 1), date(2026, 12, 4))


def test_generated_claude_tree_counts_each_response_once(tmp_path: Path, run: Runner) -> None:
    summary = generate(tmp_path / "tree", parse_size("3MB"), ("claude-code", "codex"),
                       seed=3, end=date(2026, 3, 31), days=60)

    data = run("claude-code", tmp_path / "tree" / "claude" / "projects", ALL)

    assert summary.bytes >= parse_size("3MB")
    assert summary.assistant_lines > summary.responses
    assert requests(data) == summary.responses
    assert any(f"{summary.corrupt_lines} corrupt" in note for note in data.notes)


def test_generated_codex_tree_is_read(tmp_path: Path, run: Runner) -> None:
    summary = generate(tmp_path / "tree", parse_size("2MB"), ("codex",), seed=5,
                       end=date(2026, 3, 31), days=60)

    data = run("codex", tmp_path / "tree" / "codex", ALL)

    assert summary.codex_files > 1
    assert 0 < requests(data) <= summary.codex_events


def test_size_parser() -> None:
    assert parse_size("500MB") == 500_000_000
    assert parse_size("800kB") == 800_000
    assert parse_size("1024") == 1024
