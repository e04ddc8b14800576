"""Codex account: cumulative counters, null events, models, sub-agent replays, archived copies."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from tests.local.local_logs import Runner, period, requests, total_tokens, write
from tokenwatch_desktop.core.records import Tokens

MARCH = period(date(2026, 3, 1), date(2026, 3, 31))
NAME = "rollout-2026-03-01T10-00-00-0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.jsonl"


def meta(subagent: bool = False) -> dict[str, Any]:
    payload: dict[str, Any] = {"id": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
                               "timestamp": "2026-03-01T10:00:00.500Z",
                               "cwd": "/home/dana/src/tokenwatch", "model_provider": "openai",
                               "cli_version": "0.98.0"}
    if subagent:
        payload["source"] = {"subagent": {"thread_spawn": {"parent_thread_id": "0199a1b2-0000"}}}
    return {"timestamp": "2026-03-01T10:00:00.512Z", "type": "session_meta", "payload": payload}


def context(model: str, at: str = "2026-03-01T10:00:03.020Z") -> dict[str, Any]:
    return {"timestamp": at, "type": "turn_context",
            "payload": {"model": model, "cwd": "/home/dana/src/tokenwatch", "effort": "medium"}}


def usage(given: int, cached: int, output: int, reasoning: int = 0) -> dict[str, int]:
    return {"input_tokens": given, "cached_input_tokens": cached, "output_tokens": output,
            "reasoning_output_tokens": reasoning, "total_tokens": given + output}


def token_count(at: str, total: dict[str, int] | None, last: dict[str, int] | None = None,
                ) -> dict[str, Any]:
    info = None
    if total is not None or last is not None:
        info = {"total_token_usage": total, "last_token_usage": last,
                "model_context_window": 272000}
        info = {key: value for key, value in info.items() if value is not None}
    return {"timestamp": at, "type": "event_msg", "payload": {
        "type": "token_count", "info": info,
        "rate_limits": {"primary": {"used_percent": 4.0, "window_minutes": 300,
                                    "resets_at": 1772376000}, "secondary": None,
                        "plan_type": "plus"}}}


def _at(second: int) -> str:
    return f"2026-03-01T10:{second // 60:02d}:{second % 60:02d}.000Z"


def _sessions(root: Path) -> Path:
    return root / "sessions" / "2026" / "03" / "01" / NAME


def test_cumulative_totals_are_not_summed(tmp_path: Path, run: Runner) -> None:
    write(_sessions(tmp_path), [
        meta(), context("gpt-5.1-codex"),
        token_count(_at(10), usage(1000, 800, 100, 40), usage(1000, 800, 100, 40)),
        token_count(_at(20), None),  # info: null
        token_count(_at(30), usage(3000, 2000, 300, 90)),  # no last_token_usage
        token_count(_at(31), usage(3000, 2000, 300, 90)),  # nothing new: zero delta
        token_count(_at(40), usage(3500, 2100, 350, 90), usage(500, 100, 50, 0)),
    ])

    data = run("codex", tmp_path, MARCH)

    assert requests(data) == 3
    assert total_tokens(data) == Tokens(input=3500 - 2100, cached_input=2100, cache_write=0,
                                        output=350)


def test_model_follows_turn_context(tmp_path: Path, run: Runner) -> None:
    write(_sessions(tmp_path), [
        meta(), context("gpt-5.1-codex"),
        token_count(_at(10), usage(100, 0, 10), usage(100, 0, 10)),
        context("gpt-5.1-codex-max", _at(15)),
        token_count(_at(20), usage(300, 0, 30), usage(200, 0, 20)),
    ])

    data = run("codex", tmp_path, MARCH)

    by_model = {row.model: row.tokens.output for row in data.usage}
    assert by_model == {"gpt-5.1-codex": 10, "gpt-5.1-codex-max": 20}


def test_missing_model_falls_back_with_note(tmp_path: Path, run: Runner) -> None:
    write(_sessions(tmp_path), [meta(), token_count(_at(10), usage(100, 0, 10))])

    data = run("codex", tmp_path, MARCH)

    assert [row.model for row in data.usage] == ["gpt-5"]
    assert any("counted as gpt-5" in note for note in data.notes)


def test_cached_is_clamped_to_input(tmp_path: Path, run: Runner) -> None:
    write(_sessions(tmp_path), [meta(), context("gpt-5"),
                                token_count(_at(10), None, usage(100, 150, 10))])

    data = run("codex", tmp_path, MARCH)

    assert total_tokens(data) == Tokens(input=0, cached_input=100, cache_write=0, output=10)


def test_subagent_replay_is_skipped(tmp_path: Path, run: Runner) -> None:
    replay = "2026-03-01T10:05:00"
    write(_sessions(tmp_path), [
        meta(subagent=True), context("gpt-5.1-codex"),
        token_count(replay + ".100Z", usage(1000, 0, 100), usage(1000, 0, 100)),
        token_count(replay + ".200Z", usage(2000, 0, 200), usage(1000, 0, 100)),
        token_count("2026-03-01T10:05:09.000Z", usage(2600, 0, 260)),
    ])

    data = run("codex", tmp_path, MARCH)

    assert requests(data) == 1
    assert total_tokens(data).output == 60


def test_archived_copy_counts_once(tmp_path: Path, run: Runner) -> None:
    lines = [meta(), context("gpt-5"), token_count(_at(10), usage(100, 0, 10), usage(100, 0, 10))]
    write(_sessions(tmp_path), lines)
    write(tmp_path / "archived_sessions" / NAME, lines)
    config = {"paths": [str(tmp_path / "sessions"), str(tmp_path / "archived_sessions")]}

    data = _run_with_options(run, config)

    assert requests(data) == 1


def test_archived_later_after_session_deleted(tmp_path: Path, run: Runner) -> None:
    lines = [meta(), context("gpt-5"), token_count(_at(10), usage(100, 0, 10), usage(100, 0, 10))]
    config = {"paths": [str(tmp_path / "sessions"), str(tmp_path / "archived_sessions")]}
    write(_sessions(tmp_path), lines)
    _run_with_options(run, config)

    _sessions(tmp_path).unlink()
    write(tmp_path / "archived_sessions" / NAME, lines)
    data = _run_with_options(run, config)

    assert requests(data) == 1


def test_appended_events_continue_the_totals(tmp_path: Path, run: Runner) -> None:
    log = write(_sessions(tmp_path), [meta(), context("gpt-5"),
                                      token_count(_at(10), usage(100, 0, 10))])
    run("codex", tmp_path, MARCH)

    write(log, [token_count(_at(20), usage(250, 0, 25))], mode="ab")
    data = run("codex", tmp_path, MARCH)

    assert requests(data) == 2
    assert total_tokens(data).input == 250
    assert total_tokens(data).output == 25


def test_codex_is_priced_at_openai_prices(tmp_path: Path, run: Runner) -> None:
    write(_sessions(tmp_path), [meta(), context("gpt-5"),
                                token_count(_at(10), None, usage(1_000_000, 0, 0))])

    data = run("codex", tmp_path, MARCH)

    assert data.usage[0].cost is not None
    assert data.usage[0].cost > 0
    assert data.unpriced_models == set()


def _run_with_options(run: Runner, options: dict[str, Any]) -> Any:
    import asyncio
    from datetime import UTC, datetime

    from tokenwatch_desktop.core.settings import AccountConfig
    from tokenwatch_desktop.local import codex
    from tokenwatch_desktop.providers.base import FetchRequest

    request = FetchRequest(account=AccountConfig("codex", "codex", options=options), key=None,
                           period=MARCH, http=None,  # type: ignore[arg-type]
                           now=datetime(2026, 12, 4, tzinfo=UTC), data_dir=run.data_dir)
    return asyncio.run(codex.fetch(request))
