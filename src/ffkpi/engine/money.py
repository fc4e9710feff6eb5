"""Currency digits, minor -> major units, and the one rounding mode ffkpi uses."""

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal

# Stripe's currency table: https://docs.stripe.com/currencies
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
# Stripe quirk: ISK is whole krónur only, yet the API keeps it two-decimal (100 = 1 ISK).
WHOLE_UNITS_IN_TWO_DECIMAL_API = frozenset({"isk"})

ROUNDING = ROUND_HALF_UP
# Figures are exact sums of amounts each computed to 34 significant digits, so a sum of
# thirds that is exactly x.xx5 arrives as x.xx4999...97: rounded as it stands, it would
# lose its cent. Their error stays below 10^-20 for any figure under 10^13 (34 digits, a
# few operations an amount, at most 10^7 of them summed), while an exact value that is not
# a half cent lies at least 10^-18 from one unless its inputs carry more than 16 digits
# after the point. So a figure is first snapped to SNAP places, where it is the exact
# value, then rounded half-up once: the rounded figure is the exact value's.
SNAP = 18
_WIDE = Context(prec=200)  # never rounds while quantizing, however large the figure
RATE_PLACES = 4  # a rate as a decimal fraction ("0.1235"); a percent has two fewer


def round_half_up(value: Decimal, places: int) -> Decimal:
    """`value` rounded half-up to `places` decimals: the one rounding ffkpi prints with."""
    snapped = value.quantize(Decimal(1).scaleb(-SNAP), ROUND_HALF_EVEN, _WIDE)
    return snapped.quantize(Decimal(1).scaleb(-places), ROUNDING, _WIDE)


# ISO 4217 codes in use, and the withdrawn ones Stripe still lists (hrk, mro, std, vef):
# a reporting currency or [fx] code outside them is a typo, refused rather than used.
_ISO_CODES = (
    "aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob bov brl "
    "bsd btn bwp byn bzd cad cdf che chf chw clf clp cny cop cou crc cuc cup cve czk djf "
    "dkk dop dzd egp ern etb eur fjd fkp gbp gel ghs gip gmd gnf gtq gyd hkd hnl hrk htg "
    "huf idr ils inr iqd irr isk jmd jod jpy kes kgs khr kmf kpw krw kwd kyd kzt lak lbp "
    "lkr lrd lsl lyd mad mdl mga mkd mmk mnt mop mro mru mur mvr mwk mxn mxv myr mzn nad "
    "ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr "
    "sdg sek sgd shp sle sll sos srd ssp std stn svc syp szl thb tjs tmt tnd top try ttd "
    "twd tzs uah ugx usd usn uyi uyu uyw uzs ved vef ves vnd vuv wst xaf xcd xcg xof xpf "
    "yer zar zmw zwg zwl"
)
ISO_4217 = frozenset(_ISO_CODES.split())


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
    return round_half_up(amount, display_digits(currency))


def format_money(amount: Decimal, currency: str, *, grouping: bool = False) -> str:
    """The rounded amount as a plain decimal string ("1234.50"), or grouped ("1,234.50")."""
    rounded = _unsigned_zero(round_money(amount, currency))
    return f"{rounded:,f}" if grouping else f"{rounded:f}"


def format_rate(rate: Decimal | None) -> str | None:
    """A rate as a decimal fraction for JSON and CSV ("0.1235"), or None."""
    if rate is None:
        return None
    return f"{_unsigned_zero(round_half_up(rate, RATE_PLACES)):f}"


def format_percent(rate: Decimal | None) -> str:
    """The same rate as a percent for people ("12.35 %"): the same digits, never a second
    rounding; "" for none."""
    if rate is None:
        return ""
    return f"{_unsigned_zero(round_half_up(rate, RATE_PLACES)).scaleb(2):f} %"


def format_share(rate: Decimal | None) -> str:
    """A share as a percent to one place, for sentences ("64.0 %"); "" for none."""
    if rate is None:
        return ""
    return f"{_unsigned_zero(round_half_up(rate, RATE_PLACES - 1)).scaleb(2):f} %"


def format_ratio(value: Decimal | None) -> str:
    """A ratio such as the quick ratio, to two places ("2.78"); "" for none."""
    if value is None:
        return ""
    return f"{_unsigned_zero(round_half_up(value, 2)):f}"


def _unsigned_zero(rounded: Decimal) -> Decimal:
    return abs(rounded) if rounded == 0 else rounded  # never "-0.00"
