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
#: Money is at most about 10^15 dollars and has at most 40 decimal places.
MAX_ADJUSTED = 15
MIN_EXPONENT = -40


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
    return _in_range(result, what)


def _in_range(value: Decimal, what: str) -> Decimal:
    """Reject magnitudes that no bill has.

    An exponent past the context's limits would make later arithmetic raise `decimal.Overflow`,
    and formatting such a value would print a million digits.
    """
    if value.is_zero():
        # A zero such as "0E-1000000" keeps its value but not its exponent.
        exponent = value.as_tuple().exponent
        return value if isinstance(exponent, int) and exponent >= MIN_EXPONENT else Decimal(0)
    if not MIN_EXPONENT <= value.adjusted() <= MAX_ADJUSTED:
        raise ParseError(f"{what} is {_short(value)}, which is out of range for money")
    return value


def cents_to_dollars(value: object, what: str) -> Decimal:
    """Convert an amount in cents (number or numeric string) to dollars."""
    return to_decimal(value, what) / HUNDRED


def plain(value: Decimal | None) -> str | None:
    """Format money for JSON: full precision, never in exponent form."""
    if value is None:
        return None
    if value.is_zero():
        value = abs(value)  # "-0.00" would read as a negative figure
    text = format(value, "f")
    return "0" if text == "" else text


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
