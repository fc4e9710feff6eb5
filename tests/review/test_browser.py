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
    mrr_chart = page.locator("#mrr-chart svg.chart:visible")
    assert mrr_chart.count() == 1  # the 52 weeks on a laptop, the last 13 on a phone
    for chart in (mrr_chart.first, page.locator("#bridge svg.chart")):
        box = chart.bounding_box()
        assert box is not None
        assert box["width"] >= 300
        assert box["height"] >= 150
    bars = page.locator("#mrr-chart svg.chart:visible rect.bar")
    assert bars.count() == (52 if width >= 1280 else 13)
    this_week = bars.last.bounding_box()  # this week: drawn, and inside the screen
    assert this_week is not None
    assert this_week["x"] >= 0
    assert this_week["x"] + this_week["width"] <= width
    if width >= 1280:  # a laptop sees every table whole
        scrolled = (
            "[...document.querySelectorAll('.scroll')].map(e => e.scrollWidth - e.clientWidth)"
        )
        assert set(page.evaluate(scrolled)) == {0}
    else:  # a phone sees every KPI's value, change, goal and status, nothing to the side
        cells = page.locator("tr.kpi td .cell")
        assert cells.count() == 7 * 6
        for k in range(cells.count()):
            box = cells.nth(k).bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= width
        bridge_end = page.locator("#bridge rect.bar").last.bounding_box()
        assert bridge_end is not None
        assert bridge_end["x"] + bridge_end["width"] <= width  # the bridge opens on this week
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


A4_CONTENT = (703, 1032)  # CSS pixels inside the page's 12 mm margins: 186 x 273 mm


@pytest.mark.parametrize("names", ["demo", "long"])
def test_printed_page_one_holds_the_headline_and_the_kpis(
    browser: Any, ffkpi: Ffkpi, cli_env: Path, names: str
) -> None:
    """On A4 paper the first page answers the meeting's questions, and no column runs off
    the paper, whatever the names."""
    path = demo_page(ffkpi, cli_env) if names == "demo" else long_names_page(ffkpi, cli_env)
    opened = Opened(browser, path, A4_CONTENT[0])
    page = opened.page
    page.emulate_media(media="print")
    kpis_bottom = page.evaluate("document.querySelector('#kpis').getBoundingClientRect().bottom")
    assert kpis_bottom <= A4_CONTENT[1]
    assert opened.overflow() == 0
    pdf = page.pdf(format="A4")
    assert 2 <= len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) <= 4
