"""Billed history as a hostile or unlucky file holds it: repeated objects, lines Stripe
cannot send, a bundle without its invoices, and fields Stripe may send as null.

Each is refused naming the object and the field, by every command alike, or read as
Stripe means it: never a number changed.
"""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import DEMO, ROOT, Ffkpi
from ffkpi.errors import ExitCode, InputError
from ffkpi.sources.files import parse_input

pytestmark = pytest.mark.slow  # the quick run (-m "not slow") leaves it to CI

METERED_INVOICE = "in_TdSim00008565"  # paid, with a metered line: counted by last_invoice
HISTORY_COMMANDS = [
    ("mrr",),
    ("check",),
    ("history", "--no-chart"),
    ("movements",),
    ("backfill", "--since", "2026-10-01", "--dir", "kpi"),
]


def demo_with(change: Any) -> dict[str, Any]:
    bundle = copy.deepcopy(DEMO)
    change(bundle)
    return bundle


def write(cli_env: Path, bundle: dict[str, Any]) -> str:
    path = cli_env / "bundle.json"
    path.write_text(json.dumps(bundle))
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
    return str(path)


def error_of(bundle: dict[str, Any], history: bool | None = True) -> str:
    with pytest.raises(InputError) as raised:
        parse_input(json.dumps(bundle).encode(), "in.json", history=history)
    assert raised.value.exit_code == ExitCode.INVALID
    return raised.value.what


def invoice(bundle: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in bundle["invoices"] if i["id"] == invoice_id)
    return found


class TestRepeatedObjects:
    """Issue item 1: a repeated id is refused by every command alike, for every kind."""

    @pytest.mark.parametrize("command", HISTORY_COMMANDS, ids=lambda c: c[0])
    def test_a_repeated_invoice_is_refused_by_every_command(
        self, ffkpi: Ffkpi, cli_env: Path, command: tuple[str, ...]
    ) -> None:
        bundle = demo_with(lambda b: b["invoices"].append(invoice(b, METERED_INVOICE)))
        result = ffkpi(*command, "--input", write(cli_env, bundle))
        assert result.exit_code == ExitCode.INVALID, result.output
        assert result.stderr == (
            f"ffkpi: error: {cli_env / 'bundle.json'}: invoice {METERED_INVOICE} appears twice "
            "in the input (remove the duplicate, or fetch the data again)\n"
        )
        assert result.stdout == ""
        assert not (cli_env / "kpi").exists()

    @pytest.mark.parametrize("command", HISTORY_COMMANDS, ids=lambda c: c[0])
    def test_a_repeated_subscription_is_refused_by_every_command(
        self, ffkpi: Ffkpi, cli_env: Path, command: tuple[str, ...]
    ) -> None:
        bundle = demo_with(lambda b: b["subscriptions"].append(b["subscriptions"][7]))
        result = ffkpi(*command, "--input", write(cli_env, bundle))
        assert result.exit_code == ExitCode.INVALID, result.output
        sub_id = DEMO["subscriptions"][7]["id"]
        assert f"subscription {sub_id} appears twice in the input" in result.stderr
        assert not (cli_env / "kpi").exists()

    @pytest.mark.parametrize(
        ("key", "kind"),
        [
            ("prices", "price"),
            ("coupons", "coupon"),
            ("products", "product"),
            ("invoice_items", "invoice item"),
            ("customers", "customer"),
        ],
    )
    def test_every_kind_of_object_once(self, key: str, kind: str) -> None:
        bundle = demo_with(lambda b: b[key].append(b[key][0]))
        assert (
            error_of(bundle) == f"in.json: {kind} {DEMO[key][0]['id']} appears twice in the input"
        )

    def test_a_line_twice_in_one_invoice(self) -> None:
        def repeat(b: dict[str, Any]) -> None:
            lines = invoice(b, METERED_INVOICE)["lines"]["data"]
            lines.append(lines[0])

        line_id = invoice(DEMO, METERED_INVOICE)["lines"]["data"][0]["id"]
        assert error_of(demo_with(repeat)) == (
            f"in.json: invoice {METERED_INVOICE}: line {line_id} appears twice in the input"
        )

    def test_the_demo_has_each_object_once(self) -> None:
        parse_input(json.dumps(DEMO).encode(), "demo", history=True)


