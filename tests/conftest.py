from pathlib import Path

import pytest
from typer.testing import CliRunner

from ffkpi.config import ENV_CONFIG

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean place to run ffkpi: no key, no config, no colour, a fixed width."""
    for name in ("STRIPE_API_KEY", ENV_CONFIG, "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def runner(cli_env: Path) -> CliRunner:
    return CliRunner()
