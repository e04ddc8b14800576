"""Price lookup: overrides and their dates, genai-prices' own price changes, unknown models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.local.local_logs import Runner, assistant, period, write
from tokenwatch_desktop.core.pricing import PriceTable, model_names
from tokenwatch_desktop.core.settings import PriceOverride

MARCH = period(date(2026, 3, 1), date(2026, 3, 31))


def _ms(day: date, hour: int = 12) -> int:
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp() * 1000)


def _day_costs(data: object) -> dict[date, Decimal]:
    return {row.day: row.amount for row in data.costs}  # type: ignore[attr-defined]


def test_override_with_two_dates_prices_per_day(tmp_path: Path, run: Runner) -> None:
    overrides = [
        PriceOverride("anthropic", "claude-sonnet-4-5", input=Decimal(3), output=Decimal(15),
                      cache_read=Decimal("0.3"), cache_write=Decimal("3.75"),
                      start=date(2026, 3, 1)),
        PriceOverride("anthropic", "claude-sonnet-4-5", input=Decimal(6), output=Decimal(30),
                      cache_read=Decimal("0.6"), cache_write=Decimal("7.5"),
                      start=date(2026, 3, 10)),
    ]
    line = {"input_tokens": 1_000_000, "cache_read": 0, "cache_write": 0}
    write(tmp_path / "p" / "s.jsonl", [
        assistant("msg_1", "req_1", "2026-03-09T23:59:59.000Z", 0, **line),
        assistant("msg_2", "req_2", "2026-03-10T00:00:00.000Z", 0, **line),
    ])

    costs = _day_costs(run("claude-code", tmp_path, MARCH, overrides))

    assert costs == {date(2026, 3, 9): Decimal(3), date(2026, 3, 10): Decimal(6)}


def test_package_price_change_is_per_day() -> None:
    # genai-prices 0.2.3: claude-sonnet-4-6 charges $6/MTok input above 200k input tokens
    # until 2026-03-12 and a flat $3/MTok from 2026-03-13 on.
    table = PriceTable()
    counts = (300_000, 0, 0, 0, 0)

    before = table.cost("anthropic", "claude-sonnet-4-6", _ms(date(2026, 3, 12)), counts)
    after = table.cost("anthropic", "claude-sonnet-4-6", _ms(date(2026, 3, 13)), counts)

    assert before == Decimal("1.8")
    assert after == Decimal("0.9")


def test_override_wins_over_package(tmp_path: Path, run: Runner) -> None:
    override = PriceOverride("anthropic", "claude-sonnet-4-5", input=Decimal(1),
                             output=Decimal(1))
    write(tmp_path / "p" / "s.jsonl", [assistant("msg_1", "req_1", "2026-03-02T10:00:00.000Z",
                                                 1_000_000, input_tokens=0, cache_read=0,
                                                 cache_write=0)])

    package = _day_costs(Runner(None)("claude-code", tmp_path, MARCH))
    overridden = _day_costs(run("claude-code", tmp_path, MARCH, [override]))

    assert package == {date(2026, 3, 2): Decimal(15)}
    assert overridden == {date(2026, 3, 2): Decimal(1)}


def test_changed_override_prices_stored_history_again(tmp_path: Path, run: Runner) -> None:
    override = PriceOverride("anthropic", "claude-sonnet-4-5", input=Decimal(1),
                             output=Decimal(1))
    write(tmp_path / "p" / "s.jsonl", [assistant("msg_1", "req_1", "2026-03-02T10:00:00.000Z",
                                                 1_000_000, input_tokens=0, cache_read=0,
                                                 cache_write=0)])

    first = _day_costs(run("claude-code", tmp_path, MARCH))
    second = _day_costs(run("claude-code", tmp_path, MARCH, [override]))

    assert first == {date(2026, 3, 2): Decimal(15)}
    assert second == {date(2026, 3, 2): Decimal(1)}


def test_unknown_model_is_unpriced(tmp_path: Path, run: Runner) -> None:
    write(tmp_path / "p" / "s.jsonl", [
        assistant("msg_1", "req_1", "2026-03-02T10:00:00.000Z", 10, model="claude-nova-9"),
        assistant("msg_2", "req_2", "2026-03-02T10:00:00.000Z", 10),
    ])

    data = run("claude-code", tmp_path, MARCH)

    rows = {row.model: row for row in data.usage}
    assert data.unpriced_models == {"anthropic/claude-nova-9"}
    assert rows["claude-nova-9"].cost is None
    assert rows["claude-nova-9"].tokens.output == 10
    assert rows["claude-sonnet-4-5-20250929"].cost is not None


def test_vertex_model_names() -> None:
    assert model_names("claude-opus-4-5@20251101") == [
        "claude-opus-4-5@20251101", "claude-opus-4-5-20251101", "claude-opus-4-5"]


def test_vertex_model_matches_override() -> None:
    table = PriceTable([PriceOverride("anthropic", "claude-opus-4-5", input=Decimal(2),
                                      output=Decimal(2))])

    cost = table.cost("anthropic", "claude-opus-4-5@20251101", _ms(date(2026, 3, 2)),
                      (1_000_000, 0, 0, 0, 0))

    assert cost == Decimal(2)


def test_one_hour_writes_priced_apart() -> None:
    table = PriceTable()
    day = _ms(date(2026, 3, 2))

    five = table.cost("anthropic", "claude-opus-4-5", day, (0, 0, 1_000_000, 0, 0))
    hour = table.cost("anthropic", "claude-opus-4-5", day, (0, 0, 0, 1_000_000, 0))

    assert five == Decimal("6.25")
    assert hour == Decimal(10)


def test_updated_prices_are_ignored() -> None:
    from genai_prices import data_snapshot

    table = PriceTable()
    counts = (1_000_000, 0, 0, 0, 0)
    expected = table.cost("openai", "gpt-5", _ms(date(2026, 3, 2)), counts)
    data_snapshot.set_custom_snapshot(data_snapshot.DataSnapshot(providers=[],
                                                                 from_auto_update=True))
    try:
        again = PriceTable().cost("openai", "gpt-5", _ms(date(2026, 3, 2)), counts)
    finally:
        data_snapshot.set_custom_snapshot(None)

    assert again == expected


#: Price kinds the formula reads, plus per-search prices that token counts never reach.
COVERED = {"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok",
           "cache_write_1h_mtok", "requests_kcount", "web_searches_kcount",
           "storage_searches_kcount"}
MODELS = ["claude-sonnet-4-5", "claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5",
          "claude-3-5-haiku-latest", "claude-opus-4-8", "gpt-5", "gpt-5.1-codex",
          "gpt-4o", "o3"]


@given(model=st.sampled_from(MODELS), fast=st.booleans(),
       day=st.dates(date(2025, 6, 1), date(2026, 12, 31)),
       counts=st.tuples(*[st.integers(0, 400_000)] * 5))
@settings(max_examples=300, deadline=None)
def test_formula_matches_genai_prices(model: str, fast: bool, day: date,
                                      counts: tuple[int, int, int, int, int]) -> None:
    from genai_prices import Usage
    from genai_prices.data import providers
    from genai_prices.data_snapshot import DataSnapshot

    vendor = "anthropic" if model.startswith("claude") else "openai"
    snapshot = DataSnapshot(providers=providers, from_auto_update=False)
    _provider, info = snapshot.find_provider_model(model, None, vendor, None)
    uncached, read, five, hour, output = counts
    usage = Usage(input_tokens=uncached + read + five + hour, cache_read_tokens=read,
                  cache_write_tokens=five + hour, cache_write_1h_tokens=hour,
                  output_tokens=output)
    instant = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    prices = info.get_prices(instant, {"speed": "fast"} if fast else None)
    kinds = {key for key, value in prices.__dict__.items() if value is not None}
    assert kinds <= COVERED, f"{model} has a price kind the formula does not cover"

    expected = prices.calc_price(usage)["total_price"]
    found = PriceTable().cost(vendor, model, int(instant.timestamp() * 1000), counts, fast)

    assert found == expected
