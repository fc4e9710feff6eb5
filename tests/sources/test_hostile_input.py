"""Hostile and unlucky input: numbers out of range, odd files, and the option parser.

Every one ends in one line on stderr with the README's exit code, never a traceback,
never a number counted that Stripe could not have sent.
"""

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

import stripe_fixtures as sf
from conftest import Ffkpi
from ffkpi.errors import ExitCode, InputError
from ffkpi.sources.files import parse_input

CONFIG = (
    'currency = "usd"\n[[tiers]]\nname = "Main"\nrule = "net"\nproducts = [{ id = "prod_a" }]\n'
)


def bundle(
    *, amount: int | None = 1999, quantity: int = 3, coupon: dict[str, Any] | None = None
) -> dict[str, Any]:
    price = sf.price("price_1", "prod_a", amount)
    discounts = [sf.discount("di_1", coupon, customer="c", subscription="s", start=1)]
    sub = sf.subscription_of(
        "sub_1", "cus_1", (price, quantity), discounts=discounts if coupon else None
    )
    return {"subscriptions": [sub]}


def error_of(document: dict[str, Any] | bytes) -> str:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    with pytest.raises(InputError) as raised:
        parse_input(raw, "in.json")
    assert raised.value.exit_code == ExitCode.INVALID
    return raised.value.message


class TestNumbersStripeCannotSend:
    """Items 13 and 14: refused naming the object, never counted."""

    @pytest.mark.parametrize(
        ("coupon", "says"),
        [
            (sf.coupon("BIG", percent_off=-900.0), "coupon BIG: percent_off is -900.0, outside"),
            (sf.coupon("OVER", percent_off=150.0), "coupon OVER: percent_off is 150.0, outside"),
            (
                sf.coupon("NEG", amount_off=-5000, currency="usd"),
                "coupon NEG: amount_off is -5000, outside",
            ),
        ],
        ids=["percent below 0", "percent above 100", "negative amount"],
    )
    def test_out_of_range_coupons(self, coupon: dict[str, Any], says: str) -> None:
        assert f"in.json: subscription sub_1: {says} 0 to " in error_of(bundle(coupon=coupon))

    def test_a_negative_quantity(self) -> None:
        assert error_of(bundle(quantity=-3)).startswith(
            "in.json: subscription sub_1, item si_1_0: quantity is -3, outside 0 to 1,000,000,000"
        )

    @pytest.mark.parametrize(
        ("decimal", "shown"),
        [("-1999", "-1999"), ("NaN", "NaN"), ("Infinity", "Infinity"), ("1e30", "1E+30")],
    )
    def test_a_price_amount_out_of_range(self, decimal: str, shown: str) -> None:
        document = bundle(amount=None)
        price = document["subscriptions"][0]["items"]["data"][0]["price"]
        price["unit_amount_decimal"] = decimal
        assert error_of(document).startswith(
            f"in.json: subscription sub_1, item si_1_0: price price_1: an amount is {shown}, "
            "outside 0 to 1,000,000,000,000"
        )

    @pytest.mark.parametrize(
        ("toml", "says"),
        [
            ('[fx]\neur = "1e400"\n', "fx.eur (line 3): Input should be less than or equal to"),
            ('[growth]\nweekly_target = "1e30"\n', "growth.weekly_target (line 3): Input"),
            ('[fx]\neur = "NaN"\n', "fx.eur (line 3): Input should be a finite number"),
        ],
        ids=["huge rate", "huge target", "nan rate"],
    )
    def test_config_numbers_are_bounded(
        self, ffkpi: Ffkpi, cli_env: Path, toml: str, says: str
    ) -> None:
        (cli_env / "ffkpi.toml").write_text(CONFIG.replace("\n[[tiers]]", f"\n{toml}[[tiers]]"))
        result = ffkpi("mrr", "--demo")
        assert (result.exit_code, result.stdout) == (ExitCode.INVALID, "")
        assert result.stderr.startswith(f"ffkpi: error: ffkpi.toml: {says}")
        assert len(result.stderr.splitlines()) == 1

    @pytest.mark.parametrize(
        "args",
        [
            ["init", "--demo", "--yes", "--fx", "eur=1e400"],
            ["mrr", "--max-rps", "inf"],
            ["mrr", "--max-rps", "nan"],
            ["mrr", "--retry-for", "nan"],
            ["mrr", "--demo", "--as-of", "9999-12-31"],
            ["snapshot", "--demo", "--lock-timeout", "inf"],
        ],
    )
    def test_option_numbers_are_bounded(self, ffkpi: Ffkpi, cli_env: Path, args: list[str]) -> None:
        result = ffkpi(*args, env={"STRIPE_API_KEY": "sk_live_51Abc"})
        assert (result.exit_code, result.stdout) == (ExitCode.USAGE, "")
        assert result.stderr.startswith("ffkpi: error: ")
        assert len(result.stderr.splitlines()) == 1


