"""The config file: what it accepts, and the one-line errors for what it does not."""

from decimal import Decimal
from pathlib import Path

import pytest

from accounts import HANDBOOK_KPIS
from conftest import ROOT
from ffkpi.config import Config, parse_config
from ffkpi.errors import ConfigError, ExitCode
from ffkpi.storage.config_file import ENV_CONFIG, find_config, load_config

TIERS = """
[[tiers]]
name = "Starter"
rule = "list_price"
products = [{ id = "prod_s" }, { name = "Starter - Small Instance Add-On" }]

[[tiers]]
name = "Team"
rule = "net"
products = [{ id = "prod_t" }]
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "ffkpi.toml")
    assert raised.value.exit_code == ExitCode.INVALID
    return raised.value.message


def test_defaults_are_stripes_billing_analytics() -> None:
    config = parse_config(TIERS, "ffkpi.toml")
    assert config.currency == "usd"
    assert config.policy.statuses == ("active", "past_due")
    assert config.policy.discounts == "forever"
    assert config.policy.scheduled_cancellations == "exclude"
    assert config.policy.paused_collection == "exclude"
    assert config.policy.metered == "exclude"
    assert config.growth.weekly_target == Decimal("0.10")


def test_rates_and_targets_are_exact_decimals_from_strings_or_numbers() -> None:
    text = 'currency = "EUR"\n[fx]\nusd = "0.925"\ngbp = 1.17\n[growth]\nweekly_target = 0.1\n'
    config = parse_config(text + TIERS, "ffkpi.toml")
    assert config.currency == "eur"
    assert config.fx == {"usd": Decimal("0.925"), "gbp": Decimal("1.17")}
    assert config.growth.weekly_target == Decimal("0.1")
    assert config.rate("eur") == 1
    assert config.rate("jpy") is None


def test_example_config_is_valid() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert [tier.name for tier in config.tiers] == ["Starter", "Team"]
    assert config.policy.metered == "last_invoice"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "currency = \n" + TIERS,
            "ffkpi.toml is not valid TOML: Invalid value (at line 1, column 12) "
            "(fix the TOML syntax there)",
        ),
        (
            "colour = 1\n" + TIERS,
            "ffkpi.toml: colour (line 1): unknown key "
            "(remove it or check its spelling against config.example.toml)",
        ),
        (
            TIERS.replace('rule = "net"', 'rule = "gross"'),
            "ffkpi.toml: tiers[1].rule (line 9): Input should be 'net' or 'list_price' "
            "(see config.example.toml for the allowed values)",
        ),
        (
            '[policy]\ndiscounts = "some"\n' + TIERS,
            "ffkpi.toml: policy.discounts (line 2): Input should be 'forever', 'all' or 'none' "
            "(see config.example.toml for the allowed values)",
        ),
        (
            '[policy]\nstatuses = ["active", "happy"]\n' + TIERS,
            "ffkpi.toml: policy.statuses[1] (line 2): Input should be 'active', 'past_due', "
            "'trialing', 'unpaid', 'incomplete', 'incomplete_expired', 'paused' or 'canceled' "
            "(see config.example.toml for the allowed values)",
        ),
        (
            '[fx]\neur = "one point one"\n' + TIERS,
            "ffkpi.toml: fx.eur (line 2): Input should be a valid decimal "
            "(see config.example.toml for the allowed values)",
        ),
        (
            '[fx]\neur = "-1.1"\n' + TIERS,
            "ffkpi.toml: fx.eur (line 2): Input should be greater than 0 "
            "(see config.example.toml for the allowed values)",
        ),
        (
            'currency = "dollars"\n' + TIERS,
            "ffkpi.toml: currency (line 1): 'dollars' is not a three-letter currency code "
            'such as "usd" (see config.example.toml for the allowed values)',
        ),
        (
            'currency = "usd"\n',
            "ffkpi.toml: tiers: required key is missing "
            "(add it; config.example.toml shows every key)",
        ),
        (
            TIERS.replace('{ id = "prod_t" }', '{ id = "prod_s" }'),
            "ffkpi.toml: product id 'prod_s' is in tier 'Starter' and in tier 'Team'; "
            "a product belongs to one tier (see config.example.toml for the allowed values)",
        ),
        (
            TIERS.replace('{ id = "prod_t" }', "{ }"),
            'ffkpi.toml: tiers[1].products[0] (line 10): a product needs an id ("prod_...") '
            "or its exact name (see config.example.toml for the allowed values)",
        ),
    ],
    ids=[
        "bad toml",
        "unknown key",
        "unknown rule",
        "unknown policy value",
        "unknown status",
        "malformed rate",
        "negative rate",
        "bad currency",
        "no tiers",
        "product in two tiers",
        "product without id or name",
    ],
)
def test_invalid_config_names_file_key_and_fix(text: str, message: str) -> None:
    assert error_of(text) == message


def test_api_key_in_config_is_refused_without_echoing_it() -> None:
    message = error_of('api_key = "sk_live_secret123"\n' + TIERS)
    assert "sk_live_secret123" not in message
    assert "STRIPE_API_KEY" in message


def test_missing_config_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


class TestLookup:
    def test_explicit_path_wins(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_CONFIG, str(tmp_path / "env.toml"))
        assert find_config(tmp_path / "given.toml") == tmp_path / "given.toml"

    def test_then_the_environment(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_CONFIG, str(tmp_path / "env.toml"))
        assert find_config(None) == tmp_path / "env.toml"

    def test_then_the_working_directory_then_the_user_dir(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv(ENV_CONFIG, raising=False)
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        monkeypatch.chdir(tmp_path)
        assert find_config(None) is None
        user = tmp_path / "xdg" / "ffkpi" / "config.toml"
        user.parent.mkdir(parents=True)
        user.write_text(TIERS)
        assert find_config(None) == user
        (tmp_path / "ffkpi.toml").write_text(TIERS)
        assert find_config(None) == Path("ffkpi.toml")


class TestKpis:
    """The review's other KPIs, as the config defines them (docs/review-rules.md)."""

    BASE = 'currency = "usd"\n[[tiers]]\nname = "Main"\nrule = "net"\nproducts = [{ id = "p" }]\n'

    def parse(self, kpis: str) -> Config:
        return parse_config(self.BASE + kpis, "ffkpi.toml")

    def test_the_examples_are_the_handbooks_six_in_its_order(self) -> None:
        text = (ROOT / "config.example.toml").read_text()
        examples = text[text.index("# [kpis.") :]  # the commented tables, at the file's end
        uncommented = text + "\n".join(line.removeprefix("# ") for line in examples.splitlines())
        config = parse_config(uncommented, "config.example.toml")
        assert list(config.kpis) == HANDBOOK_KPIS
        assert all(k.runs for k in config.kpis.values() if k.period != "quarter")
        kpis = config.kpis
        github, deals = kpis["engineering_throughput"].github, kpis["carr_closed"].hubspot_deals
        assert github is not None
        assert github.repositories == ("acme/app", "acme/api", "acme/docs")
        assert kpis["mqls"].hubspot_contacts is not None
        assert deals is not None
        assert (deals.measure, deals.pipelines) == ("closed", ("default",))
        assert kpis["carr_closed"].goal is None  # carr_goal is the one CARR goal
        commands = [k.command for k in config.kpis.values() if k.command is not None]
        assert all("$FFKPI_" in command for command in commands)  # their window, given
        assert not any(("-d monday" in c or "now()" in c or "last-week" in c) for c in commands)
        assert config.digest == parse_config(text, "x").digest  # KPIs change no MRR figure

    def test_carr_goal_is_the_one_goal_of_closed_and_projected(self) -> None:
        carr = (
            '[kpis.carr_closed]\nname = "Closed"\nunit = "money"\nperiod = "quarter_to_date"\n'
            '{goal}[kpis.carr_goal]\nname = "Goal"\nunit = "money"\nperiod = "quarter"\n'
        )
        assert self.parse(carr.format(goal="")).kpis["carr_closed"].goal is None
        with pytest.raises(ConfigError) as refused:
            self.parse(carr.format(goal="goal = 450000\n"))
        assert "kpis.carr_goal is the goal of carr_closed and carr_projected" in refused.value.what
        assert refused.value.exit_code == 3
        alone = carr.format(goal="goal = 450000\n").split("[kpis.carr_goal]")[0]
        assert self.parse(alone).kpis["carr_closed"].goal == Decimal(450000)  # no carr_goal

    def test_the_growth_target_is_not_part_of_the_mrr_definition(self) -> None:
        text = (ROOT / "config.example.toml").read_text()
        faster = parse_config(text.replace('weekly_target = "0.10"', 'weekly_target = "0.05"'), "x")
        assert faster.digest == parse_config(text, "x").digest
        other_rule = text.replace('\nrule = "list_price"', '\nrule = "net"')
        assert parse_config(other_rule, "x").digest != faster.digest

    def test_a_goal_is_one_number_or_one_per_quarter(self) -> None:
        config = self.parse('[kpis.mqls]\nname = "MQLs"\ngoal = 120\n')
        assert config.kpis["mqls"].goal_for("2026-Q4") == Decimal(120)
        assert (config.kpis["mqls"].unit, config.kpis["mqls"].period) == ("count", "week")

    @pytest.mark.parametrize(
        ("table", "says"),
        [
            ('[kpis.mrr]\nname = "MRR"\n', "kpis.mrr is built in"),
            ('[kpis.arr]\nname = "ARR"\n', "kpis.arr is built in"),
            ('[kpis.mqls]\nname = "MQLs"\nunit = "euros"\n', "kpis.mqls.unit"),
            ('[kpis.mqls]\nname = "MQLs"\nperiod = "month"\n', "kpis.mqls.period"),
            ('[kpis.mqls]\nname = "MQLs"\ngoal = nan\n', "kpis.mqls.goal"),
            ('[kpis.mqls]\nname = "MQLs"\ngoal = { "2026-Q5" = 1 }\n', "kpis.mqls.goal"),
            ('[kpis.mqls]\nname = "MQLs"\nowner = "me"\n', "kpis.mqls.owner"),
            ('[kpis."Bad Key"]\nname = "x"\n', "kpis"),
            ('[kpis.mqls]\nunit = "count"\n', "kpis.mqls.name"),
        ],
    )
    def test_a_malformed_kpis_table_is_one_error_naming_it(self, table: str, says: str) -> None:
        with pytest.raises(ConfigError) as raised:
            self.parse(table)
        assert says in raised.value.message
        assert raised.value.exit_code == ExitCode.INVALID


def test_a_goal_for_a_quarter_that_is_none_names_it_and_its_line() -> None:
    text = (ROOT / "config.example.toml").read_text()
    bad = text + '\n[kpis.mqls]\nname = "MQLs"\ngoal = { "2026-Q5" = 120 }\n'
    line = bad.splitlines().index('goal = { "2026-Q5" = 120 }') + 1
    with pytest.raises(ConfigError) as refused:
        parse_config(bad, "ffkpi.toml")
    assert refused.value.what == (
        f"ffkpi.toml: kpis.mqls.goal (line {line}): '2026-Q5' is not a quarter: write each as "
        '"2026-Q4" = 450000'
    )
