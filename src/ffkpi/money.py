"""Currency digits, minor -> major units, and the one rounding mode ffkpi uses."""

from decimal import ROUND_HALF_UP, Decimal

# Stripe's currency table: https://docs.stripe.com/currencies
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
# Stripe quirk: ISK is whole krónur only, yet the API keeps it two-decimal (100 = 1 ISK).
WHOLE_UNITS_IN_TWO_DECIMAL_API = frozenset({"isk"})

ROUNDING = ROUND_HALF_UP


def api_exponent(currency: str) -> int:
    """How many decimal places Stripe's integer amounts carry for this currency."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def display_digits(currency: str) -> int:
    """How many decimals an amount in this currency is shown and stored with."""
    if currency in WHOLE_UNITS_IN_TWO_DECIMAL_API:
        return 0
    return api_exponent(currency)


def to_major(minor: Decimal, currency: str) -> Decimal:
    """Stripe minor units (possibly fractional) -> major units, exactly."""
    return minor.scaleb(-api_exponent(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-display_digits(currency)), rounding=ROUNDING)


def format_money(amount: Decimal, currency: str, *, grouping: bool = False) -> str:
    """The rounded amount as a plain decimal string ("1234.50"), or grouped ("1,234.50")."""
    rounded = round_money(amount, currency)
    if rounded == 0:
        rounded = abs(rounded)  # never print "-0.00"
    return f"{rounded:,f}" if grouping else f"{rounded:f}"
