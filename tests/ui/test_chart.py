"""The cost-per-day chart: scale, hit testing, painting offscreen."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tokenwatch_desktop.ui.chart import Bar, CostChart, axis_label, nice_ceiling


@pytest.mark.parametrize(("value", "expected"), [
    ("0", "1"), ("0.3", "0.5"), ("1", "1"), ("1.01", "2"), ("2.2", "2.5"), ("7", "10"),
    ("740", "1000"), ("1234.5", "2000"),
])
def test_nice_ceiling(value: str, expected: str) -> None:
    assert nice_ceiling(Decimal(value)) == Decimal(expected)


def test_axis_label() -> None:
    assert axis_label(Decimal("500"), Decimal("1000")) == "$500"
    assert axis_label(Decimal("2.5"), Decimal("5")) == "$2.50"


def bars(count: int) -> list[Bar]:
    start = date(2026, 11, 5)
    return [Bar(start + timedelta(days=i), None if i == 3 else Decimal(i)) for i in range(count)]


def test_chart_paints_bars(qtbot: Any) -> None:
    chart = CostChart()
    qtbot.addWidget(chart)
    chart.resize(400, 200)
    chart.set_bars(bars(10), caption="UTC days")
    image = chart.grab().toImage()
    blue = sum(1 for x in range(0, 400, 2) for y in range(0, 200, 2)
               if image.pixelColor(x, y).blue() > 180 and image.pixelColor(x, y).red() < 100)
    assert blue > 50
    assert chart.top_value() == Decimal(10)


def test_chart_empty_paints(qtbot: Any) -> None:
    chart = CostChart()
    qtbot.addWidget(chart)
    chart.resize(300, 150)
    assert not chart.grab().isNull()
    assert chart.bar_at(150) is None


def test_bar_hit_testing(qtbot: Any) -> None:
    chart = CostChart()
    qtbot.addWidget(chart)
    chart.resize(400 + CostChart.MARGIN_LEFT + CostChart.MARGIN_RIGHT, 200)
    chart.set_bars(bars(4))
    assert chart.bar_at(CostChart.MARGIN_LEFT + 10) == 0
    assert chart.bar_at(CostChart.MARGIN_LEFT + 399) == 3
    assert chart.bar_at(5) is None
    assert chart.describe(3) == "2026-11-08: no figure"
    assert chart.describe(2) == "2026-11-07: $2.00"
