"""Weekly snapshots and the growth history, through the CLI, on real files."""

import gzip
import hashlib
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import Result

from accounts import CONFIG, CONFIG_WARNING, subscriptions
from conftest import Ffkpi
from ffkpi.errors import ExitCode

# MRR by week: 100.00, then +10 %, then +5 %, then two weeks later +21 % (10 % a week).
WEEKS = [
    ("2026-11-03", "2026-W45", ["10000"]),
    ("2026-11-10", "2026-W46", ["6000", "5000"]),
    ("2026-11-17", "2026-W47", ["6000", "5550"]),
    ("2026-12-01", "2026-W49", ["6000", "5550", "2425.5"]),
]


@pytest.fixture
def workdir(cli_env: Path) -> Path:
    (cli_env / "ffkpi.toml").write_text(CONFIG)
    for as_of, _, amounts in WEEKS:
        (cli_env / f"{as_of}.json").write_text(json.dumps(subscriptions(*amounts)))
    return cli_env


def snapshot(ffkpi: Ffkpi, as_of: str, *extra: str) -> Result:
    return ffkpi("snapshot", "-i", f"{as_of}.json", "--as-of", as_of, *extra)


def take_all(ffkpi: Ffkpi) -> None:
    for as_of, week, _ in WEEKS:
        result = snapshot(ffkpi, as_of)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == f"snapshots/{week}.toml\n"


