"""Readable tables for the terminal, and CSV export."""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Sequence
from decimal import ROUND_HALF_UP
from typing import TextIO

from tokenwatch_desktop.core.aggregate import average_per_day, cost_per_million
from tokenwatch_desktop.core.money import CENT, display, plain
from tokenwatch_desktop.core.periods import Period
from tokenwatch_desktop.core.records import AccountKind, AccountReport, Balance, Status
from tokenwatch_desktop.core.report import Report

RIGHT = ">"
LEFT = "<"


def render(report: Report) -> str:
    """Render the whole report: one table per account, then the combined table and the totals."""
    lines = [_heading(report), ""]
    for account in report.accounts:
        lines += _account_block(account)
        lines.append("")
    if len(report.accounts) > 1:
        lines += _combined(report.accounts)
        lines.append("")
    lines += _totals(report)
    return "\n".join(_printable(line) for line in lines) + "\n"


def _printable(text: str) -> str:
    """Replace control characters, so text from a provider cannot move the cursor or clear the
    terminal (model names, error messages and labels all come from the network)."""
    return "".join("\ufffd" if unicodedata.category(char) == "Cc" else char for char in text)


def _heading(report: Report) -> str:
    text = f"TokenWatch, {_period_text(report.period)}"
    if report.local_period is not None:
        text += f"; local logs: {_period_text(report.local_period)}"
    if report.demo:
        text += ", demo data"
    return text


def _period_text(period: Period) -> str:
    zone = "UTC" if period.day_boundary.value == "utc" else "local"
    return (f"{period.label}: {period.start.isoformat()} to {period.end.isoformat()} "
            f"({zone} days)")


def _account_block(account: AccountReport) -> list[str]:
    title = (f"{account.name} [{account.id}]: {account.status.value}, {_cost_text(account)}, "
             f"{account.elapsed_ms} ms")
    if account.stale and account.as_of:
        title += f", stale figures from {account.as_of:%Y-%m-%d %H:%M} UTC"
    lines = [title]
    if account.error is not None and account.status is not Status.DISABLED:
        lines.append(f"  {account.error.kind}: {account.error.message}")
    for balance in account.balance:
        lines.append(f"  balance: {_balance(balance)}")
    extra = _averages(account)
    if extra:
        lines.append("  " + extra)
    if account.models:
        lines += _indent(_model_table(account))
        if account.cost is not None and all(model.cost is None for model in account.models):
            lines.append("  model costs: this provider reports cost per day or line item, "
                         "not per model")
    if account.breakdown:
        lines += _indent(_table(
            ["Group", "Cost", "Input", "Output"],
            [[row.group, display(row.cost), _count(row.tokens.input if row.tokens else None),
              _count(row.tokens.output if row.tokens else None)] for row in account.breakdown],
            [LEFT, RIGHT, RIGHT, RIGHT],
        ))
    lines += [f"  note: {note}" for note in account.notes]
    return lines


def _cost_text(account: AccountReport) -> str:
    if account.kind is AccountKind.LOCAL:
        return f"API-equivalent estimate {display(account.cost, 'unknown')}"
    if account.cost is None and account.balance and account.status is Status.OK:
        return "balance only (no spend data)"
    source = f" {account.cost_source.value}" if account.cost_source else ""
    return f"cost {display(account.cost, 'unknown')}{source}"


def _balance(balance: Balance) -> str:
    if balance.currency == "USD":
        return display(balance.remaining)
    rounded = balance.remaining.quantize(CENT, rounding=ROUND_HALF_UP)
    return f"{rounded:,.2f} {balance.currency}"


def _averages(account: AccountReport) -> str:
    parts = []
    per_day = average_per_day(account)
    if per_day is not None and account.cost is not None:
        parts.append(f"average {display(per_day)} per day")
    per_million = cost_per_million(account)
    if per_million is not None:
        parts.append(f"{display(per_million)} per million tokens")
    return ", ".join(parts)


def _model_table(account: AccountReport) -> list[str]:
    rows = []
    for model in account.models:
        tokens = model.tokens
        cost = display(model.cost, "unpriced" if model.model in _unpriced(account) else "—")
        rows.append([
            model.model, cost,
            _count(tokens.input if tokens else None),
            _count(tokens.cached_input if tokens else None),
            _count(tokens.cache_write if tokens else None),
            _count(tokens.output if tokens else None),
            _count(model.requests),
        ])
    headers = ["Model", "Cost", "Input", "Cache read", "Cache write", "Output", "Requests"]
    return _table(headers, rows, [LEFT] + [RIGHT] * 6)


def _unpriced(account: AccountReport) -> set[str]:
    return {name.split("/", 1)[-1] for name in account.unpriced_models}


def _combined(accounts: Sequence[AccountReport]) -> list[str]:
    rows = []
    for account in accounts:
        balance = ", ".join(_balance(b) for b in account.balance)
        rows.append([
            account.id, account.name, account.status.value, display(account.cost),
            account.cost_source.value if account.cost_source else "",
            balance, f"{account.elapsed_ms} ms",
        ])
    headers = ["Account", "Name", "Status", "Cost", "Source", "Balance", "Time"]
    return ["All accounts"] + _indent(
        _table(headers, rows, [LEFT, LEFT, LEFT, RIGHT, LEFT, RIGHT, RIGHT]))


def _totals(report: Report) -> list[str]:
    total = report.totals
    if not report.billed():
        billed = "none (no billed accounts selected)"
    else:
        billed = display(total.cost, "unknown (no billed account returned a figure)")
    if total.cost is not None and not total.complete:
        billed += " (incomplete: some accounts failed or are partial)"
    if total.estimated:
        billed += " (partly estimated)"
    lines = [f"Billed total: {billed}"]
    if report.local():
        local = display(total.local_estimate, "none")
        if not total.local_complete:
            local += " (lower bound)"
        lines.append(f"Coding agents, API-equivalent estimate (not added to the bill): {local}")
    if total.unpriced_models:
        lines.append("Unpriced models: " + ", ".join(total.unpriced_models))
    lines.append(f"Fetched in {report.elapsed_ms} ms")
    return lines


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _indent(lines: list[str]) -> list[str]:
    return ["  " + line for line in lines]


def _table(headers: list[str], rows: list[list[str]], align: list[str]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: list[str]) -> str:
        parts = [f"{cell:{side}{width}}" for cell, side, width in zip(cells, align, widths,
                                                                      strict=True)]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * width for width in widths])] + [line(row) for row in rows]


def write_csv(report: Report, out: TextIO) -> None:
    """Write one row per account and day: money as plain decimals, tokens as integers, and
    blanks where a figure is unknown."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["account", "provider", "kind", "status", "stale", "date", "day_boundary",
                     "cost", "cost_source", "input", "cached_input", "cache_write", "output"])
    for account in report.accounts:
        for day in account.days:
            tokens = day.tokens
            writer.writerow([
                account.id, account.provider, account.kind.value, account.status.value,
                "yes" if account.stale else "no", day.day.isoformat(),
                account.day_boundary, plain(day.cost) or "",
                day.cost_source.value if day.cost_source else "",
                *(tokens.as_dict().values() if tokens else ["", "", "", ""]),
            ])
