import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import settings
from typer.testing import CliRunner, Result

from fake_stripe import FakeStripe
from ffkpi.cli import app
from ffkpi.storage.config_file import ENV_CONFIG

ROOT = Path(__file__).resolve().parents[1]
# The quick run for the edit-test loop, `uv run pytest -m "not slow"`, also tries fewer
# examples of each property; `uv run pytest` (and CI) runs everything, as many as set.
settings.register_profile("quick", max_examples=10, deadline=None)


def pytest_configure(config: pytest.Config) -> None:
    if "not slow" in (config.option.markexpr or ""):
        settings.load_profile("quick")


DEMO = json.loads(gzip.decompress((ROOT / "src/ffkpi/data/demo.json.gz").read_bytes()))


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


Ffkpi = Callable[..., Result]


@pytest.fixture
def ffkpi(cli_env: Path) -> Ffkpi:
    """Runs `ffkpi ARGS...` in cli_env's clean place: the result has the exit code,
    stdout and stderr apart. `env` sets variables for that one run."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), env=env)

    return run


@pytest.fixture
def start_fake() -> Iterator[Callable[..., tuple[FakeStripe, str]]]:
    """Starts fake Stripes on 127.0.0.1 (the demo account unless told) and stops them."""
    fakes: list[FakeStripe] = []

    def start(bundle: dict[str, Any] = DEMO, **options: Any) -> tuple[FakeStripe, str]:
        fake = FakeStripe(bundle, **options)
        fakes.append(fake)
        return fake, fake.start()

    yield start
    for fake in fakes:
        fake.stop()


# Two clocks for every test that touches dates: no figure may change with the day a
# command runs (a Monday in one quarter, a Sunday in the next).
CLOCKS = [datetime(2026, 12, 7, 6, 0, tzinfo=UTC), datetime(2027, 1, 3, 23, 30, tzinfo=UTC)]


@pytest.fixture(params=CLOCKS, ids=["monday-2026-q4", "sunday-2027-q1"])
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The instant every command of the test runs at."""
    at: datetime = request.param
    monkeypatch.setattr("ffkpi.clock.now", lambda: at)
    return at


class Slack(BaseHTTPRequestHandler):
    """An incoming webhook on 127.0.0.1: keeps what it is sent; answers `status` (a 3xx
    with a Location to a page that answers GET with 200), its body a byte every `trickle`
    seconds if set."""

    received: ClassVar[list[bytes]] = []
    status: ClassVar[int] = 200
    trickle: ClassVar[float] = 0.0

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(self.rfile.read(length))
        self.send_response(type(self).status)
        if 300 <= type(self).status < 400:
            self.send_header("Location", "/elsewhere")
        self.end_headers()
        if type(self).trickle:
            for byte in b"ok" * 50:
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:  # the client gave up: so does the server
                    return
                time.sleep(type(self).trickle)
        else:
            self.wfile.write(b"ok")

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slack() -> Iterator[str]:
    Slack.received, Slack.status, Slack.trickle = [], 200, 0.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slack)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/secret-token"
    server.shutdown()
    server.server_close()
