"""Text the tray and the window show: the tooltip, compact amounts, the month-end forecast.

No widgets here, so these rules are tested without a display. Money stays `Decimal` until
`money.display` rounds it for people.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from tokenwatch_desktop.core.money import display
from tokenwatch_desktop.core.records import AccountKind, AccountReport, Status
from tokenwatch_desktop.core.report import Report
from tokenwatch_desktop.core.settings import Settings
from tokenwatch_desktop.ui.tr import tr

#: Windows truncates or rejects tray tooltips longer than this many UTF-16 code units.
TOOLTIP_LIMIT = 127
ELLIPSIS = "…"
#: Maximum length of an account name in a tooltip line, in characters; longer names are cut.
NAME_LIMIT = 24
TOP_ACCOUNTS = 3


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units: characters outside the BMP (most emoji) count twice."""
    return len(text.encode("utf-16-le")) // 2


def compact_amount(value: Decimal | None) -> str:
    """A short dollar amount for the tray icon, five characters at most: `$7.42`, `$86`, `$1.2k`."""
    if value is None:
        return "?"
    amount = abs(value)
    sign = "-" if value < 0 else ""
    if amount < 10:
        text = str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    elif amount < 1000:
        text = str(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    else:
        text = _scaled(amount)
    return f"{sign}${text}"


def _scaled(amount: Decimal) -> str:
    for limit, suffix in ((Decimal(1_000_000_000), "B"), (Decimal(1_000_000), "M"),
                          (Decimal(1000), "k")):
        if amount >= limit:
            scaled = (amount / limit).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            if scaled >= 10:
                scaled = scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP)
            return f"{scaled}{suffix}"
    return str(amount)


def short_name(name: str, limit: int = NAME_LIMIT) -> str:
    """Shorten a display name to `limit` characters, never ending inside a joined emoji."""
    if len(name) <= limit:
        return name
    cut = name[: limit - 1].rstrip("\u200d\ufe0f ")
    return cut + ELLIPSIS


@dataclass(frozen=True)
class Forecast:
    month_end: Decimal
    budget: Decimal


def month_end_forecast(report: Report, settings: Settings, today: date) -> Forecast | None:
    """Project this month's billed cost to its last day, when a monthly budget is set.

    The projection is the month-to-date cost plus its daily average times the days left. It
    needs a figure for every billed day since the 1st (UTC), so a period that starts after the
    1st (`1d`, `7d`) gives no forecast rather than a wrong one.
    """
    budget = settings.budgets.monthly_total
    if budget is None:
        return None
    first = today.replace(day=1)
    spent = Decimal(0)
    for account in report.billed():
        if account.status is Status.DISABLED or account.cost is None:
            continue
        days = [d for d in account.days if first <= d.day <= today]
        if len(days) != today.day or any(d.cost is None for d in days):
            return None
        spent += sum((d.cost for d in days if d.cost is not None), Decimal(0))
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    projected = spent + spent / today.day * (days_in_month - today.day)
    return Forecast(projected, budget)


def billed_line(report: Report, demo: bool) -> str:
    """First tooltip line: the billed total for the period, prefixed "Demo" in demo mode."""
    total = report.totals
    amount = display(total.cost, tr("no figure"))
    if total.cost is not None and not total.complete:
        amount = tr("at least {amount}").format(amount=amount)
    period = report.period.label
    if demo:
        return tr("Demo · billed {period}: {amount}").format(period=period, amount=amount)
    return tr("Billed {period}: {amount}").format(period=period, amount=amount)


def account_lines(accounts: Sequence[AccountReport]) -> list[str]:
    """Build one line per account, largest first; an account in error shows "error"."""
    ranked = sorted(
        (a for a in accounts if a.status is not Status.DISABLED),
        key=lambda a: (a.cost is None, -(a.cost or Decimal(0)), a.name),
    )
    lines = []
    for account in ranked[:TOP_ACCOUNTS]:
        if account.cost is None and account.status is Status.ERROR:
            figure = tr("error")
        elif account.cost is None and account.balance:
            balance = account.balance[0]
            figure = tr("balance {amount} {currency}").format(
                amount=balance.remaining, currency=balance.currency)
        else:
            figure = display(account.cost)
        if account.kind is AccountKind.LOCAL and account.cost is not None:
            figure = tr("~{amount}").format(amount=figure)
        lines.append(f"{short_name(account.name)} {figure}")
    return lines


@dataclass(frozen=True)
class TooltipParts:
    """The tooltip's lines by role; `fit` drops accounts first, then "as of", then summaries."""

    head: str
    summaries: list[str]
    accounts: list[str]
    as_of: str

    def lines(self) -> list[str]:
        return [self.head, *self.summaries, *self.accounts, self.as_of]

    def drop_order(self) -> list[str]:
        return [*reversed(self.accounts), self.as_of, *reversed(self.summaries)]


def tooltip_parts(report: Report, settings: Settings, demo: bool, now: datetime) -> TooltipParts:
    """Collect every candidate line of the tooltip, by role.

    `now` decides the month of the forecast; "as of" is when the figures were fetched.
    """
    summaries = []
    forecast = month_end_forecast(report, settings, now.date())
    if forecast is not None:
        summaries.append(tr("Month-end forecast {amount} of {budget}").format(
            amount=display(forecast.month_end), budget=display(forecast.budget)))
    local = report.totals.local_estimate
    if local is not None:
        summaries.append(tr("API-equivalent estimate {amount}").format(amount=display(local)))
    as_of = tr("as of {time}").format(
        time=report.generated_at.astimezone().strftime("%H:%M"))
    return TooltipParts(billed_line(report, demo), summaries, account_lines(report.accounts),
                        as_of)


def fit(parts: TooltipParts, limit: int = TOOLTIP_LIMIT) -> str:
    """Join the lines, dropping whole lines until the text fits `limit` UTF-16 units.

    A dropped line leaves a trailing "…" line. The first line is kept, and shortened with "…"
    only when it alone is too long.
    """
    kept = parts.lines()
    order = parts.drop_order()
    dropped = False
    while utf16_length("\n".join(kept) + ("\n" + ELLIPSIS if dropped else "")) > limit:
        if not order:
            return _cut(parts.head, limit)
        kept.remove(order.pop(0))
        dropped = True
    text = "\n".join(kept)
    return text + "\n" + ELLIPSIS if dropped else text


def _cut(line: str, limit: int) -> str:
    text = line
    while text and utf16_length(text + ELLIPSIS) > limit:
        text = text[:-1]
    return text + ELLIPSIS


def tooltip(report: Report | None, settings: Settings, demo: bool, now: datetime,
            limit: int = TOOLTIP_LIMIT) -> str:
    """The tray tooltip within `limit` UTF-16 units; before the first refresh, a waiting line."""
    if report is None:
        head = tr("TokenWatch (demo data)") if demo else tr("TokenWatch")
        return fit(TooltipParts(head, [tr("Waiting for the first refresh")], [], ""), limit).rstrip()
    return fit(tooltip_parts(report, settings, demo, now), limit)
