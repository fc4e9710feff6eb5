"""`ffkpi record`: the review's other KPIs, by hand, by their commands, from a CSV."""

import tomllib
from pathlib import Path

import pytest

from conftest import ROOT, Ffkpi
from ffkpi.errors import ExitCode

KPIS = """
[kpis.mqls]
name = "MQLs"
goal = 120
command = "echo 118"

[kpis.carr_closed]
name = "CARR Closed (this quarter)"
unit = "money"
period = "quarter_to_date"
command = "echo 'CRM unreachable' >&2; exit 3"

[kpis.nr_active_instances]
name = "NR Active Instances"
period = "point"
command = "echo 'about 1500'"

[kpis.engineering_throughput]
name = "Engineering throughput"
command = "sleep 5; echo 40"
"""


@pytest.fixture
def kpi_env(cli_env: Path) -> Path:
    text = (ROOT / "config.example.toml").read_text()
    (cli_env / "ffkpi.toml").write_text(text + KPIS)
    return cli_env


def stored(folder: Path, week: str) -> dict[str, dict[str, object]]:
    values: dict[str, dict[str, object]] = tomllib.loads(
        (folder / "snapshots" / "kpis" / f"{week}.toml").read_text()
    )["values"]
    return values


def test_values_by_hand_and_again_say_what_they_replace(ffkpi: Ffkpi, kpi_env: Path) -> None:
    first = ffkpi(
        "record", "mqls=110", "carr_closed=168000.50", "--week", "2026-W46", "--note", "x"
    )
    assert (first.exit_code, first.stderr) == (0, "")
    assert first.stdout == ("2026-W46 mqls: 110 (new)\n2026-W46 carr_closed: 168000.50 (new)\n")
    again = ffkpi("record", "mqls=118", "--week", "2026-W46")
    assert again.stdout == "2026-W46 mqls: 118 (was 110)\n"
    values = stored(kpi_env, "2026-W46")
    assert values["mqls"]["value"] == "118"
    assert values["mqls"]["via"] == "manual"
    assert values["carr_closed"] == {**values["carr_closed"], "value": "168000.50", "note": "x"}
    listing = ffkpi("record", "--list", "--week", "2026-W46")
    assert "  MQLs: 118 (manual, " in listing.stdout
    assert "  NR Active Instances: not recorded\n" in listing.stdout
    # A snapshot folder's history never reads the KPI files as snapshots.
    assert "skipped" not in ffkpi("history").stderr


def test_commands_record_what_they_print_and_name_what_failed(ffkpi: Ffkpi, kpi_env: Path) -> None:
    result = ffkpi("record", "--run", "--week", "2026-W46", "--timeout", "0.5")
    assert result.exit_code == ExitCode.SOME_FAILED
    assert result.stdout == "2026-W46 mqls: 118 (new)\n"
    assert result.stderr.splitlines() == [
        "ffkpi: error: carr_closed of 2026-W46: its command exited 3: CRM unreachable (nothing "
        "recorded for it)",
        "ffkpi: error: nr_active_instances of 2026-W46: its command printed 'about 1500' "
        "(nothing recorded for it)",
        "ffkpi: error: engineering_throughput of 2026-W46: its command ran past 0.5 s (nothing "
        "recorded for it)",
    ]
    assert stored(kpi_env, "2026-W46")["mqls"]["via"] == "command"
    one = ffkpi("record", "--run", "mqls", "--week", "2026-W46")
    assert (one.exit_code, one.stdout) == (0, "2026-W46 mqls: 118 (was 118)\n")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("mrr=5",), ExitCode.USAGE, "mrr is built in: it comes from the snapshots"),
        (("arr=5",), ExitCode.USAGE, "arr is built in"),
        (("nope=5",), ExitCode.INVALID, "no KPI 'nope' in the config"),
        (("mqls=nan",), ExitCode.INVALID, "mqls: 'nan' is not a number"),
        (("mqls=1e400",), ExitCode.INVALID, "mqls: '1e400' is not a number"),
        (("mqls",), ExitCode.USAGE, "'mqls' is not KEY=VALUE"),
        (("mqls=1", "--week", "2999-W01"), ExitCode.USAGE, "--week 2999-W01 has not begun"),
        (("mqls=1", "--week", "2026-W60"), ExitCode.USAGE, "is not a week"),
        ((), ExitCode.USAGE, "no values given"),
        (("mqls=1", "--list"), ExitCode.USAGE, "were mixed"),
    ],
)
def test_what_cannot_be_recorded_is_one_line_and_nothing_written(
    ffkpi: Ffkpi, kpi_env: Path, args: tuple[str, ...], code: int, says: str
) -> None:
    result = ffkpi("record", "mqls=7", "--week", "2026-W40")
    assert result.exit_code == 0
    before = (kpi_env / "snapshots" / "kpis" / "2026-W40.toml").read_bytes()
    result = ffkpi("record", *args)
    assert result.exit_code == code, result.output
    assert says in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""
    assert sorted(p.name for p in (kpi_env / "snapshots" / "kpis").iterdir()) == ["2026-W40.toml"]
    assert (kpi_env / "snapshots" / "kpis" / "2026-W40.toml").read_bytes() == before


