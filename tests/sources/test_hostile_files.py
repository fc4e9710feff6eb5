"""Hostile and unlucky files: bundles, temp files, locks and snapshot folders.

Nothing half-written is left, customer data is not handed to other users, an existing
file is replaced only when asked, a hung run never blocks the next one for ever.
"""

import contextlib
import fcntl
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts import CONFIG, CONFIG_WARNING, subscriptions
from conftest import Ffkpi
from fake_stripe import SECRET_KEY, FakeStripe
from ffkpi.errors import ExitCode, StorageError
from ffkpi.storage.files import LOCK_NAME, folder_lock


@pytest.fixture
def live(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STRIPE_API_KEY", SECRET_KEY)
    os.umask(0o022)
    return cli_env


FETCH = ["fetch", "-q", "--max-rps", "500"]


class TestBundles:
    """Item 8: bundles hold customer data; an existing file is replaced only when asked."""

    def test_a_bundle_is_readable_by_its_owner_alone(
        self, ffkpi: Ffkpi, live: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
    ) -> None:
        _, url = start_fake()
        result = ffkpi(*FETCH, "-o", "bundle.json", "--api-base", url)
        assert result.exit_code == 0, result.stderr
        assert stat.S_IMODE((live / "bundle.json").stat().st_mode) == 0o600

    def test_an_existing_file_is_kept_without_force(
        self, ffkpi: Ffkpi, live: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
    ) -> None:
        _, url = start_fake()
        (live / "ffkpi.toml").write_text("# my config\n")
        result = ffkpi(*FETCH, "-o", "ffkpi.toml", "--api-base", url)
        assert (result.exit_code, result.stdout) == (ExitCode.USAGE, "")
        assert result.stderr.endswith(
            "ffkpi: error: ffkpi.toml already exists (pass --force to replace it, or --output)\n"
        )
        assert (live / "ffkpi.toml").read_text() == "# my config\n"
        forced = ffkpi(*FETCH, "-o", "ffkpi.toml", "--api-base", url, "--force")
        assert forced.exit_code == 0

    def test_a_link_or_device_is_never_renamed_over(
        self, ffkpi: Ffkpi, live: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
    ) -> None:
        _, url = start_fake()
        (live / "target.json").write_text("{}")
        (live / "link.json").symlink_to("target.json")
        result = ffkpi(*FETCH, "-o", "link.json", "--api-base", url, "--force")
        assert (result.exit_code, result.stdout) == (ExitCode.STORAGE, "")
        assert result.stderr.endswith(
            "ffkpi: error: link.json exists and is not a regular file (a link, a device or a "
            "folder) (write to another path)\n"
        )
        assert (live / "link.json").is_symlink()
        assert (live / "target.json").read_text() == "{}"
        assert not list(live.glob(".link.json*"))


def dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temp_files_of_a_killed_run_are_removed_by_the_next(ffkpi: Ffkpi, cli_env: Path) -> None:
    """Item 9: a run killed mid-write leaves its temp file; the next run removes it."""
    (cli_env / "ffkpi.toml").write_text(CONFIG)
    (cli_env / "subs.json").write_text(json.dumps(subscriptions("1000")))
    folder = cli_env / "snapshots"
    folder.mkdir()
    stale = folder / f".2026-W44.toml.ffkpi-{dead_pid()}.k3j4.tmp"
    stale.write_text("half a snapshot")
    running = folder / f".2026-W44.toml.ffkpi-{os.getppid()}.a1b2.tmp"  # a live writer's
    running.write_text("being written")
    mine = folder / "notes.tmp"
    mine.write_text("not ffkpi's")
    result = ffkpi("snapshot", "-i", "subs.json", "--as-of", "2026-11-03")
    assert result.exit_code == 0, result.stderr
    assert not stale.exists()
    assert running.exists()
    assert mine.exists()


class TestTheLock:
    """Item 10: a hung run is waited for a while, not for ever; odd lock files work."""

    @pytest.fixture
    def folder(self, cli_env: Path) -> Path:
        (cli_env / "ffkpi.toml").write_text(CONFIG)
        (cli_env / "subs.json").write_text(json.dumps(subscriptions("1000")))
        folder = cli_env / "snapshots"
        folder.mkdir()
        return folder

    def test_a_held_lock_is_waited_for_then_named_with_its_holder(
        self, ffkpi: Ffkpi, folder: Path
    ) -> None:
        with (folder / LOCK_NAME).open("a+b") as held:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX)
            held.write(b"4242\n")
            held.flush()
            result = ffkpi(
                "snapshot", "-i", "subs.json", "--as-of", "2026-11-03", "--lock-timeout", "0.5"
            )
        assert (result.exit_code, result.stdout) == (ExitCode.STORAGE, "")
        assert result.stderr == CONFIG_WARNING + (
            f"ffkpi: error: snapshots/{LOCK_NAME} is held by another ffkpi run (process 4242) "
            "and was not released within 0.5 s (wait for that run to finish or stop it, or "
            "pass --lock-timeout SECONDS)\n"
        )
        assert not list(folder.glob("*.toml"))

    def test_a_lock_file_this_user_cannot_write_still_locks(
        self, folder: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        lock = folder / LOCK_NAME
        lock.write_text("")
        opened: list[str] = []
        real_open = Path.open

        def open_as_another_user(path: Path, mode: str = "r", *args: Any) -> Any:
            if path == lock and mode != "rb":
                raise PermissionError(13, "Permission denied")
            opened.append(mode)
            return real_open(path, mode, *args)

        monkeypatch.setattr(Path, "open", open_as_another_user)
        with (
            folder_lock(folder, timeout=1),
            lock.open("rb") as other,
            pytest.raises(BlockingIOError),
        ):
            fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # really locked
        assert opened[0] == "rb"

    def test_a_lock_path_that_is_a_folder_is_named(self, folder: Path) -> None:
        (folder / LOCK_NAME).mkdir()
        with (
            pytest.raises(StorageError, match=rf"snapshots/\{LOCK_NAME} is a folder"),
            folder_lock(folder, timeout=1),
        ):
            pass

    def test_a_read_only_folder_with_the_weeks_snapshot_exits_0(
        self, ffkpi: Ffkpi, folder: Path
    ) -> None:
        assert snapshot_at(ffkpi, "2026-11-03").exit_code == 0
        with read_only(folder):
            again = snapshot_at(ffkpi, "2026-11-03")
        assert (again.exit_code, again.stdout) == (0, "snapshots/2026-W45.toml\n")
        assert "already has a snapshot" in again.stderr


def snapshot_at(ffkpi: Ffkpi, as_of: str) -> Any:
    return ffkpi("snapshot", "-i", "subs.json", "--as-of", as_of)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` read-only: by a read-only bind mount as root (who writes through
    permissions), by its mode otherwise."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)], check=True)
        try:
            yield
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=False)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


class TestSidecars:
    """Item 11: a customer file gone, altered or replaced is named; --strict fails."""

    @pytest.fixture
    def weeks(self, ffkpi: Ffkpi, cli_env: Path) -> Path:
        (cli_env / "ffkpi.toml").write_text(CONFIG)
        for as_of, amount in (("2026-11-03", "1000"), ("2026-11-10", "2000")):
            (cli_env / "subs.json").write_text(json.dumps(subscriptions(amount)))
            assert snapshot_at(ffkpi, as_of).exit_code == 0
        return cli_env / "snapshots"

    @pytest.mark.parametrize("harm", ["corrupted", "replaced", "deleted"])
    def test_a_damaged_customer_file_is_named(self, ffkpi: Ffkpi, weeks: Path, harm: str) -> None:
        first, second = sorted(weeks.glob("*.customers.*.json.gz"))
        if harm == "corrupted":
            first.write_bytes(first.read_bytes()[:-3] + b"xyz")
        elif harm == "replaced":
            first.write_bytes(second.read_bytes())
        else:
            first.unlink()
        result = ffkpi("history", "-f", "json")
        assert result.exit_code == 0
        assert len(json.loads(result.stdout)["weeks"]) == 2  # the totals are still shown
        reason = (
            f"its customer file {first.name} is missing"
            if harm == "deleted"
            else f"its customer file {first.name} does not match its SHA-256 (altered or replaced)"
        )
        assert result.stderr == (
            f"ffkpi: warning: snapshots/2026-W45.toml: {reason} (its totals are shown)\n"
        )
        strict = ffkpi("history", "--strict")
        assert (strict.exit_code, strict.stdout) == (ExitCode.STORAGE, "")
        assert strict.stderr.startswith(f"ffkpi: error: snapshots/2026-W45.toml: {reason} (")


@pytest.mark.parametrize(
    ("week", "reason"),
    [
        ("garbage", "week 'garbage' is not the ISO week of as_of 2026-11-03"),
        ("2026-W99", "week '2026-W99' is not the ISO week of as_of 2026-11-03"),
    ],
)
def test_a_snapshot_with_a_malformed_week_is_skipped_by_name(
    ffkpi: Ffkpi, cli_env: Path, week: str, reason: str
) -> None:
    """Item 12."""
    (cli_env / "ffkpi.toml").write_text(CONFIG)
    (cli_env / "subs.json").write_text(json.dumps(subscriptions("1000")))
    assert snapshot_at(ffkpi, "2026-11-10").exit_code == 0
    good = cli_env / "snapshots" / "2026-W46.toml"
    bad = cli_env / "snapshots" / "2026-W45.toml"
    text = good.read_text().replace('week = "2026-W46"', f'week = "{week}"')
    bad.write_text(text.replace("as_of = 2026-11-10", "as_of = 2026-11-03"))
    result = ffkpi("history", "--no-chart")
    assert result.exit_code == 0
    assert "2026-W46" in result.stdout
    assert result.stderr == f"ffkpi: warning: skipped snapshots/2026-W45.toml: {reason}\n"