class TestLinesStripeCannotSend:
    """Issue item 3: refused with the invoice, the line and the field named."""

    @pytest.mark.parametrize(
        ("field", "value", "says"),
        [
            ("quantity", -3, "quantity is -3, outside 0 to 1,000,000,000"),
            ("amount", 10**13, "amount is 10000000000000, outside ±1,000,000,000,000"),
            ("amount", -(10**13), "amount is -10000000000000, outside ±1,000,000,000,000"),
            ("period", {"start": 1794723498, "end": 1794723497}, "period.end 1794723497 is before"),
        ],
    )
    @pytest.mark.parametrize("history", [True, False], ids=["history", "metered"])
    def test_an_impossible_line(self, field: str, value: Any, says: str, history: bool) -> None:
        def spoil(b: dict[str, Any]) -> None:
            invoice(b, METERED_INVOICE)["lines"]["data"][-1][field] = value

        line = invoice(DEMO, METERED_INVOICE)["lines"]["data"][-1]
        assert error_of(demo_with(spoil), history=history).startswith(
            f"in.json: invoice {METERED_INVOICE}, line {line['id']}: {says}"
        )

    def test_an_impossible_pending_item(self) -> None:
        def spoil(b: dict[str, Any]) -> None:
            b["invoice_items"][0]["quantity"] = -1

        item = DEMO["invoice_items"][0]["id"]
        assert error_of(demo_with(spoil)).startswith(
            f"in.json: invoice item {item}: quantity is -1, outside 0 to"
        )

    def test_a_line_of_zero_length_is_what_stripe_sends_for_one_off_items(self) -> None:
        def shorten(b: dict[str, Any]) -> None:
            line = invoice(b, METERED_INVOICE)["lines"]["data"][0]
            line["period"]["end"] = line["period"]["start"]

        parse_input(json.dumps(demo_with(shorten)).encode(), "in.json", history=True)


class TestBundleWithoutInvoices:
    """Issue item 4: no "invoices" key is no billed history, never an empty one."""

    def test_history_from_without_invoices_is_refused(self, ffkpi: Ffkpi, cli_env: Path) -> None:
        bundle = demo_with(lambda b: b.pop("invoices"))
        for command in (("history",), ("backfill", "--since", "2026-10-01", "--dir", "kpi")):
            result = ffkpi(*command, "--input", write(cli_env, bundle))
            assert result.exit_code == ExitCode.INVALID, result.output
            assert result.stderr == (
                f"ffkpi: error: {cli_env / 'bundle.json'}: it holds no billed history "
                '(no "invoices"), so past weeks cannot be rebuilt from it (fetch it with '
                "ffkpi fetch --since YYYY-MM-DD, which saves them)\n"
            )
            assert result.stdout == ""
        assert not (cli_env / "kpi").exists()

    def test_neither_key_names_both(self) -> None:
        bundle = demo_with(lambda b: (b.pop("invoices"), b.pop("invoice_items")))
        assert 'no "invoices" and no "invoice_items"' in error_of(bundle)

    def test_empty_lists_are_a_history_in_which_nothing_was_billed(self) -> None:
        bundle = demo_with(lambda b: b.update(invoices=[], invoice_items=[]))
        data = parse_input(json.dumps(bundle).encode(), "in.json", history=True)
        assert data.invoices == ()

    def test_check_on_such_a_bundle_says_so_too(self) -> None:
        bundle = demo_with(lambda b: b.pop("invoices"))
        assert 'no "invoices"' in error_of(bundle, history=None)


class TestFieldsStripeMaySendAsNull:
    """Issue item 5: what the SDK of the pinned API version types Optional is read."""

    def test_an_invoice_item_whose_discounts_are_null(self) -> None:
        bundle = demo_with(lambda b: b["invoice_items"][0].update(discounts=None))
        data = parse_input(json.dumps(bundle).encode(), "in.json", history=True)
        reference = parse_input(json.dumps(DEMO).encode(), "in.json", history=True)
        assert data.invoices == reference.invoices
