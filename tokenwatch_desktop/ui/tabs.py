"""The summary window's tabs: "All" (every account) and one tab per account."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from tokenwatch_desktop.core.aggregate import average_per_day, cost_per_million
from tokenwatch_desktop.core.money import display
from tokenwatch_desktop.core.periods import Period
from tokenwatch_desktop.core.records import AccountKind, AccountReport, Status
from tokenwatch_desktop.core.report import Report
from tokenwatch_desktop.ui.chart import Bar, CostChart
from tokenwatch_desktop.ui.qt import (
    QAbstractItemView,
    QFont,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    Qt,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from tokenwatch_desktop.ui.tables import (
    RecordTable,
    account_table,
    balance_text,
    count_text,
    day_table,
    model_table,
    source_text,
)
from tokenwatch_desktop.ui.tr import tr

#: Error kinds whose next step is in the settings dialog (a key or an option to fix).
SETTINGS_KINDS = frozenset({"auth", "no_key", "keyring", "config", "permission", "not_found"})


def table_view(model: RecordTable[Any]) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the name column takes the rest
    view.setAlternatingRowColors(True)
    return view


def big_label(text: str = "") -> QLabel:
    label = QLabel(text)
    font = QFont(label.font())
    font.setPointSizeF(font.pointSizeF() * 1.6)
    font.setBold(True)
    label.setFont(font)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def wrapped_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def day_convention(period: Period | None, kind: AccountKind) -> str:
    """Say which days the figures use: billed data is always in UTC days."""
    if kind is AccountKind.BILLED or period is None or period.day_boundary.value == "utc":
        return tr("UTC days")
    return tr("local days")


def period_text(period: Period, kind: AccountKind) -> str:
    return tr("{label}: {start} to {end}, {days}").format(
        label=period.label, start=period.start.isoformat(), end=period.end.isoformat(),
        days=day_convention(period, kind))


class AllTab(QWidget):
    """The billed total with the local-log estimate beside it, every account, cost per day."""

    account_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.total = big_label(tr("No figures yet"))
        self.total_caption = QLabel(tr("Billed total"))
        self.local = big_label("")
        self.local_caption = QLabel(tr("API-equivalent estimate from local logs"))
        self.local_caption.setToolTip(tr(
            "What coding agents used, priced at API list prices. It may already be inside a "
            "billed figure or never billed at all, so it is shown beside the billed total and "
            "never added into it."))
        self.period = wrapped_label("")
        self.completeness = wrapped_label("")
        self.chart = CostChart()
        self.model = account_table()
        self.view = table_view(self.model)
        self.view.doubleClicked.connect(self._on_double_click)
        self._layout()

    def _layout(self) -> None:
        totals = QHBoxLayout()
        for caption, value in ((self.total_caption, self.total),
                               (self.local_caption, self.local)):
            column = QVBoxLayout()
            column.addWidget(caption)
            column.addWidget(value)
            totals.addLayout(column)
        totals.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(totals)
        layout.addWidget(self.period)
        layout.addWidget(self.completeness)
        layout.addWidget(self.chart)
        layout.addWidget(self.view, 1)

    def show_report(self, report: Report | None) -> None:
        if report is None:
            self.total.setText(tr("No figures yet"))
            self.local.setText("")
            self.model.set_rows([])
            self.chart.set_bars([])
            return
        totals = report.totals
        self.total.setText(display(totals.cost, tr("no figure")))
        has_local = any(a.kind is AccountKind.LOCAL for a in report.accounts)
        self.local.setText(display(totals.local_estimate, tr("no figure")) if has_local else "")
        self.local_caption.setVisible(has_local)
        self.local.setVisible(has_local)
        self.period.setText(period_text(report.period, AccountKind.BILLED))
        self.completeness.setText(self._completeness(report))
        self.model.set_rows(report.accounts)
        self.chart.set_bars(billed_bars(report), caption=tr("billed, UTC days"))

    def _completeness(self, report: Report) -> str:
        totals = report.totals
        notes = []
        if not totals.complete:
            notes.append(tr("The billed total is a lower bound: some accounts failed or are "
                            "partial (see their tabs)."))
        if totals.estimated:
            notes.append(tr("Part of the billed total is estimated from token counts."))
        if totals.unpriced_models:
            notes.append(tr("No price is known for {models}.").format(
                models=", ".join(totals.unpriced_models)))
        return " ".join(notes)

    def _on_double_click(self, index: object) -> None:
        row = getattr(index, "row", lambda: -1)()
        if 0 <= row < len(self.model.rows):
            self.account_activated.emit(self.model.rows[row].id)


def billed_bars(report: Report) -> list[Bar]:
    """Sum billed cost per UTC day over the billed accounts; a day with no figure stays unknown."""
    sums: dict[date, Decimal] = defaultdict(Decimal)
    known: set[date] = set()
    for account in report.billed():
        if account.status is Status.DISABLED:
            continue
        for day in account.days:
            if day.cost is not None:
                sums[day.day] += day.cost
                known.add(day.day)
    return [Bar(day, sums[day] if day in known else None) for day in report.period.days()]


class AccountTab(QWidget):
    """One account: totals, status and next step, notes, cost per day, tables by model and day."""

    settings_requested = Signal()

    def __init__(self, account_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.account_id = account_id
        self.title = big_label("")
        self.status = wrapped_label("")
        self.status.setObjectName("status")
        self.settings_button = QPushButton(tr("Open settings"))
        self.settings_button.clicked.connect(self.settings_requested)
        self.period = wrapped_label("")
        self.notes = wrapped_label("")
        self.fields: dict[str, QLabel] = {}
        self.chart = CostChart()
        self.models = model_table()
        self.days = day_table()
        self.tables = QTabWidget()
        self.tables.addTab(table_view(self.models), tr("By model"))
        self.tables.addTab(table_view(self.days), tr("By day"))
        self._layout()

    def _layout(self) -> None:
        form = QFormLayout()
        for key, caption in (("cost", tr("Cost")), ("source", tr("Source")),
                             ("average", tr("Average per day")),
                             ("per_million", tr("Cost per million tokens")),
                             ("tokens", tr("Tokens")), ("requests", tr("Requests")),
                             ("balance", tr("Balance")), ("as_of", tr("As of"))):
            label = QLabel("")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = label
            form.addRow(caption, label)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.settings_button, 0, Qt.AlignmentFlag.AlignTop)
        top = QHBoxLayout()
        top.addLayout(form)
        top.addWidget(self.chart, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(status_row)
        layout.addWidget(self.period)
        layout.addLayout(top)
        layout.addWidget(self.notes)
        layout.addWidget(self.tables, 1)

    def show_account(self, account: AccountReport | None, report: Report | None) -> None:
        if account is None or report is None:
            self.status.setText(tr("Waiting for the first refresh of this account."))
            self.settings_button.setVisible(False)
            return
        local = account.kind is AccountKind.LOCAL
        period = report.local_period if local and report.local_period else report.period
        self.title.setText(account.name)
        self.status.setText(status_text(account))
        self.settings_button.setVisible(account.error is not None
                                        and account.error.kind in SETTINGS_KINDS)
        self.period.setText(period_text(period, account.kind))
        self._show_fields(account, local)
        self.notes.setText("\n".join(account.notes))
        self.notes.setVisible(bool(account.notes))
        self.models.set_rows(account.models)
        self.days.set_rows(account.days)
        caption = day_convention(period, account.kind)
        self.chart.set_bars([Bar(d.day, d.cost) for d in account.days], estimated=local,
                            caption=caption)

    def _show_fields(self, account: AccountReport, local: bool) -> None:
        cost = display(account.cost, tr("no figure"))
        if local and account.cost is not None:
            cost = tr("{amount} (API-equivalent estimate)").format(amount=cost)
        tokens = account.tokens.total if account.tokens else None
        per_million = cost_per_million(account)
        values = {
            "cost": cost,
            "source": source_text(account.cost_source),
            "average": display(average_per_day(account)),
            "per_million": display(per_million),
            "tokens": count_text(tokens),
            "requests": count_text(account.requests),
            "balance": balance_text(account.balance),
            "as_of": account.as_of.astimezone().strftime("%Y-%m-%d %H:%M") if account.as_of
            else "—",
        }
        for key, text in values.items():
            self.fields[key].setText(text)


def status_text(account: AccountReport) -> str:
    """Describe the account's status, its error with the next step, and the age of stale figures."""
    names = {Status.OK: tr("OK"), Status.PARTIAL: tr("Partial"), Status.ERROR: tr("Error"),
             Status.DISABLED: tr("Disabled")}
    text = names[account.status]
    if account.error is not None:
        text += f" ({account.error.kind}): {account.error.message}"
    if account.stale and account.as_of is not None:
        when = account.as_of.astimezone().strftime("%Y-%m-%d %H:%M")
        text += " " + tr("Showing the last figures, from {when}.").format(when=when)
    return text
