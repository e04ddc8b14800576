"""Money: Decimal from decimal text, cents, JSON output and display rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenwatch_desktop.core import money
from tokenwatch_desktop.core.errors import ParseError


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("12.50"), Decimal("12.50")), (3, Decimal(3)), ("12.50", Decimal("12.50")),
    (" 0.0000007 ", Decimal("0.0000007")), ("1e-7", Decimal("1E-7")), ("-4.2", Decimal("-4.2")),
    (".5", Decimal("0.5")), ("5.", Decimal("5")), ("+3", Decimal(3)), (0.1, Decimal("0.1")),
])
def test_to_decimal_accepts(value: object, expected: Decimal) -> None:
    result = money.to_decimal(value, "amount")
    assert result == expected
    assert isinstance(result, Decimal)


def test_float_keeps_its_text() -> None:
    assert money.to_decimal(0.1, "amount") == Decimal("0.1")
    assert money.to_decimal(0.1, "amount") != Decimal(0.1)


@pytest.mark.parametrize("value", [
    None, True, False, "", "abc", "1,5", "12.50 USD", "NaN", "Infinity", "0x10", [], {},
    {"value": 1}, Decimal("NaN"), Decimal("Infinity"), float("inf"), float("nan"), "1e999999999",
    Decimal("1E+20"), "1e-50",
])
def test_to_decimal_rejects(value: object) -> None:
    with pytest.raises(ParseError) as caught:
        money.to_decimal(value, "OpenAI costs: `amount.value`")
    assert caught.value.message.startswith("OpenAI costs: `amount.value` is ")


def test_zero_with_huge_exponent_is_zero() -> None:
    value = money.to_decimal("0E-1000000", "amount")
    assert value == 0
    assert money.plain(value) == "0"


def test_loads_numbers_as_decimal() -> None:
    data = money.loads(b'{"a": 0.1, "b": 7, "c": 12.50, "d": "3.3"}')
    assert data["a"] == Decimal("0.1")
    assert isinstance(data["b"], int)
    assert str(data["c"]) == "12.50"
    assert data["d"] == "3.3"


@pytest.mark.parametrize(("cents", "dollars"), [
    ("5475.00", Decimal("54.75")), ("0.5", Decimal("0.005")), ("123.45", Decimal("1.2345")),
    (186, Decimal("1.86")), ("20.0", Decimal("0.2")), ("0", Decimal(0)),
])
def test_cents_to_dollars(cents: object, dollars: Decimal) -> None:
    assert money.cents_to_dollars(cents, "amount") == dollars


def test_cents_huge_exponent_is_parse_error() -> None:
    with pytest.raises(ParseError):
        money.cents_to_dollars("1e999999", "amount")


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("1E-7"), "0.0000001"), (Decimal("12.50"), "12.50"), (Decimal("-0"), "0"),
    (Decimal("-0.00"), "0.00"), (Decimal("1E+3"), "1000"), (None, None), (Decimal("-3.1"), "-3.1"),
])
def test_plain(value: Decimal | None, text: str | None) -> None:
    assert money.plain(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("0.005"), "$0.01"), (Decimal("0.015"), "$0.02"), (Decimal("0.025"), "$0.03"),
    (Decimal("1234567.891"), "$1,234,567.89"), (Decimal("-2.345"), "-$2.35"),
    (Decimal("-0.004"), "$0.00"), (Decimal(0), "$0.00"), (None, "—"),
])
def test_display_rounds_half_up(value: Decimal | None, text: str) -> None:
    assert money.display(value) == text


def test_display_unknown_text() -> None:
    assert money.display(None, unknown="unpriced") == "unpriced"


def test_sum_of_many_strings_exact() -> None:
    values = ["0.0000007", "12.50", "0.1", "0.2", "3.4172", "1.2288"] * 500
    total = sum((money.to_decimal(value, "amount") for value in values), Decimal(0))
    assert total == Decimal("8723.00035")


@given(st.decimals(allow_nan=False, allow_infinity=False, places=8,
                   min_value=Decimal("-1e12"), max_value=Decimal("1e12")))
def test_text_round_trip(value: Decimal) -> None:
    text = money.plain(value)
    assert text is not None
    assert "E" not in text
    assert money.to_decimal(text, "amount") == value


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
                 st.decimals(), st.lists(st.integers(), max_size=2)))
def test_to_decimal_never_crashes(value: object) -> None:
    try:
        result = money.to_decimal(value, "amount")
    except ParseError:
        return
    assert result.is_finite()
    assert money.plain(result / money.HUNDRED) is not None
    assert money.display(result).count("$") == 1
