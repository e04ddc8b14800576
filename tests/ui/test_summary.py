"""Tray text: the tooltip's lines, its UTF-16 limit, compact amounts, the month-end forecast."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import NOW, TODAY
from tokenwatch_desktop.core.aggregate import AccountIdentity, build_report
from tokenwatch_desktop.core.periods import DayBoundary, PeriodSpec, resolve
from tokenwatch_desktop.core.records import (
    AccountData,
    AccountKind,
    AccountReport,
    CostRow,
    CostSource,
)
from tokenwatch_desktop.core.report import Report
from tokenwatch_desktop.core.settings import Budgets, Settings
from tokenwatch_desktop.ui.summary import (
    ELLIPSIS,
    TOOLTIP_LIMIT,
    compact_amount,
    month_end_forecast,
    short_name,
    tooltip,
    utf16_length,
)


def account(account_id: str, name: str, per_day: str, kind: AccountKind = AccountKind.BILLED,
            label: str = "30d") -> AccountReport:
    period = resolve(PeriodSpec(label), DayBoundary.UTC, NOW)
    source = CostSource.REPORTED if kind is AccountKind.BILLED else CostSource.ESTIMATED
    data = AccountData(costs=[CostRow(day, Decimal(per_day), source) for day in period.days()],
                       cost_source=source)
    who = AccountIdentity(account_id, "openai", name, kind)
    return build_report(who, data, period, NOW, 5)


def report(*accounts: AccountReport, label: str = "30d") -> Report:
    return Report(resolve(PeriodSpec(label), DayBoundary.UTC, NOW), list(accounts), NOW, 5)


def test_utf16_length_counts_surrogates() -> None:
    assert utf16_length("abc") == 3
    assert utf16_length("💸") == 2
    assert utf16_length("é") == 1
    assert utf16_length("👩‍💻") == 5  # woman, zero-width joiner, laptop


def test_tooltip_lines_in_order() -> None:
    data = report(account("openai", "OpenAI", "2"),
                  account("claude-code", "Claude Code", "1", AccountKind.LOCAL))
    lines = tooltip(data, Settings(), False, NOW).split("\n")
    assert lines[0] == "Billed 30d: $60.00"
    assert lines[1] == "API-equivalent estimate $30.00"
    assert lines[2] == "OpenAI $60.00"
    assert lines[3] == "Claude Code ~$30.00"
    assert lines[4].startswith("as of ")


def test_tooltip_demo_prefix() -> None:
    text = tooltip(report(account("openai", "OpenAI", "1")), Settings(), True, NOW)
    assert text.startswith("Demo · billed 30d: $30.00")


def test_tooltip_forecast_with_budget() -> None:
    budget = Settings(budgets=Budgets(monthly_total=Decimal("500")))
    text = tooltip(report(account("openai", "OpenAI", "10")), budget, False, NOW)
    # December 2026: 4 days at $10 so far, projected over 31 days.
    assert text.split("\n")[1] == "Month-end forecast $310.00 of $500.00"


def test_tooltip_no_forecast_without_budget() -> None:
    text = tooltip(report(account("openai", "OpenAI", "10")), Settings(), False, NOW)
    assert "forecast" not in text


def test_forecast_needs_days_since_first() -> None:
    budget = Settings(budgets=Budgets(monthly_total=Decimal("500")))
    one_day = report(account("openai", "OpenAI", "10", label="1d"), label="1d")
    assert month_end_forecast(one_day, budget, TODAY) is None


def test_tooltip_limit_with_long_names_and_emoji() -> None:
    names = ["💸💸 Production organization with a very long display name 🚀🚀",
             "👩‍💻 Research team 👨‍👩‍👧‍👦 experiments and evaluation budget",
             "Ünïcödé staging account ✨✨✨✨✨✨✨✨✨✨✨✨",
             "Fourth account 🧪🧪🧪🧪🧪🧪🧪🧪",
             "Fifth account 🐙🐙🐙🐙🐙🐙🐙🐙🐙🐙"]
    accounts = [account(f"acct-{i}", name, str(100 + i)) for i, name in enumerate(names)]
    local = account("claude-code", "Claude Code 🤖🤖🤖", "3", AccountKind.LOCAL)
    budget = Settings(budgets=Budgets(monthly_total=Decimal("100000")))
    text = tooltip(report(*accounts, local), budget, True, NOW)
    lines = text.split("\n")
    assert utf16_length(text) <= TOOLTIP_LIMIT
    assert lines[0].startswith("Demo · billed 30d: ")
    assert lines[-1] == ELLIPSIS
    assert all(line in _candidates(accounts, local, budget) or line == ELLIPSIS
               for line in lines), "a line was cut instead of dropped"


def _candidates(accounts: list[AccountReport], local: AccountReport, budget: Settings
                ) -> set[str]:
    from tokenwatch_desktop.ui.summary import tooltip_parts

    parts = tooltip_parts(report(*accounts, local), budget, True, NOW)
    return set(parts.lines())


def test_tooltip_drops_accounts_before_as_of() -> None:
    accounts = [account(f"a{i}", f"Account number {i} with a long name", "1000") for i in range(3)]
    text = tooltip(report(*accounts), Settings(), False, NOW)
    lines = text.split("\n")
    assert lines[-2].startswith("as of ")
    assert lines[-1] == ELLIPSIS
    assert utf16_length(text) <= TOOLTIP_LIMIT


def test_tooltip_before_first_refresh() -> None:
    assert tooltip(None, Settings(), True, NOW) == "TokenWatch (demo data)\nWaiting for the first refresh"


@given(st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=6),
       st.booleans())
@settings(max_examples=60, deadline=None)
def test_tooltip_always_fits(names: list[str], demo: bool) -> None:
    accounts = [account(f"a{i}", name, str(i + 1)) for i, name in enumerate(names)]
    text = tooltip(report(*accounts), Settings(), demo, NOW)
    assert utf16_length(text) <= TOOLTIP_LIMIT
    assert text


@pytest.mark.parametrize(("value", "expected"), [
    ("0", "$0.00"), ("7.425", "$7.43"), ("86.4", "$86"), ("999.4", "$999"),
    ("1234", "$1.2k"), ("34567", "$35k"), ("1500000", "$1.5M"), ("-3", "-$3.00"),
])
def test_compact_amount(value: str, expected: str) -> None:
    assert compact_amount(Decimal(value)) == expected


def test_compact_amount_unknown() -> None:
    assert compact_amount(None) == "?"


def test_short_name_keeps_short() -> None:
    assert short_name("OpenAI") == "OpenAI"
    shortened = short_name("x" * 40)
    assert shortened.endswith(ELLIPSIS)
    assert len(shortened) == 24


def test_forecast_uses_utc_days_since_first() -> None:
    budget = Settings(budgets=Budgets(monthly_total=Decimal("100")))
    data = report(account("openai", "OpenAI", "1", label="mtd"), label="mtd")
    forecast = month_end_forecast(data, budget, TODAY)
    assert forecast is not None
    assert forecast.month_end == Decimal(31)
    assert data.period.start == TODAY.replace(day=1)
    assert TODAY - timedelta(days=3) == date(2026, 12, 1)


def test_as_of_is_fetch_time() -> None:
    from dataclasses import replace
    from datetime import timedelta as delta

    fetched = replace(report(account("openai", "OpenAI", "1")), generated_at=NOW - delta(hours=2))
    text = tooltip(fetched, Settings(), False, NOW)
    expected = (NOW - delta(hours=2)).astimezone().strftime("%H:%M")
    assert text.split("\n")[-1] == f"as of {expected}"
