"""Fake of DeepSeek's `GET /user/balance`, with balances as decimal strings in major units.

Scenarios (see `SCENARIOS`): `auth` (401), `forbidden` (403), `not_found` (404), `billing` (402),
`rate_limit` (429 with Retry-After), `server_error` (500), `malformed` (a 200 that is not JSON),
`wrong_shape` (a 200 without `balance_infos`), `two_currencies` (CNY and USD) and
`not_available` (`is_available: false` with an empty balance).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tokenwatch_desktop.providers.fake import FakeRequest, FakeResponse, FakeWorld

PREFIX = "deepseek"
CENT = Decimal("0.01")

_FAILURES = {
    "auth": (401, "authentication_error", "Authentication Fails, Your api key is invalid"),
    "forbidden": (403, "permission_error", "Your api key may not call this endpoint"),
    "not_found": (404, "invalid_request_error", "Not Found"),
    "billing": (402, "insufficient_balance", "Insufficient Balance"),
    "server_error": (500, "server_error", "Internal server error"),
}


def handle(world: FakeWorld, request: FakeRequest) -> FakeResponse:
    """Serve one request to the DeepSeek fake."""
    key = request.bearer()
    if not key:
        return _error(401, "authentication_error", "Authentication Fails, no api key provided")
    limited = world.rate_limited(PREFIX, key)
    if limited is not None:
        return limited
    scenario = world.scenario(PREFIX, key)
    if scenario in _FAILURES:
        return _error(*_FAILURES[scenario])
    if request.method != "GET" or request.path != "/user/balance":
        return _error(404, "invalid_request_error", f"no route {request.method} {request.path}")
    if scenario == "malformed":
        return FakeResponse(200, b"<html>upstream proxy error</html>")
    if scenario == "wrong_shape":
        return FakeResponse(200, {"is_available": True, "balance": "12.00"})
    return FakeResponse(200, balance_body(world, key))


def balance_body(world: FakeWorld, key: str) -> dict[str, Any]:
    """Build the `/user/balance` response body for a key, in the documented shape."""
    infos = [_info(currency, granted, topped_up)
             for currency, granted, topped_up in _parts(world, key)]
    available = world.scenario(PREFIX, key) != "not_available"
    return {"is_available": available, "balance_infos": infos}


def expected_balances(world: FakeWorld, key: str) -> dict[str, Decimal]:
    """Compute the exact remaining balance per currency that the fake reports for a key."""
    return {currency: granted + topped_up for currency, granted, topped_up in _parts(world, key)}


def _parts(world: FakeWorld, key: str) -> list[tuple[str, Decimal, Decimal]]:
    scenario = world.scenario(PREFIX, key)
    if scenario == "not_available":
        return [("USD", Decimal("0.00"), Decimal("0.00"))]
    currencies = ["CNY", "USD"] if scenario == "two_currencies" else ["USD"]
    parts = []
    for currency in currencies:
        rng = world.rng(PREFIX, key, currency)
        granted = Decimal(rng.randrange(0, 1_000)) * CENT
        topped_up = Decimal(rng.randrange(100, 50_000)) * CENT
        parts.append((currency, granted, topped_up))
    return parts


def _info(currency: str, granted: Decimal, topped_up: Decimal) -> dict[str, str]:
    return {
        "currency": currency,
        "total_balance": str(granted + topped_up),
        "granted_balance": str(granted),
        "topped_up_balance": str(topped_up),
    }


def _error(status: int, kind: str, message: str) -> FakeResponse:
    body = {"error": {"message": message, "type": kind, "param": None,
                      "code": "invalid_request_error"}}
    return FakeResponse(status, body)
