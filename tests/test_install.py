"""The README's install and schedule, as a user follows them: the built wheel installed
as a tool, run from a folder outside the checkout by its absolute path, with the key and
the webhook in a 0600 file, exactly as the README's crontab line runs it."""

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import ROOT, Slack
from fake_stripe import SECRET_KEY, FakeStripe


def cron_line() -> str:
    """The command of the README's crontab line (after its five time fields)."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```cron\n(.+?)\n```", readme, re.S)
    assert block is not None, "the README shows no crontab line"
    fields = block[1].split(None, 5)
    assert fields[:5] == ["0", "6", "*", "*", "2"]  # Tuesday, 06:00
    return fields[5]


def run(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=300, **kw)  # type: ignore[call-overload]


@pytest.mark.slow
def test_the_installed_command_runs_the_weekly_job_from_cron(
    tmp_path: Path, start_fake: Callable[..., tuple[FakeStripe, str]], slack: str
) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed: CI installs it")
    home, srv = tmp_path / "home" / "kpi", tmp_path / "srv" / "kpi"
    home.mkdir(parents=True)
    srv.mkdir(parents=True)
    built = run([uv, "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(ROOT)])
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("ffkpi-*.whl"))
    tools = {
        "PATH": f"{Path(uv).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "UV_TOOL_DIR": str(home / ".local" / "share" / "uv" / "tools"),
        "UV_TOOL_BIN_DIR": str(home / ".local" / "bin"),
        "UV_CACHE_DIR": run([uv, "cache", "dir"]).stdout.strip(),
    }
    # The install as the user makes it, in their own environment (its proxy and CA
    # settings reach the package index), but into this test's home.
    own = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    installed = run([uv, "tool", "install", str(wheel)], env={**own, **tools}, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    ffkpi = home / ".local" / "bin" / "ffkpi"

    # Cron's world: a bare PATH without uv, a folder outside the checkout.
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(home), "NO_COLOR": "1"}
    version = run([str(ffkpi), "--version"], env=bare, cwd=srv)
    assert (version.returncode, version.stdout) == (0, "ffkpi 0.1.0\n")
    demo = run([str(ffkpi), "mrr", "--demo"], env=bare, cwd=srv)
    assert demo.returncode == 0, demo.stderr
    assert re.search(r"Total\s+100,266\.13\s+1,203,193\.60", demo.stdout)

    _, url = start_fake()
    (srv / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
    secrets = srv / "ffkpi.env"
    secrets.write_text(
        f"STRIPE_API_KEY={SECRET_KEY}\nFFKPI_SLACK_WEBHOOK={slack}\nSTRIPE_API_BASE={url}\n"
    )
    secrets.chmod(0o600)
    line = cron_line().replace("/srv/kpi", str(srv)).replace("/home/kpi", str(home))
    assert "STRIPE_API_KEY" not in line
    assert "hooks.slack.com" not in line
    done = run(["/bin/sh", "-c", line], env=bare, cwd="/")
    log = (home / "ffkpi.log").read_text()
    assert done.returncode == 0, log
    assert re.findall(r"weekly (\w+):", log) == ["read", "snapshot", "kpis", "review", "post"]
    assert len(Slack.received) == 1
    assert SECRET_KEY not in log
    assert "secret-token" not in log
    assert list((srv / "snapshots").glob("*-W*.toml"))
    # The same line again, as a retry: nothing posted twice.
    again = run(["/bin/sh", "-c", line], env=bare, cwd="/")
    assert again.returncode == 0
    assert len(Slack.received) == 1
    assert os.stat(secrets).st_mode & 0o077 == 0