def test_a_csv_is_recorded_whole_or_not_at_all(ffkpi: Ffkpi, kpi_env: Path) -> None:
    good = kpi_env / "past.csv"
    good.write_text(
        "week,kpi,value,note\n2026-W44,mqls,101,from the sheet\n2026-W45,mqls,99,\n"
        "2026-W45,carr_closed,150000,\n"
    )
    result = ffkpi("record", "--from-csv", str(good))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("(new)") == 3
    assert stored(kpi_env, "2026-W44")["mqls"] == {
        **stored(kpi_env, "2026-W44")["mqls"],
        "value": "101",
        "via": "csv",
        "note": "from the sheet",
    }
    bad = kpi_env / "bad.csv"
    bad.write_text("week,kpi,value,note\n2026-W41,mqls,5,\n2026-W42,mqls,lots,\n")
    refused = ffkpi("record", "--from-csv", str(bad))
    assert refused.exit_code == ExitCode.INVALID
    assert refused.stderr.startswith(f"ffkpi: error: {bad}, row 3: mqls of 2026-W42: 'lots'")
    assert not (kpi_env / "snapshots" / "kpis" / "2026-W41.toml").exists()


def test_a_corrupt_week_file_is_named_and_left_as_it_is(ffkpi: Ffkpi, kpi_env: Path) -> None:
    folder = kpi_env / "snapshots" / "kpis"
    folder.mkdir(parents=True)
    (folder / "2026-W46.toml").write_text('schema = "someone.else/3"\n')
    result = ffkpi("record", "mqls=1", "--week", "2026-W46")
    assert result.exit_code == ExitCode.STORAGE
    assert "2026-W46.toml is not a readable file of recorded KPI values" in result.stderr
    assert (folder / "2026-W46.toml").read_text() == 'schema = "someone.else/3"\n'


def test_the_docs_show_record_literally(ffkpi: Ffkpi, kpi_env: Path) -> None:
    args = ("mqls=118", "carr_closed=168000", "--week", "2026-W47", "--note", "Q4 pipeline review")
    result = ffkpi("record", *args)
    assert result.exit_code == 0, result.stderr
    page = (ROOT / "docs" / "commands.md").read_text()
    command = 'ffkpi record mqls=118 carr_closed=168000 --week 2026-W47 --note "Q4 pipeline review"'
    assert f"$ {command}\n{result.stdout}$ " in page


WINDOWS = """
[kpis.engineering_throughput]
name = "Engineering throughput"
command = "echo $FFKPI_WEEK $FFKPI_AS_OF $FFKPI_SINCE $FFKPI_UNTIL >> windows.txt; echo 40"

[kpis.carr_closed]
name = "CARR Closed (this quarter)"
unit = "money"
period = "quarter_to_date"
command = '''echo $FFKPI_KPI $FFKPI_QUARTER $FFKPI_QUARTER_START $FFKPI_QUARTER_END \\
  $FFKPI_SINCE $FFKPI_UNTIL >> windows.txt; case $FFKPI_WEEK in 2026-W46) exit 4;; esac
echo 168000'''

[kpis.carr_goal]
name = "CARR Goal"
unit = "money"
period = "quarter"
"""


def test_commands_get_their_windows_for_past_weeks_on_any_day(
    ffkpi: Ffkpi, cli_env: Path, clock: object
) -> None:
    """review-rules: a week flow is the seven days before the as-of day; the quarter's
    total runs from its first day; past weeks come from --since, on the weekday of the
    folder's snapshots, whatever day the command runs."""
    text = (ROOT / "config.example.toml").read_text()
    (cli_env / "ffkpi.toml").write_text(text + WINDOWS)
    assert ffkpi("snapshot", "--demo").exit_code == 0  # 2026-W47, as of Tuesday 2026-11-17
    result = ffkpi("record", "--run", "--since", "2026-11-10", "--until", "2026-11-24")
    assert result.exit_code == ExitCode.SOME_FAILED
    assert result.stderr.splitlines() == [
        "ffkpi: no command in the config, so not run: carr_goal",
        "ffkpi: error: carr_closed of 2026-W46: its command exited 4: no output (nothing "
        "recorded for it)",
    ]
    assert (cli_env / "windows.txt").read_text().splitlines() == [
        "2026-W46 2026-11-10 2026-11-03 2026-11-09",
        "carr_closed 2026-Q4 2026-10-01 2026-12-31 2026-10-01 2026-11-10",
        "2026-W47 2026-11-17 2026-11-10 2026-11-16",
        "carr_closed 2026-Q4 2026-10-01 2026-12-31 2026-10-01 2026-11-17",
        "2026-W48 2026-11-24 2026-11-17 2026-11-23",
        "carr_closed 2026-Q4 2026-10-01 2026-12-31 2026-10-01 2026-11-24",
    ]
    assert sorted(stored(cli_env, "2026-W47")) == ["carr_closed", "engineering_throughput"]
    assert sorted(stored(cli_env, "2026-W46")) == ["engineering_throughput"]  # the rest kept
