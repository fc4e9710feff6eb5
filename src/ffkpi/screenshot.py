"""A page as a PNG, taken by a headless chromium on this machine. I/O.

The browser is driven over its DevTools pipe (`--remote-debugging-pipe`: JSON messages
on file descriptors 3 and 4, each ending in a NUL byte), so the image is exactly as
tall as the page, from a page loaded from a temporary file with nothing else to fetch.
The chromium is the system's (`FFKPI_CHROMIUM`, or `chromium`, `chromium-browser` or
`google-chrome` on PATH): nothing is downloaded, and no Python package is needed.
"""

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ffkpi.errors import RendererError

ENV_CHROMIUM = "FFKPI_CHROMIUM"
NAMES = ("chromium", "chromium-browser", "google-chrome")
INSTALL = "apt-get install -y --no-install-recommends chromium"
TIMEOUT = 60.0  # seconds for the whole screenshot
WIDTH = 1280  # CSS pixels: the page as a laptop shows it


def find_chromium() -> str:
    """The chromium to use, or one line naming the install step."""
    chosen = os.environ.get(ENV_CHROMIUM)
    if chosen:
        if shutil.which(chosen) is None:
            raise RendererError(
                f"{ENV_CHROMIUM} names no program that can run",
                f"point it at a chromium, or unset it and install one: {INSTALL}",
            )
        return chosen
    for name in NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise RendererError(
        "--format png needs a headless chromium, and none is installed",
        f"install one ({INSTALL}), or set {ENV_CHROMIUM}; html, markdown and slack need none",
    )


def png_of(html: str, width: int = WIDTH, timeout: float = TIMEOUT) -> bytes:
    """`html` rendered `width` CSS pixels wide, as tall as the page."""
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="ffkpi-png-", ignore_cleanup_errors=True) as folder:
        page = Path(folder) / "page.html"
        page.write_text(html, encoding="utf-8")
        ours, chrome_in = os.pipe()  # we read what chromium writes on its fd 4
        chrome_out, theirs = os.pipe()  # chromium reads what we write on its fd 3
        args = [
            chromium,
            "--headless",
            "--remote-debugging-pipe",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={Path(folder) / 'profile'}",
            f"--window-size={width},800",
            "about:blank",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # chromium refuses to start as root otherwise

        def plumb() -> None:  # in the child: the pipe on the descriptors chromium expects
            reads, writes = os.dup(chrome_out), os.dup(chrome_in)  # above 4: never clobbered
            os.dup2(reads, 3)
            os.dup2(writes, 4)

        try:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=plumb,  # noqa: PLW1509 - dup2 only, before exec
                close_fds=False,  # else 3 and 4 are closed after plumb; the rest are
                # close-on-exec (os.pipe's default), so only 0-4 reach chromium
                start_new_session=True,  # its helper processes are stopped with it
            )
        except OSError as err:
            raise RendererError(
                f"{chromium} could not be started ({err.strerror})", f"reinstall it: {INSTALL}"
            ) from None
        os.close(chrome_out)
        os.close(chrome_in)
        session = _Session(ours, theirs, time.monotonic() + timeout)
        try:
            image = session.screenshot(page.as_uri(), width)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            # JSON that is not DevTools', a field missing or of another type, bad base64
            raise _garbled(chromium) from None
        finally:
            _stop(session, process)
            os.close(ours)
            os.close(theirs)
    if not image.startswith(PNG_SIGNATURE):
        raise _garbled(chromium)
    return image


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_MESSAGE = 256 * 1024 * 1024  # a 1280-px page's screenshot, base64, is a few MB


def _garbled(chromium: str) -> RendererError:
    return RendererError(
        f"{chromium} answered with something that is not a DevTools message or a PNG",
        f"point {ENV_CHROMIUM} at a real chromium, or reinstall it: {INSTALL}",
    )


def _stop(session: "_Session", process: "subprocess.Popen[bytes]") -> None:
    """Close the browser, and every process it started, before its profile goes."""
    with contextlib.suppress(OSError, RendererError):
        session.send("Browser.close")
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # helpers left behind, if any
    process.wait()


class _Session:
    """One DevTools conversation over the pipe."""

    def __init__(self, read_fd: int, write_fd: int, deadline: float) -> None:
        self.read_fd, self.write_fd, self.deadline = read_fd, write_fd, deadline
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def screenshot(self, url: str, width: int) -> bytes:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session=session)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=session,
            width=width,
            height=800,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", session=session, url=url)
        self.wait_for("Page.loadEventFired")
        size = self.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
        height = int(size["height"] + 0.999)
        shot = self.call(
            "Page.captureScreenshot",
            session=session,
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        )
        return base64.b64decode(shot["data"])

    def send(self, method: str, session: str | None = None, **params: Any) -> None:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.send(method, session, **params)
        while True:
            answer = self._receive()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RendererError(
                        f"chromium could not render the page ({answer['error'].get('message')})",
                        f"check the chromium works (chromium --version), or reinstall it: "
                        f"{INSTALL}",
                    )
                result: dict[str, Any] = answer.get("result", {})
                return result
            if "method" in answer:
                self.events.append(answer)

    def wait_for(self, event: str) -> None:
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._receive())

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            ready, _, _ = select.select([self.read_fd], [], [], max(0.0, left))
            if not ready:
                raise RendererError(
                    "chromium took too long to render the page",
                    "try again; if it keeps failing, check the chromium works",
                )
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                raise RendererError(
                    "chromium stopped before the page was rendered",
                    f"check the chromium works (chromium --version), or reinstall it: {INSTALL}",
                )
            self.buffer += chunk
            if len(self.buffer) > MAX_MESSAGE:
                raise ValueError("a DevTools message past its largest size")
        message, _, self.buffer = self.buffer.partition(b"\0")
        answer = json.loads(message)
        if not isinstance(answer, dict):
            raise TypeError("a DevTools message is an object")
        return answer
