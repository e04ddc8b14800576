"""Table models: text, alignment, sorting by value with unknown figures last."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tokenwatch_desktop.core.records import CostSource, DayTotal, ModelTotal, Tokens
from tokenwatch_desktop.ui.qt import QModelIndex, Qt, QTableView
from tokenwatch_desktop.ui.tables import RIGHT, day_table, model_table

DISPLAY = Qt.ItemDataRole.DisplayRole
ALIGN = Qt.ItemDataRole.TextAlignmentRole


def models() -> list[ModelTotal]:
    return [
        ModelTotal("gpt-4o", Decimal("12.345"), CostSource.REPORTED, Tokens(1234567, 0, 0, 1000), 10),
        ModelTotal("gpt-4o-mini", None, None, Tokens(5, 0, 0, 0), 2),
        ModelTotal("o3", Decimal("100.005"), CostSource.REPORTED, Tokens(10, 20, 30, 40), None),
        ModelTotal("Zeta", Decimal("0.5"), CostSource.ESTIMATED, None, None),
    ]


def cell(model: Any, row: int, column: int, role: int = DISPLAY) -> Any:
    return model.data(model.index(row, column), role)


def column_values(model: Any, column: int) -> list[Any]:
    return [cell(model, row, column) for row in range(model.rowCount())]


def test_model_table_text(qapp: Any) -> None:
    table = model_table()
    table.set_rows(models())
    assert table.rowCount() == 4
    assert table.rowCount(table.index(0, 0)) == 0
    assert cell(table, 0, 0) == "gpt-4o"
    assert cell(table, 0, 1) == "$12.35"  # half up, for display only
    assert cell(table, 2, 1) == "$100.01"
    assert cell(table, 1, 1) == "—"  # unknown is never $0
    assert cell(table, 0, 3) == "1,234,567"
    assert cell(table, 3, 3) == "—"
    assert cell(table, 2, 8) == "—"


def test_money_and_counts_right_aligned(qapp: Any) -> None:
    table = model_table()
    table.set_rows(models())
    assert cell(table, 0, 1, ALIGN) == int(RIGHT)
    assert cell(table, 0, 3, ALIGN) == int(RIGHT)
    assert cell(table, 0, 0, ALIGN) != int(RIGHT)


def test_sort_by_cost_unknown_last(qapp: Any) -> None:
    table = model_table()
    table.set_rows(models())
    table.sort(1, Qt.SortOrder.AscendingOrder)
    assert column_values(table, 0) == ["Zeta", "gpt-4o", "o3", "gpt-4o-mini"]
    table.sort(1, Qt.SortOrder.DescendingOrder)
    assert column_values(table, 0) == ["o3", "gpt-4o", "Zeta", "gpt-4o-mini"]


def test_sort_by_name_ignores_case(qapp: Any) -> None:
    table = model_table()
    table.set_rows(models())
    table.sort(0, Qt.SortOrder.AscendingOrder)
    assert column_values(table, 0) == ["gpt-4o", "gpt-4o-mini", "o3", "Zeta"]


def test_sort_survives_new_rows(qapp: Any) -> None:
    table = model_table()
    table.sort(1, Qt.SortOrder.DescendingOrder)
    table.set_rows(models())
    assert column_values(table, 0)[0] == "o3"
    table.sort(-1, Qt.SortOrder.AscendingOrder)
    assert column_values(table, 0) == ["gpt-4o", "gpt-4o-mini", "o3", "Zeta"]


def test_view_header_click_sorts(qtbot: Any) -> None:
    table = day_table()
    table.set_rows([DayTotal(date(2026, 12, d), Decimal(d % 3), CostSource.REPORTED, Tokens())
                    for d in range(1, 5)])
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(table)
    view.setSortingEnabled(True)
    view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    assert column_values(table, 1) == ["$2.00", "$1.00", "$1.00", "$0.00"]
    assert table.headerData(1, Qt.Orientation.Horizontal) == "Cost"
    assert table.headerData(0, Qt.Orientation.Vertical) is None
    assert table.data(QModelIndex()) is None


def test_balance_text_rounds() -> None:
    from tokenwatch_desktop.core.records import Balance
    from tokenwatch_desktop.ui.tables import balance_text

    assert balance_text([Balance(Decimal("825.15701"), "USD")]) == "$825.16"
    assert balance_text([Balance(Decimal("1234.565"), "CNY"), Balance(Decimal("2"), "USD")]) == (
        "1,234.57 CNY, $2.00")
    assert balance_text([]) == "—"
