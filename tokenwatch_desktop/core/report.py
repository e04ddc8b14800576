"""The result of one refresh of many accounts, and its `--json` form (schema 1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tokenwatch_desktop.core.aggregate import Totals, totals
from tokenwatch_desktop.core.money import plain
from tokenwatch_desktop.core.periods import Period
from tokenwatch_desktop.core.records import AccountKind, AccountReport, Status, Tokens

SCHEMA = 1


@dataclass
class Report:
    """Accounts for one period. `local_period` is set when local logs use other day boundaries."""

    period: Period
    accounts: list[AccountReport]
    generated_at: datetime
    elapsed_ms: int
    demo: bool = False
    local_period: Period | None = None

    @property
    def totals(self) -> Totals:
        return totals(self.accounts)

    @property
    def has_error(self) -> bool:
        return any(account.status is Status.ERROR for account in self.accounts)

    def billed(self) -> list[AccountReport]:
        return [a for a in self.accounts if a.kind is AccountKind.BILLED]

    def local(self) -> list[AccountReport]:
        return [a for a in self.accounts if a.kind is AccountKind.LOCAL]


def to_json(report: Report) -> dict[str, Any]:
    """Render a report as the contract's schema-1 document."""
    total = report.totals
    return {
        "schema": SCHEMA,
        "generated_at": _instant(report.generated_at),
        "demo": report.demo,
        "period": _period(report.period),
        "currency": "USD",
        "total": {
            "cost": plain(total.cost),
            "complete": total.complete,
            "estimated": total.estimated,
            "local_estimate": plain(total.local_estimate),
            "local_complete": total.local_complete,
            "unpriced_models": total.unpriced_models,
        },
        "accounts": [_account(a, report) for a in report.accounts],
        "elapsed_ms": report.elapsed_ms,
    }


def _account(account: AccountReport, report: Report) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": account.id,
        "provider": account.provider,
        "name": account.name,
        "kind": account.kind.value,
        "status": account.status.value,
        "error": (
            {"kind": account.error.kind, "message": account.error.message}
            if account.error else None
        ),
        "as_of": _instant(account.as_of) if account.as_of else None,
        "stale": account.stale,
        "cost": plain(account.cost),
        "cost_source": account.cost_source.value if account.cost_source else None,
        "tokens": _tokens(account.tokens),
        "requests": account.requests,
        "models": [
            {
                "model": m.model,
                "cost": plain(m.cost),
                "cost_source": m.cost_source.value if m.cost_source else None,
                "tokens": _tokens(m.tokens),
                "requests": m.requests,
            }
            for m in account.models
        ],
        "days": [
            {
                "date": d.day.isoformat(),
                "cost": plain(d.cost),
                "cost_source": d.cost_source.value if d.cost_source else None,
                "tokens": _tokens(d.tokens),
            }
            for d in account.days
        ],
        "balance": [{"remaining": plain(b.remaining), "currency": b.currency}
                    for b in account.balance],
        "breakdown": None if account.breakdown is None else [
            {"group": row.group, "cost": plain(row.cost), "tokens": _tokens(row.tokens)}
            for row in account.breakdown
        ],
        "elapsed_ms": account.elapsed_ms,
    }
    if account.notes:
        result["notes"] = list(account.notes)
    if account.kind is AccountKind.LOCAL:
        result["unpriced_models"] = list(account.unpriced_models)
        if report.local_period is not None:
            result["period"] = _period(report.local_period)
    return result


def _period(period: Period) -> dict[str, str]:
    return {
        "label": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "day_boundary": period.day_boundary.value,
    }


def _tokens(tokens: Tokens | None) -> dict[str, int] | None:
    return tokens.as_dict() if tokens is not None else None


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sorted_accounts(accounts: Sequence[AccountReport]) -> list[AccountReport]:
    """Billed accounts first, then local ones, each in config order."""
    return sorted(accounts, key=lambda a: a.kind is not AccountKind.BILLED)
