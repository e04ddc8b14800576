"""Aggregation: one account's rows into days and models, and accounts into one total."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tokenwatch_desktop.core.aggregate import (
    AccountIdentity,
    average_per_day,
    build_report,
    combine_sources,
    cost_per_million,
    error_report,
    totals,
)
from tokenwatch_desktop.core.periods import Period
from tokenwatch_desktop.core.records import (
    UNATTRIBUTED,
    AccountData,
    AccountKind,
    AccountReport,
    CostRow,
    CostSource,
    ProblemInfo,
    Status,
    Tokens,
    UsageRow,
)

NOW = datetime(2026, 12, 4, 19, 0, tzinfo=UTC)
WEEK = Period("7d", date(2026, 11, 28), date(2026, 12, 4))
BILLED = AccountIdentity("openai", "openai", "OpenAI", AccountKind.BILLED)
LOCAL = AccountIdentity("codex", "codex", "Codex", AccountKind.LOCAL)
REPORTED = CostSource.REPORTED
ESTIMATED = CostSource.ESTIMATED


def day(offset: int) -> date:
    return WEEK.start + timedelta(days=offset)


def build(data: AccountData, who: AccountIdentity = BILLED) -> AccountReport:
    return build_report(who, data, WEEK, NOW, 5)


def test_every_day_listed() -> None:
    data = AccountData(costs=[CostRow(day(1), Decimal("1.10"), REPORTED),
                              CostRow(day(1), Decimal("0.0000007"), REPORTED, "gpt, input"),
                              CostRow(day(6), Decimal("2"), REPORTED)])
    result = build(data)
    assert [entry.day for entry in result.days] == list(WEEK.days())
    assert [entry.cost for entry in result.days] == [
        Decimal(0), Decimal("1.1000007"), Decimal(0), Decimal(0), Decimal(0), Decimal(0),
        Decimal(2)]
    assert result.cost == Decimal("3.1000007")
    assert result.status is Status.OK
    assert result.cost_source is REPORTED


def test_costs_outside_period_ignored() -> None:
    data = AccountData(costs=[CostRow(day(-1), Decimal(5), REPORTED),
                              CostRow(day(0), Decimal(1), REPORTED)])
    assert build(data).cost == Decimal(1)


def test_unknown_days_are_null() -> None:
    data = AccountData(costs=[CostRow(day(0), Decimal(1), REPORTED)],
                       unknown_days={day(5), day(6)})
    result = build(data)
    assert result.days[5].cost is None
    assert result.days[6].cost is None
    assert result.days[5].cost_source is None
    assert result.days[1].cost == Decimal(0)
    assert result.cost == Decimal(1)


def test_all_days_unknown_cost_null() -> None:
    data = AccountData(unknown_days=set(WEEK.days()))
    assert build(data).cost is None
    assert build(data).cost_source is None


def test_no_cost_data_is_null_not_zero() -> None:
    result = build(AccountData(has_cost=False, cost_source=None))
    assert result.cost is None
    assert all(entry.cost is None for entry in result.days)


def test_period_cost_without_days() -> None:
    result = build(AccountData(has_cost=False, period_cost=Decimal("12.34")))
    assert result.cost == Decimal("12.34")
    assert all(entry.cost is None for entry in result.days)


def usage(offset: int, model: str | None, output: int, requests: int | None = 1,
          cost: Decimal | None = None, source: CostSource | None = None) -> UsageRow:
    return UsageRow(day(offset), model, Tokens(10, 5, 2, output), requests, cost, source)


def test_models_and_tokens() -> None:
    data = AccountData(usage=[usage(0, "gpt-4o", 100, 2), usage(1, "gpt-4o", 50, 3),
                              usage(1, None, 7, 1), usage(-3, "gpt-4o", 999, 9)])
    result = build(data)
    models = {model.model: model for model in result.models}
    assert set(models) == {"gpt-4o", UNATTRIBUTED}
    assert models["gpt-4o"].tokens == Tokens(20, 10, 4, 150)
    assert models["gpt-4o"].requests == 5
    assert models[UNATTRIBUTED].tokens == Tokens(10, 5, 2, 7)
    assert result.tokens == Tokens(30, 15, 6, 157)
    assert result.requests == 6
    assert result.days[1].tokens == Tokens(20, 10, 4, 57)
    assert result.days[2].tokens == Tokens()


def test_model_cost_null_unless_all_priced() -> None:
    data = AccountData(usage=[
        usage(0, "a", 1, cost=Decimal("1.5"), source=ESTIMATED),
        usage(1, "a", 1, cost=Decimal("2.5"), source=ESTIMATED),
        usage(0, "b", 1, cost=Decimal("1"), source=ESTIMATED), usage(1, "b", 1),
    ])
    models = {model.model: model for model in build(data).models}
    assert models["a"].cost == Decimal(4)
    assert models["a"].cost_source is ESTIMATED
    assert models["b"].cost is None
    assert models["b"].cost_source is None


def test_models_sorted_by_cost_then_tokens() -> None:
    data = AccountData(usage=[usage(0, "cheap", 1, cost=Decimal(1), source=ESTIMATED),
                              usage(0, "dear", 1, cost=Decimal(9), source=ESTIMATED),
                              usage(0, "big", 10_000), usage(0, "small", 1)])
    assert [model.model for model in build(data).models] == ["dear", "cheap", "big", "small"]


def test_requests_unknown() -> None:
    assert build(AccountData(usage=[usage(0, "m", 1)], has_requests=False)).requests is None
    assert build(AccountData(usage=[usage(0, "m", 1, None)])).requests is None
    models = build(AccountData(usage=[usage(0, "m", 1)], has_requests=False)).models
    assert models[0].requests is None


def test_tokens_unknown() -> None:
    result = build(AccountData(has_tokens=False))
    assert result.tokens is None
    assert all(entry.tokens is None for entry in result.days)


def test_problems_make_partial() -> None:
    first = ProblemInfo("bad_response", "2 cost rows were invalid")
    data = AccountData(problems=[first, ProblemInfo("incomplete", "x")])
    result = build(data)
    assert result.status is Status.PARTIAL
    assert result.error == first


def test_unpriced_models_make_partial() -> None:
    result = build(AccountData(unpriced_models={"openai/mystery"}, cost_source=ESTIMATED))
    assert result.status is Status.PARTIAL
    assert result.error is not None
    assert result.error.kind == "unpriced"
    assert "openai/mystery" in result.error.message
    assert result.unpriced_models == ["openai/mystery"]


def test_mixed_sources() -> None:
    data = AccountData(costs=[CostRow(day(0), Decimal(1), REPORTED),
                              CostRow(day(0), Decimal(2), ESTIMATED),
                              CostRow(day(1), Decimal(2), ESTIMATED)])
    result = build(data)
    assert result.cost_source is CostSource.MIXED
    assert result.days[0].cost_source is CostSource.MIXED
    assert result.days[1].cost_source is ESTIMATED
    assert result.days[2].cost_source is REPORTED


@pytest.mark.parametrize(("sources", "combined"), [
    ([], None), ([None], None), ([REPORTED, REPORTED], REPORTED),
    ([REPORTED, None, ESTIMATED], CostSource.MIXED),
])
def test_combine_sources(sources: list[CostSource | None], combined: CostSource | None) -> None:
    assert combine_sources(sources) is combined


def test_notes_and_breakdown_carried() -> None:
    data = AccountData(notes=["settle late"], breakdown=[])
    result = build(data)
    assert result.notes == ["settle late"]
    assert result.breakdown == []
    assert result.period_start == WEEK.start
    assert result.period_end == WEEK.end


def test_error_report() -> None:
    problem = ProblemInfo("auth", "rejected")
    result = error_report(BILLED, problem, WEEK, 3)
    assert result.status is Status.ERROR
    assert result.error == problem
    assert result.cost is None
    assert len(result.days) == 7
    assert all(entry.cost is None and entry.tokens is None for entry in result.days)


def test_disabled_has_no_error() -> None:
    result = error_report(BILLED, ProblemInfo("disabled", ""), WEEK, 0, Status.DISABLED)
    assert result.status is Status.DISABLED
    assert result.error is None


def account(cost: str | None, status: Status = Status.OK, kind: AccountKind = AccountKind.BILLED,
            source: CostSource | None = REPORTED, unpriced: list[str] | None = None
            ) -> AccountReport:
    who = BILLED if kind is AccountKind.BILLED else LOCAL
    costs = [CostRow(day(0), Decimal(cost), source or REPORTED)] if cost is not None else []
    base = build(AccountData(costs=costs, has_cost=cost is not None), who)
    return replace(base, status=status, cost_source=source if cost is not None else None,
                   unpriced_models=unpriced or [])


def test_totals_keep_kinds_apart() -> None:
    result = totals([account("10.01"), account("5.5"),
                     account("3.25", kind=AccountKind.LOCAL, source=ESTIMATED)])
    assert result.cost == Decimal("15.51")
    assert result.local_estimate == Decimal("3.25")
    assert result.complete is True
    assert result.local_complete is True
    assert result.estimated is False


def test_totals_incomplete_when_partial_or_error() -> None:
    assert totals([account("1"), account("2", Status.PARTIAL)]).complete is False
    stale = totals([account("1"), account("2", Status.ERROR)])
    assert stale.complete is False
    assert stale.cost == Decimal(3)
    local = totals([account("1"), account("2", Status.PARTIAL, AccountKind.LOCAL, ESTIMATED)])
    assert local.complete is True
    assert local.local_complete is False


def test_totals_skip_disabled() -> None:
    result = totals([account("1"), account(None, Status.DISABLED)])
    assert result.complete is True
    assert result.cost == Decimal(1)


def test_totals_null_when_no_figures() -> None:
    result = totals([account(None, Status.ERROR)])
    assert result.cost is None
    assert result.local_estimate is None
    assert result.complete is False


def test_totals_estimated_and_unpriced() -> None:
    result = totals([account("1"), account("2", source=CostSource.MIXED, unpriced=["x/b"]),
                     account("3", kind=AccountKind.LOCAL, source=ESTIMATED, unpriced=["x/a"])])
    assert result.estimated is True
    assert result.unpriced_models == ["x/a", "x/b"]


def test_average_and_cost_per_million() -> None:
    data = AccountData(costs=[CostRow(day(0), Decimal("7"), REPORTED)],
                       usage=[UsageRow(day(0), "m", Tokens(500_000, 0, 0, 500_000))],
                       unknown_days={day(6)})
    result = build(data)
    assert average_per_day(result) == Decimal(7) / 6
    assert cost_per_million(result) == Decimal(7)


def test_cost_per_million_unknown() -> None:
    assert cost_per_million(build(AccountData(costs=[CostRow(day(0), Decimal(1), REPORTED)]))) \
        is None
    assert average_per_day(build(AccountData(has_cost=False))) is None
