"""The command line, end to end: exact stdout, stderr and exit code, one scenario each."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import stripe_fixtures as sf
from conftest import ROOT, Ffkpi
from ffkpi import __version__
from ffkpi.errors import ExitCode

GOLDEN = ROOT / "tests" / "golden"
CONFIG = """
currency = "usd"
[[tiers]]
name = "Self-service"
rule = "net"
products = [{ id = "prod_a" }]
"""
SUBS = sf.list_page(
    [
        sf.subscription_of(
            "sub_1",
            "cus_1",
            (sf.price("price_1", "prod_a", 1999), 3),
            (sf.price("price_2", "prod_z", 5000, interval="year"), 1),
        )
    ]
)


@pytest.fixture
def files(cli_env: Path) -> Path:
    (cli_env / "ffkpi.toml").write_text(CONFIG)
    (cli_env / "subs.json").write_text(json.dumps(SUBS))
    return cli_env


def test_demo_table_is_exactly_the_golden_output(ffkpi: Ffkpi) -> None:
    result = ffkpi("mrr", "--demo")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (GOLDEN / "demo_mrr.txt").read_text()


def test_readme_shows_the_demo_output_literally() -> None:
    readme = (ROOT / "README.md").read_text()
    golden = (GOLDEN / "demo_mrr.txt").read_text()
    assert f"```console\n$ uv run ffkpi mrr --demo\n{golden}```" in readme


def test_arr_leads_with_arr(ffkpi: Ffkpi) -> None:
    result = ffkpi("arr", "--demo")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "ARR by tier and product, as of 2026-11-17 (USD)"
    assert lines[2].split()[-2:] == ["ARR", "MRR"]
    total = next(line for line in lines if line.strip().startswith("Total"))
    assert total.split()[1:] == ["1,203,193.60", "100,266.13"]


def test_json_is_one_document_on_stdout(ffkpi: Ffkpi, files: Path) -> None:
    result = ffkpi("mrr", "-i", "subs.json", "--as-of", "2026-11-22", "-f", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout) == {
        "schema": "ffkpi.report/1",
        "as_of": "2026-11-22",
        "currency": "usd",
        "mrr": "59.97",
        "arr": "719.64",
        "tiers": [
            {
                "name": "Self-service",
                "rule": "net",
                "mrr": "59.97",
                "arr": "719.64",
                "subscriptions": 1,
                "quantity": 3,
                "products": [
                    {
                        "id": "prod_a",
                        "name": "prod_a",
                        "mrr": "59.97",
                        "arr": "719.64",
                        "subscriptions": 1,
                        "quantity": 3,
                    }
                ],
            }
        ],
        "unlisted": [
            {
                "id": "prod_z",
                "name": "prod_z",
                "mrr": "4.17",
                "arr": "50.00",
                "subscriptions": 1,
                "quantity": 1,
            }
        ],
        "excluded": {
            "statuses": {},
            "scheduled_cancellation": 0,
            "paused_collection": 0,
            "zero_mrr": 0,
            "trialing_items": 0,
            "metered_items": 0,
            "metered_items_without_invoice": 0,
        },
    }


def test_csv_has_a_row_per_product(ffkpi: Ffkpi, files: Path) -> None:
    result = ffkpi("mrr", "--input", "subs.json", "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout == (
        "tier,product_id,name,subscriptions,quantity,mrr,arr\n"
        "Self-service,prod_a,prod_a,1,3,59.97,719.64\n"
        "unlisted,prod_z,prod_z,1,1,4.17,50.00\n"
    )


def test_demo_with_another_config(ffkpi: Ffkpi, files: Path) -> None:
    (files / "other.toml").write_text(CONFIG + '[fx]\neur = "1.1"\n')
    result = ffkpi("mrr", "--demo", "--config", "other.toml", "-f", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert [tier["name"] for tier in report["tiers"]] == ["Self-service"]
    assert report["mrr"] == "0.00"  # prod_a is not in the demo account
    # Every demo product but the metered one, which this config's default policy leaves out.
    assert len(report["unlisted"]) == 9


def test_config_from_the_environment(ffkpi: Ffkpi, files: Path) -> None:
    (files / "ffkpi.toml").rename(files / "elsewhere.toml")
    result = ffkpi("mrr", "-i", "subs.json", "-f", "csv", env={"FFKPI_CONFIG": "elsewhere.toml"})
    assert result.exit_code == 0
    assert "Self-service,prod_a" in result.stdout


def test_version(ffkpi: Ffkpi) -> None:
    result = ffkpi("--version")
    assert (result.exit_code, result.stdout) == (0, f"ffkpi {__version__}\n")


def test_every_command_has_help_with_an_example(ffkpi: Ffkpi) -> None:
    commands = ["mrr", "arr", "snapshot", "history", "fetch", "init", "check"]
    listing = ffkpi("--help").stdout
    for command in commands:
        assert command in listing
        result = ffkpi(command, "--help")
        assert result.exit_code == 0
        assert "Example:" in result.stdout
        assert f"ffkpi {command}" in result.stdout.split("Example:")[1]


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        (
            ["mrr", "--input", "missing.json"],
            ExitCode.INVALID,
            "ffkpi: error: input file missing.json does not exist (check the path)\n",
        ),
        (
            ["mrr", "--input", "subs.json", "--demo"],
            ExitCode.USAGE,
            "ffkpi: error: --input and --demo were both given (pass one of them)\n",
        ),
        (
            ["mrr", "--config", "nowhere.toml", "--input", "subs.json"],
            ExitCode.INVALID,
            "ffkpi: error: config file nowhere.toml does not exist "
            "(check the path, or copy config.example.toml there)\n",
        ),
        (
            ["mrr"],
            ExitCode.STRIPE_AUTH,
            "ffkpi: error: no Stripe API key (set STRIPE_API_KEY, or pass --api-key-file "
            "PATH with the key on its first line)\n",
        ),
        (
            ["mrr", "--input", "bad.json"],
            ExitCode.INVALID,
            "ffkpi: error: bad.json is not valid JSON: it ends before the JSON does (a "
            "cut-off download?) (give it a Stripe list object, JSON lines of list pages or "
            'subscriptions, or a bundle {"subscriptions": [...], "prices": [...], ...})\n',
        ),
        (
            ["mrr", "--input", "subs.json", "--config", "broken.toml"],
            ExitCode.INVALID,
            "ffkpi: error: broken.toml: tiers[0].rule (line 5): Input should be 'net' or "
            "'list_price' (see config.example.toml for the allowed values)\n",
        ),
    ],
    ids=["missing input", "two sources", "missing config", "no key", "bad json", "bad config"],
)
def test_errors_are_one_line_on_stderr_with_their_exit_code(
    ffkpi: Ffkpi, files: Path, args: list[str], code: int, stderr: str
) -> None:
    (files / "bad.json").write_text("{")
    (files / "broken.toml").write_text(CONFIG.replace('"net"', '"gross"'))
    result = ffkpi(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", stderr)


def test_no_config_anywhere_says_where_it_looked(ffkpi: Ffkpi, cli_env: Path) -> None:
    (cli_env / "subs.json").write_text(json.dumps(SUBS))
    result = ffkpi("mrr", "--input", "subs.json")
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    assert result.stderr == (
        "ffkpi: error: no config file found (pass --config PATH, set FFKPI_CONFIG, or copy "
        "config.example.toml to ./ffkpi.toml)\n"
    )


def test_bad_date_is_a_usage_error(ffkpi: Ffkpi) -> None:
    result = ffkpi("mrr", "--demo", "--as-of", "22/11/2026")
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    assert "Invalid value for '--as-of'" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_exchange_rate_exits_3_naming_the_currency(ffkpi: Ffkpi, files: Path) -> None:
    eur = json.loads(json.dumps(SUBS))
    eur["data"][0]["currency"] = "eur"
    for entry in eur["data"][0]["items"]["data"]:
        entry["price"]["currency"] = "eur"
    (files / "eur.json").write_text(json.dumps(eur))
    result = ffkpi("mrr", "--input", "eur.json", "--as-of", "2026-11-17")
    assert (result.exit_code, result.stdout) == (ExitCode.INVALID, "")
    assert result.stderr == (
        "ffkpi: error: no exchange rate for EUR (subscription sub_1 is billed in EUR) "
        '(add eur = "<rate>" under [fx] in the config: 1 EUR = <rate> USD)\n'
    )


def test_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ffkpi", "mrr", "--demo", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "", "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["mrr"] == "100266.13"


class TestEveryExitCode:
    """One scenario per documented exit code; on every error stdout stays empty."""

    def test_0_ok(self, ffkpi: Ffkpi) -> None:
        assert ffkpi("mrr", "--demo").exit_code == ExitCode.OK

    def test_1_unexpected_shows_a_traceback_without_locals(self, cli_env: Path) -> None:
        script = cli_env / "bug.py"
        script.write_text(
            "import os, sys\n"
            "import ffkpi.cli.commands as cli\n"
            "from ffkpi.cli.app import main\n"
            "def broken(*args, **kwargs):\n"
            "    key = os.environ['PLANTED']  # a key held in a local, as at run time\n"
            "    raise RuntimeError('a bug')\n"
            "cli.compute_report = broken\n"
            "sys.argv = ['ffkpi', 'mrr', '--demo']\n"
            "main()\n"
        )
        planted = "sk_live_51PlantedInALocalVariable"
        result = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "", "NO_COLOR": "1", "PLANTED": planted},
        )
        assert (result.returncode, result.stdout) == (ExitCode.UNEXPECTED, "")
        assert "Traceback" in result.stderr
        assert "RuntimeError: a bug" in result.stderr
        assert planted not in result.stderr

    def test_2_usage(self, ffkpi: Ffkpi) -> None:
        result = ffkpi("mrr", "--demo", "--format", "yaml")
        assert (result.exit_code, result.stdout) == (ExitCode.USAGE, "")
        assert "Invalid value for '--format'" in result.stderr

    def test_3_invalid_config_or_input(self, ffkpi: Ffkpi, files: Path) -> None:
        (files / "subs.json").write_text('{"object": "list", "data": [{"id": "sub_1"}]}')
        result = ffkpi("mrr", "-i", "subs.json")
        assert (result.exit_code, result.stdout) == (ExitCode.INVALID, "")
        assert result.stderr.startswith("ffkpi: error: subs.json: subscription sub_1: ")

    def test_4_stripe_authentication(self, ffkpi: Ffkpi, files: Path) -> None:
        result = ffkpi("mrr", "--api-key-file", "missing.key")
        assert (result.exit_code, result.stdout) == (ExitCode.STRIPE_AUTH, "")
        assert result.stderr.startswith("ffkpi: error: cannot read the API key file missing.key")

    def test_5_stripe_unreachable(self, ffkpi: Ffkpi, files: Path) -> None:
        result = ffkpi(
            "--verbose",
            "mrr",
            "--api-base",
            "http://127.0.0.1:9",
            "--retry-for",
            "0.3",
            env={"STRIPE_API_KEY": "sk_live_51UnreachableKeyValue"},
        )
        assert (result.exit_code, result.stdout) == (ExitCode.STRIPE_UNAVAILABLE, "")
        lines = result.stderr.splitlines()
        assert lines[0] == "ffkpi: requests go to http://127.0.0.1:9, not to Stripe's API"
        assert lines[1].startswith("ffkpi: error: GET /v1/")
        assert lines[2].startswith("ffkpi: detail: GET /v1/")
        assert "UnreachableKeyValue" not in result.stderr

    def test_6_storage(self, ffkpi: Ffkpi, files: Path) -> None:
        (files / "snapshots").mkdir()
        (files / "snapshots" / "2026-W01.toml").write_text("not = [toml")
        result = ffkpi("history", "--strict")
        assert (result.exit_code, result.stdout) == (ExitCode.STORAGE, "")
        assert result.stderr.startswith("ffkpi: error: snapshots/2026-W01.toml is not a readable")

    def test_every_code_is_in_the_docs(self) -> None:
        page = (ROOT / "docs" / "output.md").read_text()
        for code in ExitCode:
            assert f"\n| {int(code)} | " in page
