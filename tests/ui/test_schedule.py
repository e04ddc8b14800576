"""The refresh schedule: adaptive interval, provider floors, the floor override, resume."""

from __future__ import annotations

import pytest

from tests.ui.helpers import ManualClock, fake_accounts
from tokenwatch_desktop.core.settings import AccountConfig
from tokenwatch_desktop.ui.schedule import Schedule, floor_override, is_loopback

MINUTE = 60.0


def schedule(clock: ManualClock, refresh_minutes: int = 15) -> Schedule:
    plan = Schedule(clock, refresh_minutes)
    plan.set_accounts(fake_accounts())  # openai floor 15 min, anthropic 5 min
    return plan


def test_new_accounts_due_at_once(clock: ManualClock) -> None:
    plan = schedule(clock)
    assert plan.due() == ["openai", "anthropic"]
    assert plan.next_wakeup() == 0


def test_hidden_interval_is_refresh_minutes(clock: ManualClock) -> None:
    plan = schedule(clock, refresh_minutes=20)
    plan.mark_fetched(["openai", "anthropic"])
    assert plan.next_wakeup() == 20 * MINUTE
    clock.advance(20 * MINUTE - 1)
    assert plan.due() == []
    clock.advance(1)
    assert plan.due() == ["openai", "anthropic"]


def test_open_window_divides_interval_above_floor(clock: ManualClock) -> None:
    plan = schedule(clock, refresh_minutes=30)
    plan.window_open = True
    plan.mark_fetched(["openai", "anthropic"])
    assert plan.due_at("anthropic") - clock.mono == 10 * MINUTE
    assert plan.due_at("openai") - clock.mono == 15 * MINUTE  # OpenAI's floor wins over 10 min
    assert plan.next_wakeup() == 10 * MINUTE


def test_floor_never_undercut(clock: ManualClock) -> None:
    plan = schedule(clock, refresh_minutes=5)
    plan.window_open = True  # 5 / 3 min, below both floors
    plan.mark_fetched(["openai", "anthropic"])
    assert plan.due_at("anthropic") - clock.mono == 5 * MINUTE
    assert plan.due_at("openai") - clock.mono == 15 * MINUTE


def test_manual_refresh_respects_floor(clock: ManualClock) -> None:
    plan = schedule(clock)
    plan.mark_fetched(["openai", "anthropic"])
    clock.advance(6 * MINUTE)
    assert plan.allowed() == ["anthropic"]


def test_override_lowers_floors(clock: ManualClock) -> None:
    plan = schedule(clock, refresh_minutes=5)
    plan.override = 1.0
    plan.mark_fetched(["openai"])
    assert plan.due_at("openai") - clock.mono == 5 * MINUTE  # the interval still applies
    assert plan.allowed_at("openai") - clock.mono == 1.0


def test_resume_refreshes_at_once(clock: ManualClock) -> None:
    plan = schedule(clock, refresh_minutes=15)
    plan.mark_fetched(["openai", "anthropic"])
    clock.advance(2 * MINUTE)
    clock.sleep(8 * 3600)
    assert plan.check_resume() is True
    assert plan.due() == ["openai", "anthropic"]
    assert plan.next_wakeup() == 0


def test_small_wall_jump_is_not_resume(clock: ManualClock) -> None:
    plan = schedule(clock, refresh_minutes=15)
    plan.mark_fetched(["openai", "anthropic"])
    clock.sleep(2 * 15 * MINUTE)  # exactly twice the interval: not more than twice
    assert plan.check_resume() is False
    assert plan.due() == []


def test_wall_clock_set_back_is_not_resume(clock: ManualClock) -> None:
    plan = schedule(clock)
    plan.mark_fetched(["openai", "anthropic"])
    clock.sleep(-6 * 3600)
    assert plan.check_resume() is False


def test_removed_accounts_forgotten(clock: ManualClock) -> None:
    plan = schedule(clock)
    plan.mark_fetched(["openai", "anthropic"])
    plan.set_accounts(fake_accounts()[:1])
    assert list(plan.fetched) == ["openai"]
    assert plan.due() == []


@pytest.mark.parametrize(("url", "expected"), [
    ("http://127.0.0.1:8080/openai/v1", True), ("http://127.8.9.10/x", True),
    ("http://[::1]:9000/", True), ("http://localhost:1234", True),
    ("https://api.openai.com/v1", False), ("http://10.0.0.1/", False), (None, False),
])
def test_is_loopback(url: str | None, expected: bool) -> None:
    assert is_loopback(url) is expected


def test_override_only_in_demo_or_loopback() -> None:
    env = {"TOKENWATCH_MIN_REFRESH_SECONDS": "2"}
    loopback = [AccountConfig("openai", "openai", base_url="http://127.0.0.1:5000/openai/v1")]
    remote = [AccountConfig("openai", "openai", base_url="https://api.openai.com/v1")]
    default = [AccountConfig("openai", "openai")]
    assert floor_override(remote, True, env) == 2.0
    assert floor_override(loopback, False, env) == 2.0
    assert floor_override(remote, False, env) is None
    assert floor_override(default, False, env) is None
    assert floor_override(loopback + remote, False, env) is None
    assert floor_override(loopback, False, {}) is None
    assert floor_override(loopback, False, {"TOKENWATCH_MIN_REFRESH_SECONDS": "soon"}) is None


def test_unsent_attempt_skips_floor(clock: ManualClock) -> None:
    plan = schedule(clock)
    plan.mark_fetched(["openai", "anthropic"])
    plan.mark_unsent(["openai"])  # the keyring was locked: nothing reached OpenAI
    assert plan.allowed() == ["openai"]
    assert plan.due() == []  # the timer still waits for the interval
    plan.mark_fetched(["openai"])
    assert plan.allowed() == []