def test_snapshot_file_holds_the_report_and_each_customers_mrr(ffkpi: Ffkpi, workdir: Path) -> None:
    take_all(ffkpi)
    stored = tomllib.loads((workdir / "snapshots" / "2026-W49.toml").read_text())
    assert stored["schema"] == "ffkpi.snapshot/1"
    assert str(stored["as_of"]) == "2026-12-01"
    assert stored["config_digest"].startswith("sha256:")
    assert stored["ffkpi_version"]
    assert stored["created_at"].tzinfo is not None
    assert (stored["mrr"], stored["arr"]) == ("139.76", "1677.06")
    assert [(t["name"], t["mrr"]) for t in stored["tiers"]] == [
        ("Self-service", "139.76"),
        ("Enterprise", "0.00"),
    ]
    sidecar_name, digest = stored["customers"].split(" sha256:")
    sidecar = (workdir / "snapshots" / sidecar_name).read_bytes()
    assert hashlib.sha256(sidecar).hexdigest() == digest
    customers = json.loads(gzip.decompress(sidecar))
    assert (customers["schema"], customers["currency"]) == ("ffkpi.customers/2", "usd")
    assert customers["tiers"] == ["Self-service", "Enterprise"]
    assert customers["customers"] == {  # per tier, at full precision: not rounded
        "cus_0": ["60.00", "0"],
        "cus_1": ["55.50", "0"],
        "cus_2": ["24.255", "0"],
    }
    assert stored["source"] == "snapshot"
    mode = (workdir / "snapshots" / "2026-W49.toml").stat().st_mode & 0o777
    assert mode == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_history_growth_is_checked_by_hand(ffkpi: Ffkpi, workdir: Path) -> None:
    take_all(ffkpi)
    result = ffkpi("history", "--format", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    history = json.loads(result.stdout)
    assert history["schema"] == "ffkpi.history/1"
    assert history["target"] == "0.1000"
    rows = [
        (w["week"], w["mrr"], w["arr"], w["growth"], w["met_target"], w["next_week_mrr"])
        for w in history["weeks"]
    ]
    assert rows == [
        ("2026-W45", "100.00", "1200.00", None, None, "110.00"),
        ("2026-W46", "110.00", "1320.00", "0.1000", True, "121.00"),
        ("2026-W47", "115.50", "1386.00", "0.0500", False, "127.05"),
        # Two weeks: sqrt(139.76 / 115.50) - 1 = 0.10002
        ("2026-W49", "139.76", "1677.06", "0.1000", True, "153.74"),
    ]


def test_history_table_and_chart(ffkpi: Ffkpi, workdir: Path) -> None:
    take_all(ffkpi)
    result = ffkpi("history", "--weeks", "2")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "MRR week over week (USD) (target 10.00 % a week)"
    assert lines[5].split() == [
        "2026-W47",
        "2026-11-17",
        "115.50",
        "1,386.00",
        "5.00",
        "%",
        "no",
        "127.05",
    ]
    assert lines[6].split()[4:7] == ["10.00", "%", "yes"]
    assert "MRR (USD) against the 10.00 % weekly target\n" in result.stdout
    assert "│ needed: the week before + 10.00 %" in result.stdout
    assert "2026-W45" not in result.stdout
    no_chart = ffkpi("history", "--no-chart")
    assert "weekly target\n" not in no_chart.stdout


def test_history_by_tier_and_csv(ffkpi: Ffkpi, workdir: Path) -> None:
    take_all(ffkpi)
    result = ffkpi("history", "--by-tier", "--format", "csv", "--weeks", "1")
    assert result.exit_code == 0
    rows = [",".join(line.split(",")[:11]) for line in result.stdout.splitlines()]
    assert rows == [
        "scope,week,as_of,mrr,arr,growth,met_target,next_week_mrr,config_changed,currency,source",
        "total,2026-W49,2026-12-01,139.76,1677.06,0.1000,true,153.74,false,usd,snapshot",
        "Self-service,2026-W49,2026-12-01,139.76,1677.06,0.1000,true,153.74,false,usd,snapshot",
        "Enterprise,2026-W49,2026-12-01,0.00,0.00,,,0.00,false,usd,snapshot",
    ]
    assert result.stdout.splitlines()[0].split(",")[11:13] == ["customers", "arpa"]


def test_snapshots_made_with_another_config_are_marked(ffkpi: Ffkpi, workdir: Path) -> None:
    take_all(ffkpi)
    (workdir / "ffkpi.toml").write_text(CONFIG.replace('rule = "net"', 'rule = "list_price"', 1))
    result = ffkpi("history", "--format", "json")
    assert all(week["config_changed"] for week in json.loads(result.stdout)["weeks"])
    table = ffkpi("history", "--no-chart")
    assert "2026-W45*" in table.stdout
    assert "* made under another MRR definition than today's, its read not kept" in table.stdout


def test_existing_week_is_left_untouched_and_exits_0(ffkpi: Ffkpi, workdir: Path) -> None:
    take_all(ffkpi)
    path = workdir / "snapshots" / "2026-W47.toml"
    before = path.read_bytes()
    (workdir / "changed.json").write_text(json.dumps(subscriptions("99900")))
    result = ffkpi("snapshot", "-i", "changed.json", "--as-of", "2026-11-18")
    assert (result.exit_code, result.stdout) == (0, "snapshots/2026-W47.toml\n")
    assert result.stderr == CONFIG_WARNING + (
        "ffkpi: 2026-W47 already has a snapshot, left untouched (pass --force to replace it)\n"
    )
    assert path.read_bytes() == before


def test_force_replaces_the_week(ffkpi: Ffkpi, workdir: Path) -> None:
    take_all(ffkpi)
    (workdir / "changed.json").write_text(json.dumps(subscriptions("99900")))
    result = ffkpi("snapshot", "-i", "changed.json", "--as-of", "2026-11-18", "--force")
    assert (result.exit_code, result.stderr) == (0, CONFIG_WARNING)
    stored = tomllib.loads((workdir / "snapshots" / "2026-W47.toml").read_text())
    assert (stored["mrr"], str(stored["as_of"])) == ("999.00", "2026-11-18")
    week = sorted(p.name for p in (workdir / "snapshots").iterdir() if "W47" in p.name)
    assert len(week) == 2
    assert week[0].startswith("2026-W47.customers.")
    assert week[1] == "2026-W47.toml"
    assert stored["customers"].startswith(week[0] + " sha256:")


def test_json_format_prints_the_report_too(ffkpi: Ffkpi, workdir: Path) -> None:
    result = snapshot(ffkpi, "2026-11-03", "--format", "json")
    document = json.loads(result.stdout)
    assert document["schema"] == "ffkpi.report/1"
    assert document["mrr"] == "100.00"
    assert document["snapshot"] == {"path": "snapshots/2026-W45.toml", "written": True}


def test_folder_from_the_config_is_relative_to_the_config_file(ffkpi: Ffkpi, workdir: Path) -> None:
    (workdir / "conf").mkdir()
    (workdir / "conf" / "ffkpi.toml").write_text('snapshots_dir = "kpi"\n' + CONFIG)
    result = ffkpi(
        "snapshot",
        "-c",
        "conf/ffkpi.toml",
        "-i",
        "2026-11-03.json",
        "--as-of",
        "2026-11-03",
    )
    assert result.stdout == "conf/kpi/2026-W45.toml\n"
    history = ffkpi("history", "-c", "conf/ffkpi.toml", "-f", "json")
    assert [w["week"] for w in json.loads(history.stdout)["weeks"]] == ["2026-W45"]


def test_failure_before_the_write_leaves_nothing(ffkpi: Ffkpi, workdir: Path) -> None:
    take_all(ffkpi)
    before = {p.name: p.read_bytes() for p in (workdir / "snapshots").iterdir()}
    (workdir / "broken.json").write_text('{"object": "list", "data": [{"id": "sub_x"}]}')
    result = ffkpi("snapshot", "-i", "broken.json", "--as-of", "2026-12-08")
    assert (result.exit_code, result.stdout) == (ExitCode.INVALID, "")
    assert {p.name: p.read_bytes() for p in (workdir / "snapshots").iterdir()} == before


def test_corrupt_and_foreign_files_are_skipped_by_name(ffkpi: Ffkpi, workdir: Path) -> None:
    take_all(ffkpi)
    folder = workdir / "snapshots"
    (folder / "2026-W50.toml").write_text("mrr = [unterminated\n")
    (folder / "notes.toml").write_text('title = "not a snapshot"\n')
    (folder / "2027-W01.toml").write_text('schema = "ffkpi.snapshot/9"\n')
    result = ffkpi("history", "-f", "json")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)["weeks"]) == 4
    assert result.stderr.splitlines() == [
        "ffkpi: warning: skipped snapshots/2026-W50.toml: not readable TOML: "
        "Invalid value (at line 1, column 8)",
        "ffkpi: warning: skipped snapshots/2027-W01.toml: unknown schema 'ffkpi.snapshot/9'",
        "ffkpi: warning: skipped snapshots/notes.toml: not an ffkpi snapshot",
    ]
    strict = ffkpi("history", "--strict")
    assert (strict.exit_code, strict.stdout) == (ExitCode.STORAGE, "")
    assert strict.stderr.startswith(
        "ffkpi: error: snapshots/2026-W50.toml is not a readable snapshot"
    )


