"""Reading Stripe JSON files: every accepted shape, and a precise error for the rest."""

import gzip
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import stripe_fixtures as sf
from builders import config
from ffkpi.engine.money import format_money
from ffkpi.engine.mrr import compute_report
from ffkpi.errors import ExitCode, InputError
from ffkpi.sources.files import parse_input, read_input

AS_OF = date(2026, 11, 22)
T0 = 1_790_000_000


def stripe_sub(n: int, *prices: tuple[dict[str, Any], int | None], **kw: Any) -> dict[str, Any]:
    return sf.subscription_of(
        f"sub_{n:04d}", f"cus_{n:04d}", *prices, created=T0 - n, period_start=T0, **kw
    )


PLATFORM = sf.price("price_team", "prod_a", 42500)
SMALL = sf.price("price_small", "prod_b", 3500)
METERED = sf.price("price_remote", "prod_c", 300, usage_type="metered")
TIERED = sf.price("price_medium", "prod_b", None, tiers_mode="graduated")
TIERS = [sf.tier(5, 500), sf.tier(10, 400), sf.tier(15, 300), sf.tier(20, 200), sf.tier(None, 100)]
TEN_FOREVER = sf.coupon("TEN", percent_off=10.0)


def case_15() -> dict[str, Any]:
    """Spec case 15 as Stripe returns it, with the coupon expanded."""
    return stripe_sub(
        15,
        (PLATFORM, 1),
        (SMALL, 4),
        (SMALL, 2),
        (METERED, None),
        discounts=[sf.discount("di_15", TEN_FOREVER, customer="c", subscription="s", start=T0)],
    )


def mrr_of(raw: bytes, **policy: Any) -> str:
    report = compute_report(parse_input(raw, "subs.json"), config(**policy), AS_OF)
    return format_money(report.mrr, "usd")


def error_of(raw: bytes) -> str:
    with pytest.raises(InputError) as raised:
        parse_input(raw, "subs.json")
    assert raised.value.exit_code == ExitCode.INVALID
    return raised.value.message


def dumps(doc: Any) -> bytes:
    return json.dumps(doc).encode()


class TestShapes:
    def test_a_list_object(self) -> None:
        assert mrr_of(dumps(sf.list_page([case_15()]))) == "571.50"

    def test_json_lines_of_pages(self) -> None:
        subs = [stripe_sub(n, (SMALL, 1)) for n in range(3)]
        raw = (
            dumps(sf.list_page(subs[:2], has_more=True))
            + b"\n"
            + dumps(sf.list_page(subs[2:]))
            + b"\n"
        )
        assert mrr_of(raw) == "105.00"

    def test_json_lines_one_subscription_per_line(self) -> None:
        raw = b"\n".join(dumps(stripe_sub(n, (SMALL, 2))) for n in range(4))
        assert mrr_of(raw) == "280.00"

    def test_pretty_printed_list_object(self) -> None:
        raw = json.dumps(sf.list_page([case_15()]), indent=2).encode()
        assert mrr_of(raw) == "571.50"

    def test_gzip(self) -> None:
        assert mrr_of(gzip.compress(dumps(sf.list_page([case_15()])))) == "571.50"

    def test_bundle_fills_in_tiers_coupons_names_and_invoices(self) -> None:
        item_discount = sf.discount("di_i", "HALF", customer="c", subscription="s", start=T0)
        sub_discount = sf.discount(
            "di_s",
            sf.coupon("OFF", amount_off=1000, currency="usd"),
            customer="c",
            subscription="s",
            start=T0,
        )
        sub = stripe_sub(
            1,
            (TIERED, 6),
            (SMALL, 1),
            (METERED, None),
            item_discounts={1: [item_discount]},
            discounts=[sub_discount],
        )
        line = sf.invoice_line(
            "il_1",
            "in_1",
            amount=1500,
            currency="usd",
            subscription_id="sub_0001",
            subscription_item_id="si_0001_2",
            price_id="price_remote",
            product_id="prod_c",
            quantity=5,
            period=(T0 - 30 * 86_400, T0),
        )
        bundle = {
            "subscriptions": [sub],
            "prices": [{**TIERED, "tiers": TIERS}],
            "coupons": [
                sf.coupon("HALF", percent_off=50.0),
                # The bundle's copy has applies_to: only prod_a, which this sub lacks.
                sf.coupon("OFF", amount_off=1000, currency="usd", applies_to=["prod_a"]),
            ],
            "products": [sf.product("prod_b", "Team - Small Instance Add-On")],
            "invoices": [
                sf.invoice(
                    "in_1",
                    customer="c",
                    subscription_id="sub_0001",
                    status="paid",
                    currency="usd",
                    lines=[line],
                    created=T0,
                ),
            ],
        }
        data = parse_input(dumps(bundle), "bundle.json")
        assert data.product_names == {"prod_b": "Team - Small Instance Add-On"}
        # 29.00 graduated + 35.00 at half + 15.00 metered; the 10.00 off does not apply.
        assert mrr_of(dumps(bundle), metered="last_invoice") == "61.50"

    def test_expanded_product_object_gives_its_name(self) -> None:
        price = {**SMALL, "product": sf.product("prod_b", "Small")}
        data = parse_input(dumps(sf.list_page([stripe_sub(1, (price, 1))])), "subs.json")
        assert data.product_names == {"prod_b": "Small"}
        assert data.subscriptions[0].items[0].price.product_id == "prod_b"

    def test_unknown_fields_and_new_statuses_of_objects_we_skip_are_ignored(self) -> None:
        sub = {**case_15(), "brand_new_field": {"nested": [1, 2]}}
        assert mrr_of(dumps(sf.list_page([sub]))) == "571.50"