class TestFilesThatAreNotStripeJson:
    """Items 15 and 16."""

    def test_a_latin_1_file(self) -> None:
        document = {**bundle(), "products": [sf.product("prod_a", "Café")]}
        text = json.dumps(document, ensure_ascii=False)
        assert error_of(text.encode("latin-1")).startswith(
            "in.json is not UTF-8 (it holds the byte 0xe9 in a text): "
        )

    @pytest.mark.parametrize(
        "nesting", ["[" * 1000 + "]" * 1000, '{"a":' * 100_000 + "1" + "}" * 100_000]
    )
    def test_deeply_nested_json(self, nesting: str) -> None:
        message = error_of(nesting.encode())
        assert message.startswith("in.json")

    def test_a_gzip_bomb_is_refused_before_it_fills_memory(self) -> None:
        bomb = gzip.compress(b" " * 150_000_000, compresslevel=9)
        assert error_of(bomb).startswith(
            f"in.json unpacks to more than {(100 * len(bomb) + 32 * 2**20) // 2**20:,} MB from "
        )

    def test_a_gzip_of_several_members_is_read_whole(self) -> None:
        text = json.dumps(bundle()).encode()
        raw = gzip.compress(text[:100]) + gzip.compress(text[100:])
        assert len(parse_input(raw, "in.json").subscriptions) == 1

    @pytest.mark.parametrize(
        ("option", "code", "says"),
        [
            ("--input", ExitCode.INVALID, "/dev/zero is not Stripe JSON: it starts with '\\x00'"),
            ("--config", ExitCode.INVALID, "cannot read config file /dev/zero: it is larger"),
            (
                "--api-key-file",
                ExitCode.STRIPE_AUTH,
                "cannot read the API key file /dev/zero: it is larger",
            ),
        ],
    )
    def test_an_endless_device_is_refused(
        self, ffkpi: Ffkpi, cli_env: Path, option: str, code: int, says: str
    ) -> None:
        (cli_env / "ffkpi.toml").write_text(CONFIG)
        result = ffkpi("mrr", option, "/dev/zero")
        assert (result.exit_code, result.stdout) == (code, "")
        assert result.stderr.startswith(f"ffkpi: error: {says}")


class TestTheOptionParser:
    """Item 17: its errors are one line with the README's code, like ffkpi's own."""

    @pytest.mark.parametrize(
        ("args", "says"),
        [
            (["mrr", "--demo", "--format", "yaml"], "Invalid value for '--format' / '-f': "),
            (["mrr", "--nope"], "No such option: --nope"),
            (["fetch"], "Missing option '--output' / '-o'."),
            (["reports"], "No such command 'reports'."),
        ],
    )
    def test_usage_errors_are_one_line(self, ffkpi: Ffkpi, args: list[str], says: str) -> None:
        result = ffkpi(*args)
        assert (result.exit_code, result.stdout) == (ExitCode.USAGE, "")
        assert result.stderr.startswith(f"ffkpi: error: {says}")
        assert result.stderr.endswith("--help)\n")
        assert len(result.stderr.splitlines()) == 1

    @pytest.mark.parametrize(
        ("option", "code", "says"),
        [
            ("--input", ExitCode.INVALID, "input file folder is a folder"),
            ("--config", ExitCode.INVALID, "cannot read config file folder: it is a folder"),
            ("--api-key-file", ExitCode.STRIPE_AUTH, "cannot read the API key file folder: it is"),
        ],
    )
    def test_a_folder_where_a_file_belongs_has_its_own_code(
        self, ffkpi: Ffkpi, cli_env: Path, option: str, code: int, says: str
    ) -> None:
        (cli_env / "ffkpi.toml").write_text(CONFIG)
        (cli_env / "folder").mkdir()
        result = ffkpi("mrr", option, "folder")
        assert (result.exit_code, result.stdout) == (code, "")
        assert result.stderr.startswith(f"ffkpi: error: {says}")


