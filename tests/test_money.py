from decimal import Decimal

import pytest

from ffkpi.money import api_exponent, display_digits, format_money, round_money, to_major


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
