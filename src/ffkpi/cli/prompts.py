"""What init asks on a terminal, and --fx parsing: the rates a config is written with."""

import sys
from decimal import Decimal, InvalidOperation

from ffkpi import render
from ffkpi.config import MAX_RATE
from ffkpi.errors import UsageError
from ffkpi.usecases import onboarding


def parse_rates(entries: list[str]) -> dict[str, Decimal]:
    """--fx CUR=RATE entries; the codes themselves are checked with the config."""
    rates = {}
    for entry in entries:
        code, _, rate = entry.partition("=")
        try:
            value = Decimal(rate.strip())
        except InvalidOperation:
            value = Decimal(0)
        if not code.strip() or not value.is_finite() or not 0 < value <= MAX_RATE:
            raise UsageError(
                f"--fx {entry!r} is not CURRENCY=RATE with a positive rate up to {MAX_RATE:,f}",
                "write it like --fx eur=1.08",
            )
        rates[code.strip().lower()] = value
    return rates


def _ask(question: str, default: str | None = None) -> str:
    """One answer from the terminal; the question goes to stderr, as every message does.

    (click's prompt writes a space to stdout after each question, which stdout, carrying
    only the file name, must not get.)
    """
    sys.stderr.write(f"{question} [{default}]: " if default else f"{question}: ")
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise UsageError("the input ended before every question was answered", "pass --yes")
    return line.strip() or default or ""


class Prompts:
    """init's questions on the terminal; a bad answer is asked again."""

    def rate(self, currency: str, reporting: str) -> Decimal:
        while True:
            answer = _ask(f"1 {currency.upper()} is how many {reporting.upper()}?")
            try:
                value = Decimal(answer)
            except InvalidOperation:
                value = Decimal(0)
            if value.is_finite() and value > 0:
                return value
            render.warning("answer a positive number, such as 1.08")

    def tier(self, product_id: str, name: str, suggested: str) -> str:
        return _ask(f"Tier for {name} ({product_id})", suggested)

    def rule(self, tier: str) -> str:
        question = (
            f"Rule for tier {tier} (net: Stripe's MRR after discounts; "
            "list_price: subscriptions x list price)"
        )
        while True:
            answer = _ask(question, "net")
            if answer in onboarding.RULES:
                return answer
            render.warning("answer net or list_price")

    def target(self, default: Decimal) -> Decimal:
        question = f"Weekly MRR growth target, in % ({onboarding.target_note(default)})"
        while True:
            answer = _ask(question, f"{default * 100:f}")
            try:
                value = Decimal(answer.removesuffix("%").strip()) / 100
            except InvalidOperation:
                value = Decimal(-1)
            if value.is_finite() and 0 <= value <= onboarding.MAX_TARGET:
                return value
            render.warning("answer a percent from 0 to 1000, such as 10")
