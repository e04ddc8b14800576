"""The refresh controller against the in-process provider fake, with an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import qasync

from tests.ui.helpers import ManualClock, fake_accounts, run_until
from tokenwatch_desktop.core import secrets
from tokenwatch_desktop.core.periods import DayBoundary
from tokenwatch_desktop.core.records import Status
from tokenwatch_desktop.core.settings import AccountConfig, Settings
from tokenwatch_desktop.engine import Engine
from tokenwatch_desktop.providers.fake import FakeWorld
from tokenwatch_desktop.providers.fake.transport import fake_transport
from tokenwatch_desktop.ui.controller import Controller, RefreshState
from tokenwatch_desktop.ui.desktop import Clients

MINUTE = 60.0
KeyLookup = Callable[[str], Awaitable[secrets.KeyLookup]]


class Harness:
    """A controller on the fake, recording what it emits."""

    def __init__(self, settings: Settings, world: FakeWorld, clock: ManualClock,
                 loop: qasync.QEventLoop, key_lookup: KeyLookup | None = None,
                 demo: bool = False) -> None:
        self.loop = loop
        self.clients = Clients(transport=fake_transport(world), world=world)

        def build(current: Settings, is_demo: bool) -> Engine:
            return Engine(current, self.clients.http(is_demo), demo=is_demo,
                          key_lookup=key_lookup)

        self.controller = Controller(settings, build, demo=demo, clock=clock)
        self.notifications: list[tuple[str, str]] = []
        self.finished = 0
        self.controller.notify.connect(lambda t, m: self.notifications.append((t, m)))
        self.controller.refresh_finished.connect(self._on_finished)

    def _on_finished(self) -> None:
        self.finished += 1

    def start(self) -> None:
        self.controller.start()
        self.wait_refreshes(1)

    def wait_refreshes(self, count: int) -> None:
        target = count
        run_until(self.loop, lambda: self.finished >= target)

    def fire_timer(self) -> None:
        """What the QTimer does when it fires, without waiting real minutes."""
        before = self.finished
        self.controller.on_timer()
        if self.controller.refreshing:
            self.wait_refreshes(before + 1)

    def close(self) -> None:
        self.loop.run_until_complete(self.controller.shutdown())
        self.loop.run_until_complete(self.clients.aclose())


@pytest.fixture
def harness(settings: Settings, fake_world: FakeWorld, clock: ManualClock,
            qloop: qasync.QEventLoop, keys: Any) -> Any:
    made = Harness(settings, fake_world, clock, qloop)
    yield made
    made.close()


def requests_to(world: FakeWorld, prefix: str) -> int:
    return sum(1 for call in world.calls if call[0] == prefix)


def test_first_refresh_fetches_all(harness: Harness) -> None:
    harness.start()
    report = harness.controller.report
    assert report is not None
    assert [a.id for a in report.accounts] == ["openai", "anthropic"]
    assert all(a.status is Status.OK for a in report.accounts)
    assert harness.controller.state is RefreshState.FRESH


def test_timer_armed_for_hidden_interval(harness: Harness) -> None:
    harness.start()
    assert harness.controller.timer.isActive()
    assert harness.controller.timer.interval() == 15 * 60 * 1000


def test_open_window_shortens_interval(harness: Harness, settings: Settings) -> None:
    harness.controller.apply_settings(replace(settings, refresh_minutes=30))
    harness.wait_refreshes(1)
    assert harness.controller.timer.interval() == 30 * 60 * 1000
    harness.controller.set_window_open(True)
    assert harness.controller.timer.interval() == 10 * 60 * 1000


def test_due_accounts_only(harness: Harness, clock: ManualClock,
                           fake_world: FakeWorld) -> None:
    harness.controller.set_window_open(True)  # 15 / 3 = 5 min: Anthropic's floor, not OpenAI's
    harness.start()
    openai, anthropic = requests_to(fake_world, "openai"), requests_to(fake_world, "anthropic")
    clock.advance(5 * MINUTE)
    harness.fire_timer()
    assert requests_to(fake_world, "anthropic") > anthropic
    assert requests_to(fake_world, "openai") == openai
    clock.advance(10 * MINUTE)
    harness.fire_timer()
    assert requests_to(fake_world, "openai") > openai


def test_timer_early_fetches_nothing(harness: Harness, fake_world: FakeWorld,
                                     clock: ManualClock) -> None:
    harness.start()
    calls = len(fake_world.calls)
    clock.advance(MINUTE)
    harness.controller.on_timer()
    assert not harness.controller.refreshing
    assert len(fake_world.calls) == calls
    assert harness.controller.timer.interval() == 14 * 60 * 1000


def test_resume_from_sleep_refreshes(harness: Harness, clock: ManualClock,
                                     fake_world: FakeWorld) -> None:
    harness.start()
    calls = len(fake_world.calls)
    clock.advance(MINUTE)
    clock.sleep(6 * 3600)
    harness.controller.check_resume()
    assert harness.controller.timer.interval() == 0
    harness.fire_timer()
    assert len(fake_world.calls) > calls
    assert harness.finished == 2


def test_double_auth_failure_notifies_once(harness: Harness, clock: ManualClock,
                                           fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openai", "auth")
    harness.start()
    assert harness.notifications == []
    for _ in range(3):
        clock.advance(15 * MINUTE)
        harness.fire_timer()
    assert len(harness.notifications) == 1
    title, message = harness.notifications[0]
    assert "OpenAI test org" in title
    assert "Settings" in message


def test_double_auth_failure_names_env_variable(
        harness: Harness, clock: ManualClock, fake_world: FakeWorld,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWATCH_KEY_OPENAI", "sk-admin-from-env-0001")
    fake_world.set_scenario("openai", "auth")
    harness.start()
    clock.advance(15 * MINUTE)
    harness.fire_timer()
    assert len(harness.notifications) == 1
    message = harness.notifications[0][1]
    assert "TOKENWATCH_KEY_OPENAI" in message
    assert "Store a new key" not in message
    error = harness.controller.reports["openai"].error
    assert error is not None and "set TOKENWATCH_KEY_OPENAI" in error.message


def test_auth_count_resets_after_success(harness: Harness, clock: ManualClock,
                                         fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openai", "auth")
    harness.start()
    fake_world.set_scenario("openai", "ok")
    clock.advance(15 * MINUTE)
    harness.fire_timer()
    fake_world.set_scenario("openai", "auth")
    clock.advance(15 * MINUTE)
    harness.fire_timer()
    assert harness.notifications == []


def test_failed_account_keeps_last_figures(harness: Harness, clock: ManualClock,
                                           fake_world: FakeWorld) -> None:
    harness.start()
    assert harness.controller.report is not None
    good = harness.controller.reports["openai"]
    fake_world.set_scenario("openai", "forbidden")
    clock.advance(15 * MINUTE)
    harness.fire_timer()
    kept = harness.controller.reports["openai"]
    assert kept.status is Status.ERROR
    assert kept.stale is True
    assert kept.cost == good.cost
    assert kept.error is not None and kept.error.kind == "permission"
    assert harness.controller.state is RefreshState.STALE


def test_exception_in_refresh_then_next_runs(settings: Settings, fake_world: FakeWorld,
                                             clock: ManualClock, qloop: qasync.QEventLoop,
                                             keys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"count": 0}
    refresh = Engine.refresh

    async def flaky(self: Engine, *args: Any, **kwargs: Any) -> Any:
        calls["count"] += 1
        if calls["count"] == 1:
            raise RuntimeError("refresh exploded")
        return await refresh(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "refresh", flaky)
    harness = Harness(settings, fake_world, clock, qloop)
    failures: list[str] = []
    harness.controller.failure_changed.connect(failures.append)
    try:
        harness.start()
        assert harness.controller.state is RefreshState.ERROR
        assert "internal error" in harness.controller.failure
        assert harness.controller.timer.isActive()  # the next refresh is scheduled
        clock.advance(15 * MINUTE)
        harness.fire_timer()
        assert harness.controller.failure == ""
        assert failures[-1] == ""
        assert harness.controller.state is RefreshState.FRESH
        assert harness.controller.report is not None
    finally:
        harness.close()


def test_refresh_now_within_floor(harness: Harness, clock: ManualClock) -> None:
    messages: list[str] = []
    harness.controller.message.connect(messages.append)
    harness.start()
    clock.advance(6 * MINUTE)
    started = harness.controller.refresh_now()
    assert started == ["anthropic"]
    assert "OpenAI test org" in messages[-1]
    harness.wait_refreshes(2)


def test_period_change_refetches(harness: Harness, fake_world: FakeWorld) -> None:
    harness.start()
    calls = len(fake_world.calls)
    harness.controller.set_period("7d")
    harness.wait_refreshes(2)
    assert len(fake_world.calls) > calls
    assert harness.controller.report is not None
    assert harness.controller.report.period.label == "7d"
    assert len(harness.controller.report.accounts[0].days) == 7


def test_period_switch_back_within_floor_sends_nothing(
        harness: Harness, fake_world: FakeWorld, clock: ManualClock) -> None:
    """The floors hold per period: switching back shows the figures already fetched."""
    harness.start()
    harness.controller.set_period("7d")
    harness.wait_refreshes(2)
    calls = len(fake_world.calls)
    for label in ("30d", "7d", "30d", "7d", "30d"):
        harness.controller.set_period(label)
        assert not harness.controller.refreshing
        report = harness.controller.report
        assert report is not None and report.period.label == label
        assert [a.status for a in report.accounts] == [Status.OK, Status.OK]
    assert len(fake_world.calls) == calls
    assert harness.finished == 2
    clock.advance(6 * MINUTE)  # past Anthropic's 5 min floor, within OpenAI's 15 min
    openai, anthropic = requests_to(fake_world, "openai"), requests_to(fake_world, "anthropic")
    harness.controller.set_period("7d")
    harness.wait_refreshes(3)
    assert requests_to(fake_world, "openai") == openai
    assert requests_to(fake_world, "anthropic") > anthropic


def test_period_switch_after_sleep_refetches(harness: Harness, fake_world: FakeWorld,
                                             clock: ManualClock) -> None:
    harness.start()
    harness.controller.set_period("7d")
    harness.wait_refreshes(2)
    clock.advance(MINUTE)
    clock.sleep(6 * 3600)
    harness.controller.check_resume()
    harness.wait_refreshes(3)  # the shown period, at once
    calls = len(fake_world.calls)
    harness.controller.set_period("30d")  # fetched before the sleep: hours old
    harness.wait_refreshes(4)
    assert len(fake_world.calls) > calls


def test_period_switch_keeps_running_refresh(harness: Harness, fake_world: FakeWorld) -> None:
    """A refresh running at a switch finishes and its figures serve a switch back."""
    fake_world.latency = 0.2
    harness.controller.start()
    run_until(harness.loop, lambda: harness.controller.refreshing)
    harness.controller.set_period("7d")
    harness.controller.set_period("30d")
    harness.wait_refreshes(1)
    calls = len(fake_world.calls)
    assert not harness.controller.refreshing
    report = harness.controller.report
    assert report is not None and report.period.label == "30d"
    harness.controller.set_period("7d")
    harness.wait_refreshes(2)
    harness.controller.set_period("30d")
    assert not harness.controller.refreshing
    assert len(fake_world.calls) > calls
    assert harness.finished == 2


def test_new_key_fetches_within_floor(harness: Harness, fake_world: FakeWorld,
                                      clock: ManualClock) -> None:
    fake_world.set_scenario("openai", "auth")
    harness.start()
    assert harness.controller.reports["openai"].status is Status.ERROR
    fake_world.set_scenario("openai", "ok")
    clock.advance(MINUTE)
    anthropic = requests_to(fake_world, "anthropic")
    harness.controller.keys_changed(["openai", "not-an-account"])
    assert "openai" not in harness.controller.reports
    harness.wait_refreshes(2)
    assert harness.controller.reports["openai"].status is Status.OK
    assert requests_to(fake_world, "anthropic") == anthropic


def test_day_boundary_change_refetches_local_logs(
        harness: Harness, settings: Settings, tmp_path: Path, fake_world: FakeWorld) -> None:
    logs = tmp_path / "claude-logs"
    logs.mkdir()
    local = AccountConfig("claude-code", "claude-code", options={"paths": [str(logs)]})
    with_local = replace(settings, accounts=[*settings.accounts, local])
    harness.controller.apply_settings(with_local)
    harness.wait_refreshes(1)
    assert set(harness.controller.schedule.fetched) == {"openai", "anthropic", "claude-code"}
    calls = len(fake_world.calls)
    harness.controller.apply_settings(replace(with_local, day_boundary=DayBoundary.LOCAL))
    assert set(harness.controller.schedule.fetched) == {"openai", "anthropic"}
    harness.wait_refreshes(2)
    assert "claude-code" in harness.controller.schedule.fetched
    assert len(fake_world.calls) == calls


def test_period_change_during_refresh(harness: Harness, fake_world: FakeWorld) -> None:
    fake_world.latency = 0.2
    harness.controller.start()
    run_until(harness.loop, lambda: harness.controller.refreshing)
    harness.controller.set_period("mtd")
    run_until(harness.loop, lambda: harness.controller.report is not None
              and not harness.controller.refreshing)
    assert harness.controller.report is not None
    assert harness.controller.report.period.label == "mtd"


def test_removed_account_drops_figures(harness: Harness, settings: Settings) -> None:
    seen: list[list[str]] = []
    harness.controller.accounts_changed.connect(lambda accounts: seen.append(
        [a.id for a in accounts]))
    harness.start()
    harness.controller.apply_settings(replace(settings, accounts=fake_accounts()[:1]))
    assert seen[-1] == ["openai"]
    assert harness.controller.report is not None
    assert [a.id for a in harness.controller.report.accounts] == ["openai"]
    assert harness.controller.timer.interval() > 0  # OpenAI unchanged: no extra fetch


def test_shutdown_cancels_slow_refresh(harness: Harness, fake_world: FakeWorld) -> None:
    fake_world.latency = 30.0
    harness.controller.start()
    run_until(harness.loop, lambda: len(fake_world.calls) >= 1)
    assert harness.controller.refreshing
    harness.loop.run_until_complete(harness.controller.shutdown())
    assert not harness.controller.refreshing
    assert not harness.controller.timer.isActive()


def test_demo_mode_uses_demo_accounts(fake_world: FakeWorld, clock: ManualClock,
                                      qloop: qasync.QEventLoop) -> None:
    harness = Harness(Settings(), fake_world, clock, qloop, demo=True)
    try:
        harness.start()
        report = harness.controller.report
        assert report is not None
        assert report.demo is True
        assert {a.id for a in report.accounts} == {"openai", "anthropic", "grok", "openrouter",
                                                   "deepseek"}
    finally:
        harness.close()


def test_asyncio_not_left_running(harness: Harness) -> None:
    harness.start()
    assert not [t for t in asyncio.all_tasks(harness.loop) if not t.done()]


def test_long_retry_after_ends_rate_limited(harness: Harness, clock: ManualClock,
                                            fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openai", "rate_limit", retry_after=120)  # past the 10 s cap
    harness.start()
    report = harness.controller.reports["openai"]
    assert report.error is not None
    assert report.error.kind == "rate_limited"
    assert fake_world.counters["openai:early_retry"] == 0
    assert harness.controller.reports["anthropic"].status is Status.OK
    assert harness.controller.timer.interval() == 15 * 60 * 1000  # retried at the next turn
