"""Money parsing and formatting: `Decimal` from decimal text, never through a binary float."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from tokenwatch_desktop.core.errors import ParseError

_NUMERIC = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def loads(text: bytes | str) -> Any:
    """Parse JSON with every non-integer number as `Decimal` (integers stay `int`)."""
    return json.loads(text, parse_float=Decimal)


def to_decimal(value: object, what: str) -> Decimal:
    """Convert a JSON number or a numeric string to `Decimal`.

    `what` names the field for the error message. Booleans, floats (which would carry binary
    error), NaN, infinities and non-numeric strings raise `ParseError`.
    """
    if isinstance(value, bool) or value is None:
        raise ParseError(f"{what} is {value!r}, expected a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str) and _NUMERIC.match(value.strip()):
        result = Decimal(value.strip())
    elif isinstance(value, float):
        # Reached only when a caller parsed JSON without parse_float=Decimal; repr() is the
        # shortest text that round-trips, which is what the provider sent.
        result = Decimal(repr(value))
    else:
        raise ParseError(f"{what} is {_short(value)}, expected a number or a numeric string")
    if not result.is_finite():
        raise ParseError(f"{what} is {value!r}, expected a finite number")
    return result


def cents_to_dollars(value: object, what: str) -> Decimal:
    """Convert an amount in cents (number or numeric string) to dollars."""
    return to_decimal(value, what) / HUNDRED


def plain(value: Decimal | None) -> str | None:
    """Format money for JSON: full precision, never in exponent form."""
    if value is None:
        return None
    text = format(value, "f")
    return "0" if text in ("-0", "") else text


def display(value: Decimal | None, unknown: str = "—") -> str:
    """Format money for people: dollars rounded half up to cents, with thousands separators."""
    if value is None:
        return unknown
    rounded = value.quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.2f}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["CENT", "InvalidOperation", "cents_to_dollars", "display", "loads", "plain", "to_decimal"]
