"""The review page in a real browser: Debian's chromium, driven by Playwright's Python
API (`executable_path`; Playwright's own browser download is never used). CI installs
chromium and fails without it; elsewhere these tests skip with the install line."""

import json
import os
import re
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pages import IMG, LONG, SCRIPT, demo_page, hostile_page, long_names_page

from conftest import Ffkpi

INSTALL = "apt-get install -y --no-install-recommends chromium"
WIDTHS = (1280, 390)


def chromium() -> str | None:
    return os.environ.get("FFKPI_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no chromium for the browser tests: {INSTALL}")
        pytest.skip(f"no chromium: {INSTALL}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path)
        yield launched
        launched.close()


class Opened:
    """A page opened in the browser, with every request, console error and page error
    it caused."""

    def __init__(self, browser: Any, path: Path, width: int) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )
        self.url = path.as_uri()
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def overflow(self) -> int:
        """How far the page scrolls sideways: 0 when it fits."""
        width: int = self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        return width


@pytest.mark.parametrize("width", WIDTHS)
def test_the_demo_review_in_a_browser(
    browser: Any, ffkpi: Ffkpi, cli_env: Path, width: int, tmp_path: Path
) -> None:
    opened = Opened(browser, demo_page(ffkpi, cli_env), width)
    page = opened.page
    assert opened.errors == []
    assert opened.requests == [opened.url]  # the file itself, nothing else
    assert opened.overflow() == 0
    mrr = json.loads(ffkpi("mrr", "--demo", "--format", "json").stdout)["mrr"]
    assert page.inner_text("#headline-mrr").replace(",", "") == mrr
    assert page.locator("tr.kpi").count() == 7
    charts = page.locator("svg.chart")
    assert charts.count() == 2  # MRR over the weeks, the week's bridge
    for k in range(2):
        box = charts.nth(k).bounding_box()
        assert box is not None
        assert box["width"] >= 300
        assert box["height"] >= 150
    if width >= 1280:  # a laptop sees every table whole; a phone may scroll one in its box
        scrolled = (
            "[...document.querySelectorAll('.scroll')].map(e => e.scrollWidth - e.clientWidth)"
        )
        assert set(page.evaluate(scrolled)) == {0}
    assert page.locator("#mrr-chart rect.bar").count() == 52
    assert page.locator("#bridge rect.bar").count() == 7
    assert page.locator("svg.spark polyline").count() >= 7
    page.screenshot(path=str(tmp_path / f"review-{width}.png"), full_page=True)


def test_hostile_names_stay_text_and_nothing_runs(
    browser: Any, ffkpi: Ffkpi, cli_env: Path
) -> None:
    opened = Opened(browser, hostile_page(ffkpi, cli_env), 1280)
    page = opened.page
    assert page.title() == "KPI review 2026-W47"  # no handler set it to 'x'
    assert opened.errors == []
    assert opened.requests == [opened.url]  # the img's src=x was never asked for
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 0
    text = page.inner_text("body")
    assert IMG in text  # shown as it is, as text
    assert SCRIPT in text
    assert opened.overflow() == 0
    boxes = "[...document.querySelectorAll('.scroll')].map(e => e.scrollWidth - e.clientWidth)"
    assert set(page.evaluate(boxes)) == {0}  # a long note wraps, it does not widen the table


def test_the_png_is_the_top_of_the_page(browser: Any, ffkpi: Ffkpi, cli_env: Path) -> None:
    result = ffkpi("review", "--demo", "--format", "png", "-o", "review.png")
    assert (result.exit_code, result.stdout) == (0, "review.png\n"), repr(result.exception)
    image = (cli_env / "review.png").read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", image[16:24])  # IHDR
    page = Opened(browser, demo_page(ffkpi, cli_env), 1280).page
    whole = page.evaluate("document.documentElement.scrollHeight")
    chart_bottom = page.evaluate(
        "document.querySelector('#mrr-chart').getBoundingClientRect().bottom"
    )
    assert width == 1280
    assert chart_bottom < height < whole  # the headline, the KPIs and the chart; not the rest


def test_printed_to_a4_sections_are_not_split(browser: Any, ffkpi: Ffkpi, cli_env: Path) -> None:
    page = Opened(browser, demo_page(ffkpi, cli_env), 1280).page
    page.emulate_media(media="print")
    breaks = page.evaluate(
        "[...document.querySelectorAll('section')].map(s => getComputedStyle(s).breakInside)"
    )
    assert breaks == ["avoid"] * 7
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert 2 <= pages <= 6  # A4 pages, each section whole on one


@pytest.mark.parametrize("width", WIDTHS)
def test_long_unbroken_names_never_widen_the_page(
    browser: Any, ffkpi: Ffkpi, cli_env: Path, width: int
) -> None:
    opened = Opened(browser, long_names_page(ffkpi, cli_env), width)
    assert LONG in opened.page.inner_text("body").replace("\n", "")
    assert opened.overflow() == 0
    opened.page.screenshot(path=str(cli_env / f"long-{width}.png"), full_page=True)
