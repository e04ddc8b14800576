"""DeepSeek: the prepaid balance per currency from `GET /user/balance`.

DeepSeek has no public spend or usage history, so the account shows balances only: its cost,
tokens and requests are null, never zero.
"""

from __future__ import annotations

import logging
from typing import Any

from tokenwatch_desktop.core import money
from tokenwatch_desktop.core.errors import ErrorKind, ParseError, ProviderError
from tokenwatch_desktop.core.records import AccountData, Balance, ProblemInfo
from tokenwatch_desktop.providers import registry
from tokenwatch_desktop.providers.base import FetchRequest, context

log = logging.getLogger(__name__)

INFO = registry.info("deepseek")
BALANCE_PATH = "/user/balance"


async def fetch(request: FetchRequest) -> AccountData:
    """Read the account's balances; a failed call raises `ProviderError`."""
    if not request.key:
        raise ProviderError(
            ErrorKind.NO_KEY,
            f"DeepSeek (account {request.account.id}): no API key is stored; store one with "
            f"`tokenwatch setup {request.account.id}`.",
        )
    ctx = context(request, INFO, {"Authorization": f"Bearer {request.key}"})

    data = await request.http.request_json(ctx, "GET", BALANCE_PATH)

    return parse_balance(data, ctx.who)


def parse_balance(data: Any, who: str) -> AccountData:
    """Convert a `/user/balance` response into a balance-only `AccountData`.

    `who` names the provider and account in messages. A wrong top-level shape raises
    `ParseError`; an invalid entry becomes a problem (account partial) and the others are kept.
    """
    if not isinstance(data, dict) or not isinstance(data.get("balance_infos"), list):
        raise ParseError(
            f"{who}: the balance response has no `balance_infos` list; check that the base URL "
            "points to the DeepSeek API."
        )
    result = AccountData(
        cost_source=None, has_cost=False, has_tokens=False, has_requests=False
    )
    entries: list[Any] = data["balance_infos"]
    for index, entry in enumerate(entries):
        _add_entry(result, entry, index, who)

    if entries and not result.balance:
        raise ParseError(f"{who}: no entry of the balance response could be read; {_REPORT}")
    if not entries:
        result.notes.append("DeepSeek returned no balance for this key.")
    if data.get("is_available") is False:
        result.notes.append(
            "DeepSeek reports that the balance is too low to call the API; top up on the "
            "DeepSeek platform."
        )
    return result


_REPORT = "try again later, and report the problem if it stays."


def _add_entry(result: AccountData, entry: Any, index: int, who: str) -> None:
    try:
        balance = _parse_entry(entry, index, who)
    except ParseError as exc:
        log.warning("%s: skipped an invalid balance entry", who)
        result.problems.append(exc.as_problem())
        return

    if any(known.currency == balance.currency for known in result.balance):
        result.problems.append(ProblemInfo(
            ErrorKind.BAD_RESPONSE.value,
            f"{who}: the balance response lists {balance.currency} twice; only the first entry "
            f"is shown. {_REPORT.capitalize()}",
        ))
        return
    result.balance.append(balance)


def _parse_entry(entry: Any, index: int, who: str) -> Balance:
    where = f"{who}: balance entry {index + 1}"
    if not isinstance(entry, dict):
        raise ParseError(f"{where} is not an object; {_REPORT}")
    currency = entry.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        raise ParseError(f"{where} has no currency; {_REPORT}")
    amount = money.to_decimal(entry.get("total_balance"), f"{where}: total_balance")
    return Balance(amount, currency.strip().upper())