class TestErrors:
    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match=r"input file .*nope.json does not exist"):
            read_input(tmp_path / "nope.json")

    def test_not_json(self) -> None:
        assert error_of(b"{not json").startswith("subs.json is not valid JSON: ")

    @pytest.mark.parametrize(
        "raw", [b"", b"  \n\n\t\n", gzip.compress(b"\n")], ids=["empty", "blank", "gzip"]
    )
    def test_empty(self, raw: bytes) -> None:
        assert error_of(raw) == (
            "subs.json is empty (give it a Stripe list object, JSON lines of list pages or "
            'subscriptions, or a bundle {"subscriptions": [...], "prices": [...], ...})'
        )

    def test_other_json(self) -> None:
        assert error_of(b'{"object": "customer"}').startswith(
            "subs.json: not a Stripe list page or bundle"
        )

    def test_bad_field_names_the_subscription_and_the_field(self) -> None:
        sub = case_15()
        sub["items"]["data"][1]["price"]["recurring"]["interval"] = "fortnight"
        assert error_of(dumps(sf.list_page([stripe_sub(1, (SMALL, 1)), sub]))) == (
            "subs.json: subscription sub_0015: items.data[1].price.recurring.interval: "
            "Invalid enum value 'fortnight' "
            "(check the file is Stripe JSON as the API returns it)"
        )

    def test_missing_field_in_a_json_line_names_the_line(self) -> None:
        sub = case_15()
        del sub["status"]
        raw = dumps(stripe_sub(1, (SMALL, 1))) + b"\n" + dumps(sub)
        assert error_of(raw) == (
            "subs.json, line 2: subscription sub_0015: status: field is missing "
            "(check the file is Stripe JSON as the API returns it)"
        )

    def test_bad_value_under_a_currency_key_is_shown_with_the_key_elided(self) -> None:
        price = {**SMALL, "currency_options": {"eur": {"unit_amount": "32.00"}}}
        assert error_of(dumps(sf.list_page([stripe_sub(1, (price, 1))]))) == (
            "subs.json: subscription sub_0001: items.data[0].price.currency_options[...]"
            ".unit_amount: Expected int | null, got str "
            "(check the file is Stripe JSON as the API returns it)"
        )

    def test_broken_json_line_names_the_line(self) -> None:
        raw = dumps(stripe_sub(1, (SMALL, 1))) + b"\n{oops}\n"
        assert error_of(raw).startswith(
            "subs.json, line 2 is not valid JSON: object keys must be strings (byte 1)"
        )

    def test_tiered_price_without_tiers(self) -> None:
        message = error_of(dumps(sf.list_page([stripe_sub(7, (TIERED, 3))])))
        assert message == (
            "subs.json: subscription sub_0007, item si_0007_0: price price_medium is tiered "
            "but its tiers are missing (add the price fetched with expand[]=tiers to the "
            "bundle's prices)"
        )

    def test_discount_that_is_only_an_id(self) -> None:
        message = error_of(dumps(sf.list_page([stripe_sub(3, (SMALL, 1), discounts=["di_abc"])])))
        assert message.startswith("subs.json: subscription sub_0003: discount di_abc is only an id")

    def test_coupon_that_is_only_an_id_and_not_in_the_bundle(self) -> None:
        d = sf.discount("di_x", "GONE", customer="c", subscription="s", start=T0)
        message = error_of(dumps(sf.list_page([stripe_sub(3, (SMALL, 1), discounts=[d])])))
        assert "coupon GONE is only an id" in message

    def test_subscription_with_more_items_than_listed(self) -> None:
        message = error_of(dumps(sf.list_page([stripe_sub(4, (SMALL, 1), items_has_more=True)])))
        assert "sub_0004: items.has_more is true" in message

    def test_last_page_says_has_more(self) -> None:
        message = error_of(dumps(sf.list_page([stripe_sub(1, (SMALL, 1))], has_more=True)))
        assert "the last page says has_more, so subscriptions are missing" in message

    def test_broken_gzip(self) -> None:
        assert "broken gzip data" in error_of(gzip.compress(b"{}")[:12])


@pytest.mark.parametrize("applies_to", [None, {"products": []}], ids=["null", "empty list"])
def test_coupon_with_an_empty_or_null_applies_to_is_unrestricted(applies_to: Any) -> None:
    coupon = {**TEN_FOREVER, "applies_to": applies_to}
    d = sf.discount("di_1", coupon, customer="c", subscription="s", start=T0)
    raw = dumps(sf.list_page([stripe_sub(1, (SMALL, 1), discounts=[d])]))
    assert mrr_of(raw) == "31.50"