def test_history_without_snapshots(ffkpi: Ffkpi, workdir: Path) -> None:
    missing = ffkpi("history")
    assert (missing.exit_code, missing.stdout) == (ExitCode.STORAGE, "")
    assert missing.stderr == (
        "ffkpi: error: snapshot folder snapshots does not exist "
        "(run `ffkpi snapshot` first, or pass --dir)\n"
    )
    (workdir / "snapshots").mkdir()
    empty = ffkpi("history")
    assert (empty.exit_code, empty.stdout) == (0, "")
    assert "no snapshots in snapshots yet" in empty.stderr


def _mount(target: Path, options: str) -> Iterator[Path]:
    target.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.fixture
def read_only_dir(workdir: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        folder = workdir / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    else:  # root writes through permissions; a read-only mount stops it
        yield from _mount(workdir / "ro", "ro,size=64k")


@pytest.fixture
def full_dir(workdir: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("filling a disk needs a tmpfs mount, which needs root")
    yield from _mount(workdir / "full", "size=12k")  # the lock, a sidecar and a TOML file


def test_read_only_folder_exits_6(ffkpi: Ffkpi, read_only_dir: Path) -> None:
    result = snapshot(ffkpi, "2026-11-03", "--dir", str(read_only_dir))
    assert (result.exit_code, result.stdout) == (ExitCode.STORAGE, "")
    assert result.stderr.startswith(
        f"{CONFIG_WARNING}ffkpi: error: cannot write the snapshot {read_only_dir}/2026-W45.toml: "
    )
    assert "(check the folder exists, is writable and has space, or pass --dir)" in result.stderr


def test_every_failure_to_write_a_snapshot_gives_the_same_advice(
    ffkpi: Ffkpi, workdir: Path, read_only_dir: Path
) -> None:
    """Whether the folder cannot be made, locked or written in, one wording says so."""
    (workdir / "a-file").write_text("")
    not_a_folder = snapshot(ffkpi, "2026-11-03", "--dir", "a-file/snapshots")
    read_only = snapshot(ffkpi, "2026-11-03", "--dir", str(read_only_dir))
    for result, folder in ((not_a_folder, "a-file/snapshots"), (read_only, str(read_only_dir))):
        assert (result.exit_code, result.stdout) == (ExitCode.STORAGE, "")
        assert result.stderr.startswith(
            f"{CONFIG_WARNING}ffkpi: error: cannot write the snapshot {folder}/2026-W45.toml: "
        )
        assert result.stderr.endswith(
            "(check the folder exists, is writable and has space, or pass --dir)\n"
        )


def test_full_disk_exits_6_and_leaves_no_partial_file(
    ffkpi: Ffkpi, workdir: Path, full_dir: Path
) -> None:
    big = json.dumps(subscriptions(*["1000"] * 3000))
    (workdir / "big.json").write_text(big)
    result = ffkpi("snapshot", "-i", "big.json", "--as-of", "2026-11-03", "--dir", str(full_dir))
    assert result.exit_code == ExitCode.STORAGE
    assert "No space left on device" in result.stderr
    assert sorted(p.name for p in full_dir.iterdir()) == [".ffkpi.lock"]


def test_two_concurrent_runs_leave_one_whole_file(workdir: Path) -> None:
    (workdir / "big.json").write_text(json.dumps(subscriptions(*["1234"] * 2000)))
    command = [sys.executable, "-m", "ffkpi", "snapshot", "-i", "big.json", "--as-of"]
    runs = [
        subprocess.Popen(
            [*command, "2026-11-03"], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outcomes = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert [out for out, _ in outcomes] == [b"snapshots/2026-W45.toml\n"] * 2
    notes = [err for _, err in outcomes if err != CONFIG_WARNING.encode()]
    assert len(notes) == 1
    assert b"already has a snapshot" in notes[0]
    stored = tomllib.loads((workdir / "snapshots" / "2026-W45.toml").read_text())
    assert stored["mrr"] == "24680.00"
    names = sorted(p.name for p in (workdir / "snapshots").iterdir())
    assert names[0] == ".ffkpi.lock"
    assert names[1].startswith("2026-W45.customers.")
    assert names[2] == "2026-W45.toml"
    assert len(names) == 3


def test_failed_force_leaves_the_earlier_snapshot_whole(
    ffkpi: Ffkpi, workdir: Path, full_dir: Path
) -> None:
    first = snapshot(ffkpi, "2026-11-03", "--dir", str(full_dir))
    assert first.exit_code == 0
    before = {p.name: p.read_bytes() for p in full_dir.iterdir()}
    (workdir / "big.json").write_text(json.dumps(subscriptions(*["1000"] * 3000)))
    result = ffkpi(
        "snapshot",
        "-i",
        "big.json",
        "--as-of",
        "2026-11-03",
        "--dir",
        str(full_dir),
        "--force",
    )
    assert result.exit_code == ExitCode.STORAGE
    assert {p.name: p.read_bytes() for p in full_dir.iterdir()} == before
    stored = tomllib.loads((full_dir / "2026-W45.toml").read_text())
    name, digest = stored["customers"].split(" sha256:")
    assert hashlib.sha256((full_dir / name).read_bytes()).hexdigest() == digest
