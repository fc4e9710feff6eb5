"""A chromium that does not behave: its DevTools pipe answered with garbage, or with a
screenshot that is no PNG, is one line and exit 8, and nothing is written."""

import sys
from pathlib import Path

import pytest

from conftest import Ffkpi
from ffkpi.errors import ExitCode

# A stand-in for chromium: reads DevTools requests on fd 3, answers each on fd 4 with
# what ANSWER makes of its id.
FAKE = """#!{python}
import json, os
buffer = b""
while True:
    chunk = os.read(3, 65536)
    if not chunk:
        break
    buffer += chunk
    while b"\\0" in buffer:
        message, _, buffer = buffer.partition(b"\\0")
        request = json.loads(message)
        if request.get("method") == "Browser.close":
            raise SystemExit
        os.write(4, {answer} + b"\\0")
"""
ANSWERS = {
    "not-json": 'b"this is not json"',
    "a-list": 'b"[1, 2]"',
    "no-fields": 'json.dumps({{"id": request["id"], "result": {{}}}}).encode()',
    "not-a-png": (
        'json.dumps({{"id": request["id"], "result": {{"targetId": "t", "sessionId": "s", '
        '"cssContentSize": {{"height": 10}}, "data": "aGVsbG8="}}}}).encode() + b"\\0" + '
        'json.dumps({{"method": "Page.loadEventFired"}}).encode()'
    ),
}


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_a_chromium_answering_garbage_is_one_line_and_no_file(
    ffkpi: Ffkpi, cli_env: Path, kind: str
) -> None:
    fake = cli_env / "chromium"
    fake.write_text(FAKE.format(python=sys.executable, answer=ANSWERS[kind].format()))
    fake.chmod(0o755)
    result = ffkpi(
        "review", "--demo", "--format", "png", "-o", "review.png", env={"FFKPI_CHROMIUM": str(fake)}
    )
    assert (result.exit_code, result.stdout) == (ExitCode.RENDERER, ""), result.stderr
    assert result.stderr == (
        f"ffkpi: error: {fake} answered with something that is not a DevTools message or a PNG "
        f"(point FFKPI_CHROMIUM at a real chromium, or reinstall it: apt-get install -y "
        "--no-install-recommends chromium)\n"
    )
    assert not (cli_env / "review.png").exists()
