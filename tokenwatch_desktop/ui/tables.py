"""Table models over the engine's records: accounts, an account's models, an account's days.

Each model sorts itself (`sort()` compares the `Decimal` and `int` values, never their text),
right-aligns money and counts, and writes tokens with thousands separators. An unknown figure
is "—", never 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, TypeVar

from tokenwatch_desktop.core.money import CENT, display
from tokenwatch_desktop.core.records import (
    AccountKind,
    AccountReport,
    Balance,
    CostSource,
    DayTotal,
    ModelTotal,
    Tokens,
)
from tokenwatch_desktop.ui.qt import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from tokenwatch_desktop.ui.tr import tr

Row = TypeVar("Row")
Index = QModelIndex | QPersistentModelIndex
UNKNOWN = "—"
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


def count_text(value: int | None) -> str:
    return UNKNOWN if value is None else f"{value:,}"


def source_text(source: CostSource | None) -> str:
    names = {CostSource.REPORTED: tr("reported"), CostSource.ESTIMATED: tr("estimated"),
             CostSource.MIXED: tr("mixed")}
    return names.get(source, UNKNOWN) if source is not None else UNKNOWN


@dataclass(frozen=True)
class Column(Generic[Row]):
    """A column: its header, the sort value, the display text, and whether it is numeric."""

    title: str
    value: Callable[[Row], Any]
    text: Callable[[Row], str]
    numeric: bool = False
    tip: str = ""


def _tokens_part(part: str) -> Callable[[Any], int | None]:
    def read(row: Any) -> int | None:
        tokens: Tokens | None = row.tokens
        return None if tokens is None else int(getattr(tokens, part))

    return read


def _token_columns() -> list[Column[Any]]:
    parts = (("input", tr("Input"), tr("Uncached input tokens")),
             ("cached_input", tr("Cache read"), tr("Input tokens read from the prompt cache")),
             ("cache_write", tr("Cache write"), tr("Tokens written to the prompt cache")),
             ("output", tr("Output"), tr("Output tokens, reasoning included")),
             ("total", tr("Total tokens"), ""))
    columns = []
    for part, title, tip in parts:
        read = _tokens_part(part)
        columns.append(Column(title, read, _counted(read), True, tip))
    return columns


def _counted(read: Callable[[Any], int | None]) -> Callable[[Any], str]:
    return lambda row: count_text(read(row))


class RecordTable(QAbstractTableModel, Generic[Row]):
    """A read-only, sortable table of frozen records."""

    def __init__(self, columns: Sequence[Column[Row]], rows: Sequence[Row] = ()) -> None:
        super().__init__()
        self.columns = list(columns)
        self.rows: list[Row] = list(rows)
        self._natural: list[Row] = list(rows)
        self._sort: tuple[int, Qt.SortOrder] | None = None

    def set_rows(self, rows: Sequence[Row]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self._natural = list(rows)
        if self._sort is not None:
            self._sort_rows(*self._sort)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        column = self.columns[index.column()]
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(RIGHT if column.numeric else LEFT)
        if role == Qt.ItemDataRole.UserRole:
            return column.value(row)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        column = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole and column.tip:
            return column.tip
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(RIGHT if column.numeric else LEFT)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        self._sort_rows(column, order)
        self.layoutChanged.emit()

    def _sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        if not 0 <= column < len(self.columns):
            self.rows = list(self._natural)  # no sort column: the order the records came in
            return
        read = self.columns[column].value
        descending = order == Qt.SortOrder.DescendingOrder
        known = [row for row in self.rows if read(row) is not None]
        unknown = [row for row in self.rows if read(row) is None]
        known.sort(key=read, reverse=descending)
        self.rows = known + unknown  # unknown figures stay last in either order


def model_columns() -> list[Column[ModelTotal]]:
    return [
        Column(tr("Model"), lambda m: m.model.lower(), lambda m: m.model),
        Column(tr("Cost"), lambda m: m.cost, lambda m: display(m.cost), True,
               tr("— where the provider reports cost per day or line item, not per model")),
        Column(tr("Source"), lambda m: source_text(m.cost_source),
               lambda m: source_text(m.cost_source)),
        *_token_columns(),
        Column(tr("Requests"), lambda m: m.requests, lambda m: count_text(m.requests), True),
    ]


def day_columns() -> list[Column[DayTotal]]:
    return [
        Column(tr("Day"), lambda d: d.day, lambda d: d.day.isoformat()),
        Column(tr("Cost"), lambda d: d.cost, lambda d: display(d.cost), True),
        Column(tr("Source"), lambda d: source_text(d.cost_source),
               lambda d: source_text(d.cost_source)),
        *_token_columns(),
    ]


def _status_text(account: AccountReport) -> str:
    text = {"ok": tr("ok"), "partial": tr("partial"), "error": tr("error"),
            "disabled": tr("disabled")}.get(account.status.value, account.status.value)
    return tr("{status}, stale").format(status=text) if account.stale else text


def _kind_text(account: AccountReport) -> str:
    return tr("billed") if account.kind is AccountKind.BILLED else tr("local logs")


def balance_text(balances: Sequence[Balance]) -> str:
    """Balances rounded half up to cents: `$12.34` for USD, `56.78 CNY` for other currencies."""
    parts = []
    for balance in balances:
        if balance.currency == "USD":
            parts.append(display(balance.remaining))
        else:
            rounded = balance.remaining.quantize(CENT, rounding=ROUND_HALF_UP)
            parts.append(f"{rounded:,} {balance.currency}")
    return ", ".join(parts) or UNKNOWN


def _balance_text(account: AccountReport) -> str:
    return balance_text(account.balance)


def _as_of_text(account: AccountReport) -> str:
    return account.as_of.astimezone().strftime("%Y-%m-%d %H:%M") if account.as_of else UNKNOWN


def account_columns() -> list[Column[AccountReport]]:
    return [
        Column(tr("Account"), lambda a: a.name.lower(), lambda a: a.name),
        Column(tr("Kind"), _kind_text, _kind_text),
        Column(tr("Status"), _status_text, _status_text),
        Column(tr("Cost"), lambda a: a.cost, lambda a: display(a.cost), True,
               tr("Billed accounts: what the provider charges. Local logs: an API-equivalent "
                  "estimate, not added to the billed total.")),
        Column(tr("Source"), lambda a: source_text(a.cost_source),
               lambda a: source_text(a.cost_source)),
        Column(tr("Tokens"), lambda a: a.tokens.total if a.tokens else None,
               lambda a: count_text(a.tokens.total if a.tokens else None), True),
        Column(tr("Balance"), lambda a: a.balance[0].remaining if a.balance else None,
               _balance_text, True),
        Column(tr("As of"), lambda a: a.as_of, _as_of_text),
    ]


def model_table() -> RecordTable[ModelTotal]:
    return RecordTable(model_columns())


def day_table() -> RecordTable[DayTotal]:
    return RecordTable(day_columns())


def account_table() -> RecordTable[AccountReport]:
    return RecordTable(account_columns())


__all__ = ["Decimal", "RecordTable", "account_table", "count_text", "day_table", "model_table"]
