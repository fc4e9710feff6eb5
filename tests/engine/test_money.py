from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ffkpi.engine.money import (
    api_exponent,
    display_digits,
    format_money,
    format_percent,
    format_rate,
    format_ratio,
    round_money,
    to_major,
)


@pytest.mark.parametrize(
    ("currency", "minor", "major"),
    [
        ("usd", "12345", "123.45"),
        ("eur", "1", "0.01"),
        ("jpy", "833", "833"),
        ("krw", "1000", "1000"),
        ("ugx", "5000", "5000"),
        ("kwd", "12345", "12.345"),
        ("bhd", "10", "0.010"),
        ("isk", "50000", "500"),  # ISK: two decimals in the API, whole krónur in fact
        ("huf", "12345", "123.45"),
        ("twd", "12345", "123.45"),
    ],
)
def test_minor_units_to_major(currency: str, minor: str, major: str) -> None:
    assert to_major(Decimal(minor), currency) == Decimal(major)


def test_digits_follow_stripes_currency_table() -> None:
    assert [api_exponent(c) for c in ("usd", "jpy", "kwd", "isk")] == [2, 0, 3, 2]
    assert [display_digits(c) for c in ("usd", "jpy", "kwd", "isk")] == [2, 0, 3, 0]


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("0.005", "usd", "0.01"),  # half-up, not banker's rounding
        ("0.015", "usd", "0.02"),
        ("0.025", "usd", "0.03"),
        ("2.5", "jpy", "3"),
        ("1.0005", "kwd", "1.001"),
        ("-0.001", "usd", "0.00"),
        ("1234567.891", "usd", "1234567.89"),
    ],
)
def test_rounds_half_up_to_the_currency_digits(amount: str, currency: str, text: str) -> None:
    assert format_money(Decimal(amount), currency) == text


def test_grouping_for_people() -> None:
    assert format_money(Decimal("1234567.5"), "usd", grouping=True) == "1,234,567.50"
    assert round_money(Decimal("1E+3"), "usd") == Decimal("1000.00")
    assert format_money(Decimal("1E+3"), "usd") == "1000.00"


@given(
    st.lists(
        st.tuples(st.integers(0, 10**9), st.sampled_from([1, 3, 6, 7, 12, 24, 36, 52, 365])),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([0, 1, 5]),
)
def test_a_sum_of_amounts_computed_to_34_digits_rounds_as_its_exact_value(
    parts: list[tuple[int, int]], tenths: int
) -> None:
    """What ffkpi sums are amounts computed to 34 significant digits (thirds, twelfths,
    weeks and days of a period); the printed figure is the exact sum's, rounded half-up.
    Each part comes with the copies that make its period whole, so the exact sum often
    lands on a tenth of a cent, or on a half cent."""
    amounts = [(minor, divisor) for minor, divisor in parts for _ in range(divisor)]
    amounts.append((tenths, 10))
    with localcontext(prec=34):
        computed = [Decimal(minor) / Decimal(100 * divisor) for minor, divisor in amounts]
    with localcontext(prec=200):
        total = sum(computed, Decimal(0))
    exact = sum((Fraction(minor, 100 * divisor) for minor, divisor in amounts), Fraction(0))
    cents = exact * 100
    expected = (cents.numerator * 2 + cents.denominator) // (2 * cents.denominator)  # half-up
    assert round_money(total, "usd") == Decimal(expected).scaleb(-2)


@pytest.mark.parametrize(
    ("figure", "text"),
    [
        ("34203.31499999999999999999999999999", "34203.32"),  # a third short of .315
        ("17274.77499999999999999999999999999998", "17274.78"),
        ("17274.7749", "17274.77"),  # a real .7749 stays below the half
        ("17274.774999999999", "17274.77"),  # 12 digits after the cent: exact, not a half
    ],
)
def test_a_half_cent_short_by_the_last_digits_is_a_half_cent(figure: str, text: str) -> None:
    assert format_money(Decimal(figure), "usd") == text


@pytest.mark.parametrize(
    ("rate", "json", "table"),
    [
        ("0.1233499", "0.1233", "12.33 %"),
        ("0.12345", "0.1235", "12.35 %"),
        ("0.12335", "0.1234", "12.34 %"),
        ("-0.00004", "0.0000", "0.00 %"),
        ("0.1", "0.1000", "10.00 %"),
        ("1.1569", "1.1569", "115.69 %"),
    ],
)
def test_a_rate_rounds_once_the_same_in_json_and_tables(rate: str, json: str, table: str) -> None:
    assert format_rate(Decimal(rate)) == json
    assert format_percent(Decimal(rate)) == table


def test_no_rate_is_none_or_blank() -> None:
    assert (format_rate(None), format_percent(None), format_ratio(None)) == (None, "", "")
    assert format_ratio(Decimal("2.785")) == "2.79"
