"""`ffkpi review`: one document, rendered as JSON and Markdown."""

import json
import re
from pathlib import Path

import pytest

from conftest import ROOT, Ffkpi
from ffkpi.errors import ExitCode

KPIS = """
[kpis.mqls]
name = "MQLs"
goal = 120

[kpis.carr_closed]
name = "CARR Closed (this quarter)"
unit = "money"
period = "quarter_to_date"
goal = { "2026-Q4" = 450000 }
source = "the CRM"
"""


@pytest.fixture
def review_env(cli_env: Path, ffkpi: Ffkpi) -> Path:
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text() + KPIS)
    for week, mqls, carr in (("2026-W46", "110", "150000"), ("2026-W47", "118", "168000")):
        result = ffkpi("record", f"mqls={mqls}", f"carr_closed={carr}", "--week", week)
        assert result.exit_code == 0, result.stderr
    return cli_env


def test_json_holds_the_worked_case(ffkpi: Ffkpi, review_env: Path) -> None:
    result = ffkpi("review", "--demo", "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "ffkpi.review/1"
    assert (document["week"], document["as_of"], document["currency"]) == (
        "2026-W47",
        "2026-11-17",
        "usd",
    )
    assert (document["mrr"], document["arr"]) == ("100266.13", "1203193.60")
    growth = document["growth"]
    assert (growth["rate"], growth["needed"], growth["shortfall"], growth["met"]) == (
        "0.0101",
        "109189.63",
        "8923.50",
        False,
    )
    assert document["movements"]["churn"] == "1720.67"
    assert document["quarter"] == {
        **document["quarter"],
        "name": "2026-Q4",
        "share_gone": "0.5217",
    }
    assert [k["key"] for k in document["kpis"]] == ["mqls", "carr_closed", "mrr"]
    carr = document["kpis"][1]
    assert (carr["value"], carr["previous"], carr["goal"], carr["behind_by"]) == (
        "168000.00",
        "150000.00",
        "450000.00",
        "66782.61",
    )
    assert document["sentences"][2] == (
        "CARR Closed (this quarter) is furthest behind its goal: 37.3 % of its goal with "
        "52.2 % of the quarter gone."
    )
    mrr = ffkpi("mrr", "--demo", "--format", "json")
    assert json.loads(mrr.stdout)["mrr"] == document["mrr"]  # the headline is mrr's total


def test_markdown_shows_the_same_document(ffkpi: Ffkpi, review_env: Path) -> None:
    result = ffkpi("review", "--demo", "--output", "review.md")
    assert (result.exit_code, result.stdout) == (0, "review.md\n")
    text = (review_env / "review.md").read_text()
    assert text.startswith("# KPI review 2026-W47 (as of 2026-11-17)\n")
    assert "| CARR Closed (this quarter) | 168000.00 | 150000.00 | 450000.00 | the CRM |" in text
    assert "churn and contraction took 64.0 % of new." in text


def test_outside_text_stays_text_in_markdown(ffkpi: Ffkpi, cli_env: Path) -> None:
    hostile = '<img src=x onerror="alert(1)"> | **bold** [link](http://x)'
    (cli_env / "ffkpi.toml").write_text(
        (ROOT / "config.example.toml").read_text()
        + f"\n[kpis.mqls]\nname = {json.dumps(hostile)}\ngoal = 120\n"
    )
    assert ffkpi("record", "mqls=1", "--week", "2026-W47").exit_code == 0
    text = ffkpi("review", "--demo").stdout
    assert not re.search(r"(?<!\\)<img", text)  # every < escaped: Markdown shows it as text
    assert '\\<img src=x onerror="alert(1)"\\> \\| \\*\\*bold\\*\\* \\[link\\](http://x)' in text


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("--week", "2030-W01"), ExitCode.USAGE, "2030-W01 is not among the weeks"),
        (("--week", "2026-W47", "--as-of", "2026-11-17"), ExitCode.USAGE, "both given"),
    ],
)
def test_bad_input_is_one_line(
    ffkpi: Ffkpi, review_env: Path, args: tuple[str, ...], code: int, says: str
) -> None:
    result = ffkpi("review", "--demo", *args)
    assert result.exit_code == code
    assert says in result.stderr
    assert (result.stdout, len(result.stderr.splitlines())) == ("", 1)
