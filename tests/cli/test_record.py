"""`ffkpi record`: the review's other KPIs, by hand, by their commands, from a CSV."""

import os
import signal
import subprocess
import sys
import time
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
    assert refused.stderr.startswith(
        f"ffkpi: error: {bad}: nothing recorded, 1 bad row: row 3: mqls of 2026-W42: 'lots'"
    )
    assert not (kpi_env / "snapshots" / "kpis" / "2026-W41.toml").exists()


FULLWIDTH = "\uff12\uff10\uff12\uff16"  # 2026 in fullwidth digits


def test_a_csv_as_a_spreadsheet_exports_it(ffkpi: Ffkpi, kpi_env: Path) -> None:
    """Long or wide, separated thousands read as numbers; every bad row named at once."""
    wide = kpi_env / "wide.csv"
    wide.write_text('week,mqls,carr_closed\n2026-W44,101,"24,000.00"\n2026-W45,,150000\n\n')
    result = ffkpi("record", "--from-csv", str(wide))
    assert result.exit_code == 0, result.stderr
    assert stored(kpi_env, "2026-W44")["carr_closed"]["value"] == "24000.00"
    assert "mqls" not in stored(kpi_env, "2026-W45")  # an empty cell records nothing
    bad = kpi_env / "bad.csv"
    bad.write_text(
        "week,kpi,value\n"
        "2026-W46,carr_closed,168,000\n"  # a comma the sheet did not quote: not 168
        f"{FULLWIDTH}-W46,mqls,5\n"  # fullwidth digits: stored under no week's name
        "2026-W46,mqls,1e1000000\n"
        "2026-W47,mqls,5\n"
        "2026-W47,mqls,6\n"  # twice for one week: which one?
        "2026-W47,MQLs,6\n"
    )
    refused = ffkpi("record", "--from-csv", str(bad))
    assert (refused.exit_code, refused.stdout) == (ExitCode.INVALID, "")
    assert len(refused.stderr.splitlines()) == 1
    for says in (
        "nothing recorded, 5 bad rows",
        "row 2 has 4 fields where the header has 3",
        f"row 3: --week '{FULLWIDTH}-W46' is not a week",
        "row 4: mqls of 2026-W46: '1e1000000' is not a number",
        "row 6: mqls of 2026-W47 is given in row 5 too",
        "row 7: no KPI 'MQLs' in the config",
    ):
        assert says in refused.stderr, says
    assert "(its key is mqls)" not in refused.stderr  # the fix is the CSV's, said once
    assert not (kpi_env / "snapshots" / "kpis" / "2026-W47.toml").exists()


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("mqls=1e1000000", "mqls: '1e1000000' is not a number"),
        ("mqls=1e-1000000", "mqls: '1e-1000000' is not a number"),
        ("MQLs=5", "no KPI 'MQLs' in the config (it defines: mqls, carr_closed, "),
    ],
)
def test_values_that_are_no_number_or_no_key_are_one_line(
    ffkpi: Ffkpi, kpi_env: Path, entry: str, says: str
) -> None:
    result = ffkpi("record", entry, "--week", "2026-W46")
    assert (result.exit_code, result.stdout) == (ExitCode.INVALID, "")
    assert result.stderr.startswith(f"ffkpi: error: {says}")
    assert len(result.stderr.splitlines()) == 1
    if entry.startswith("MQLs"):
        assert result.stderr.endswith("(its key is mqls)\n")


def running(pid: int) -> bool:
    """Whether a process is alive (a zombie, killed and waiting to be reaped, is not)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False
        if "\nState:\tZ" in status:
            return False
        time.sleep(0.05)
    return True


def test_minus_zero_is_recorded_as_zero(ffkpi: Ffkpi, kpi_env: Path) -> None:
    result = ffkpi("record", "mqls=-0", "carr_closed=-0.00", "--week", "2026-W46")
    assert result.stdout == "2026-W46 mqls: 0 (new)\n2026-W46 carr_closed: 0.00 (new)\n"


def test_a_command_that_prints_bytes_or_hangs_with_children_is_named(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    """One command's bytes never lose the others; a timeout ends its whole process group."""
    text = (ROOT / "config.example.toml").read_text()
    (cli_env / "ffkpi.toml").write_text(
        text
        + '\n[kpis.mqls]\nname = "MQLs"\ncommand = "printf \'\\\\377\\\\376 12\'"\n'
        + '\n[kpis.carr_closed]\nname = "CARR"\nunit = "money"\nperiod = "quarter_to_date"\n'
        + 'command = "sleep 30 & echo $! > child.pid; sleep 30"\n'
        + '\n[kpis.nr_active_instances]\nname = "NR"\nperiod = "point"\ncommand = "echo 1500"\n'
    )
    result = ffkpi("record", "--run", "--week", "2026-W46", "--timeout", "1")
    assert result.exit_code == ExitCode.SOME_FAILED
    assert result.stdout == "2026-W46 nr_active_instances: 1500 (new)\n"
    assert "mqls of 2026-W46: its command printed '\ufffd\ufffd 12'" in result.stderr
    assert "carr_closed of 2026-W46: its command ran past 1 s" in result.stderr
    child = int((cli_env / "child.pid").read_text())
    assert not running(child)  # the command's own child was ended with it
    too_long = ffkpi("record", "--run", "--timeout", "3000000")
    assert too_long.exit_code == ExitCode.USAGE
    assert "less than or equal to 86400" in too_long.stderr


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
        "ffkpi: no command or source in the config, so not run: carr_goal",
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


def test_a_sigterm_ends_the_running_command_and_its_children(cli_env: Path) -> None:
    text = (ROOT / "config.example.toml").read_text()
    (cli_env / "ffkpi.toml").write_text(
        text + '\n[kpis.mqls]\nname = "MQLs"\n'
        'command = "sleep 30 & echo $! > child.pid; sleep 30; echo 5"\n'
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "ffkpi", "record", "--run", "--week", "2026-W46"],
        cwd=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    pid_file = cli_env / "child.pid"
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=30)
    assert run.returncode == ExitCode.INTERRUPTED
    assert err.decode() == "ffkpi: error: interrupted; nothing was written\n"
    assert not running(int(pid_file.read_text()))
    assert not (cli_env / "snapshots" / "kpis").exists()


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_values_file_that_is_no_file_is_one_line_never_a_hang(
    ffkpi: Ffkpi, kpi_env: Path, kind: str
) -> None:
    folder = kpi_env / "snapshots" / "kpis"
    folder.mkdir(parents=True)
    path = folder / "2026-W46.toml"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    for args in (("review", "--week", "2026-W46"), ("record", "mqls=1", "--week", "2026-W46")):
        result = ffkpi(*args)
        assert result.exit_code == ExitCode.STORAGE, result.stderr
        assert result.stderr == (
            "ffkpi: error: snapshots/kpis/2026-W46.toml is not a readable file of recorded KPI "
            "values: it is not a regular file (a FIFO, a device or a folder) (restore it from a "
            "backup, or move it away and record the week again)\n"
        )
