"""A bar chart of cost per day, painted by hand with QPainter (QtCharts is not a dependency).

Days with no figure get a hollow marker instead of a zero bar, so unknown never reads as $0.
Hovering a bar shows its day and amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tokenwatch_desktop.core.money import display
from tokenwatch_desktop.ui.qt import (
    QColor,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QRectF,
    QSize,
    Qt,
    QToolTip,
    QWidget,
)
from tokenwatch_desktop.ui.tr import tr

BAR_COLOR = QColor(0x2E, 0x86, 0xDE)
ESTIMATE_COLOR = QColor(0xE6, 0x7E, 0x22)


@dataclass(frozen=True)
class Bar:
    day: date
    cost: Decimal | None


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `value` (> 0)."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        candidate = step.scaleb(exponent)
        if candidate >= value:
            return candidate
    return Decimal(10).scaleb(exponent)  # unreachable: 10 × 10^exponent > value


def axis_label(value: Decimal, top: Decimal) -> str:
    """Whole dollars on an axis that reaches $10 or more; cents below that."""
    if top >= 10:
        return f"${value:,.0f}"
    return display(value)


class CostChart(QWidget):
    """Cost per day. `estimated` draws the bars in the estimate colour (local-log accounts)."""

    MARGIN_LEFT = 64
    MARGIN_RIGHT = 12
    MARGIN_TOP = 18
    MARGIN_BOTTOM = 28

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bars: list[Bar] = []
        self.estimated = False
        self.caption = ""
        self.setMouseTracking(True)
        self.setMinimumHeight(140)
        self.setAccessibleName(tr("Cost per day"))

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(480, 180)

    def set_bars(self, bars: Sequence[Bar], estimated: bool = False, caption: str = "") -> None:
        self.bars = list(bars)
        self.estimated = estimated
        self.caption = caption
        self.update()

    def top_value(self) -> Decimal:
        known = [bar.cost for bar in self.bars if bar.cost is not None]
        return nice_ceiling(max(known, default=Decimal(0)))

    def plot_rect(self) -> QRectF:
        return QRectF(self.MARGIN_LEFT, self.MARGIN_TOP,
                      max(1, self.width() - self.MARGIN_LEFT - self.MARGIN_RIGHT),
                      max(1, self.height() - self.MARGIN_TOP - self.MARGIN_BOTTOM))

    def bar_rect(self, index: int) -> QRectF:
        """The full-height slot of bar `index` in widget coordinates."""
        plot = self.plot_rect()
        slot = plot.width() / max(1, len(self.bars))
        return QRectF(plot.left() + index * slot, plot.top(), slot, plot.height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._paint_axes(painter)
            self._paint_bars(painter)
        finally:
            painter.end()

    def _paint_axes(self, painter: QPainter) -> None:
        plot = self.plot_rect()
        text_color = self.palette().color(QPalette.ColorRole.WindowText)
        grid = QColor(text_color)
        grid.setAlpha(50)
        top = self.top_value()
        for fraction in (Decimal(0), Decimal("0.5"), Decimal(1)):
            y = plot.bottom() - float(fraction) * plot.height()
            painter.setPen(QPen(grid, 1))
            painter.drawLine(int(plot.left()), int(y), int(plot.right()), int(y))
            painter.setPen(text_color)
            label = QRectF(0, y - 9, self.MARGIN_LEFT - 6, 18)
            painter.drawText(label, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                             axis_label(top * fraction, top))
        if not self.bars:
            painter.drawText(plot, int(Qt.AlignmentFlag.AlignCenter), tr("No figures yet"))
            return
        self._paint_dates(painter, plot)

    def _paint_dates(self, painter: QPainter, plot: QRectF) -> None:
        picks = sorted({0, len(self.bars) // 2, len(self.bars) - 1})
        for index in picks:
            slot = self.bar_rect(index)
            text = self.bars[index].day.strftime("%b %d")
            box = QRectF(slot.center().x() - 40, plot.bottom() + 4, 80, 18)
            painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)
        if self.caption:
            box = QRectF(plot.left(), 0, plot.width(), self.MARGIN_TOP + 4)
            painter.drawText(box, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop),
                             self.caption)

    def _paint_bars(self, painter: QPainter) -> None:
        plot = self.plot_rect()
        top = self.top_value()
        color = ESTIMATE_COLOR if self.estimated else BAR_COLOR
        muted = self.palette().color(QPalette.ColorRole.Mid)
        for index, bar in enumerate(self.bars):
            slot = self.bar_rect(index)
            width = max(1.0, slot.width() * 0.7)
            left = slot.center().x() - width / 2
            if bar.cost is None:
                painter.setPen(QPen(muted, 1, Qt.PenStyle.DashLine))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(QRectF(left, plot.bottom() - 6, width, 6))
                continue
            height = float(bar.cost / top) * plot.height() if top else 0.0
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRect(QRectF(left, plot.bottom() - height, width, height))

    def bar_at(self, x: float) -> int | None:
        plot = self.plot_rect()
        if not self.bars or not plot.left() <= x <= plot.right():
            return None
        index = int((x - plot.left()) / (plot.width() / len(self.bars)))
        return min(index, len(self.bars) - 1)

    def describe(self, index: int) -> str:
        bar = self.bars[index]
        amount = display(bar.cost, tr("no figure"))
        return f"{bar.day.isoformat()}: {amount}"

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        index = self.bar_at(event.position().x())
        if index is None:
            QToolTip.hideText()
            return
        QToolTip.showText(event.globalPosition().toPoint(), self.describe(index), self)