class TestSmaller:
    """Item 18."""

    @pytest.mark.parametrize(
        ("toml", "says"),
        [
            (
                '[[tiers]]\nname = "A"\nproducts = [{ id = "p" }]\n\n'
                '[[tiers]]\nname = "B"\nrule = "net"\nproducts = [{ id = "q" }]\n',
                "tiers[0].rule (line 1): required key is missing",
            ),
            (
                '[[tiers]]\nname = "A"\nrule = "net"\n\n'
                '[[tiers]]\nname = "B"\nrule = "net"\nproducts = [{ id = "q" }]\n',
                "tiers[0].products (line 1): required key is missing",
            ),
        ],
        ids=["rule", "products"],
    )
    def test_a_missing_key_points_at_its_own_tier(
        self, ffkpi: Ffkpi, cli_env: Path, toml: str, says: str
    ) -> None:
        (cli_env / "ffkpi.toml").write_text(toml)
        result = ffkpi("mrr", "--demo")
        assert result.exit_code == ExitCode.INVALID
        assert result.stderr.startswith(f"ffkpi: error: ffkpi.toml: {says}")

    def test_a_dangling_folder_link_is_named(self, ffkpi: Ffkpi, cli_env: Path) -> None:
        (cli_env / "ffkpi.toml").write_text(CONFIG)
        (cli_env / "in.json").write_text(json.dumps(bundle()))
        os.symlink(cli_env / "gone" / "deeper", cli_env / "snaps")
        result = ffkpi("snapshot", "-i", "in.json", "--dir", "snaps", "--as-of", "2026-11-17")
        assert (result.exit_code, result.stdout) == (ExitCode.STORAGE, "")
        assert result.stderr == (
            f"ffkpi: error: snapshot folder snaps is a link to {cli_env}/gone/deeper, which "
            "does not exist (create that folder, or pass --dir)\n"
        )

    def test_an_unknown_currency_code_is_refused(self, ffkpi: Ffkpi, cli_env: Path) -> None:
        (cli_env / "ffkpi.toml").write_text(CONFIG.replace('"usd"', '"xyz"'))
        result = ffkpi("mrr", "--demo")
        assert result.exit_code == ExitCode.INVALID
        assert "'xyz' is not an ISO 4217 currency code (a typo?)" in result.stderr
        init = ffkpi("init", "--demo", "--yes", "--currency", "usx", "-o", "new.toml")
        assert init.exit_code == ExitCode.INVALID
        assert "'usx' is not an ISO 4217 currency code" in init.stderr

    def test_an_empty_status_list_is_warned_of(self, ffkpi: Ffkpi, cli_env: Path) -> None:
        (cli_env / "ffkpi.toml").write_text(
            CONFIG.replace("[[tiers]]", "[policy]\nstatuses = []\n[[tiers]]")
        )
        (cli_env / "in.json").write_text(json.dumps(bundle()))
        result = ffkpi("mrr", "-i", "in.json", "-f", "json", "--as-of", "2026-11-17")
        assert result.exit_code == 0
        assert json.loads(result.stdout)["mrr"] == "0.00"
        assert result.stderr == (
            "ffkpi: warning: ffkpi.toml: policy.statuses is empty, so no subscription counts: "
            "every MRR is 0\n"
        )
