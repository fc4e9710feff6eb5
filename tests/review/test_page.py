"""The review as one HTML page: escaping on, nothing run or fetched, the same bytes
for the same input. What a browser makes of it: test_browser.py."""

import re
from pathlib import Path

import jinja2
from pages import IMG, demo_page, hostile_page

from conftest import Ffkpi
from ffkpi.render.page import _environment


def test_the_template_engine_escapes_by_default() -> None:
    environment = _environment()
    assert environment.autoescape is True
    assert environment.undefined is jinja2.StrictUndefined
    template = environment.from_string("<p>{{ text }}</p>")
    assert template.render(text=IMG) == (
        "<p>&lt;img src=x onerror=&#34;document.title=&#39;x&#39;&#34;&gt;</p>"
    )


def test_outside_text_is_escaped_everywhere(ffkpi: Ffkpi, cli_env: Path) -> None:
    page = hostile_page(ffkpi, cli_env).read_text()
    assert "<img" not in page
    assert "<script" not in page
    assert "</script>" not in page
    escaped_img = "&lt;img src=x onerror=&#34;document.title=&#39;x&#39;&#34;&gt;"
    escaped_script = "&lt;/script&gt;&lt;script&gt;document.title=&#39;x&#39;&lt;/script&gt;"
    # the customer among the movers, the KPI's name, its source; the tier, the definition,
    # the note
    assert page.count(escaped_img) >= 3
    assert page.count(escaped_script) >= 3


def test_no_script_and_nothing_to_fetch(ffkpi: Ffkpi, cli_env: Path) -> None:
    page = demo_page(ffkpi, cli_env).read_text()
    assert "<script" not in page.lower()
    assert not re.search(r"\son[a-z]+\s*=", page)  # no event handler attribute
    assert not re.search(r"(src|href)\s*=", page)  # no image, stylesheet or link to load
    local = re.sub(r"url\(#rebuilt(-narrow)?\)", "", page)  # the charts' own hatching
    assert "url(" not in local  # no remote image or font
    assert "@import" not in page
    assert "@font-face" not in page
    assert "default-src 'none'" in page  # and a browser is told to fetch nothing


def test_the_same_input_gives_the_same_bytes(ffkpi: Ffkpi, cli_env: Path) -> None:
    first = demo_page(ffkpi, cli_env).read_bytes()
    second = demo_page(ffkpi, cli_env).read_bytes()
    assert first == second
    assert first.count(b"<svg") >= 9  # the MRR chart, the bridge, 7 sparklines


def test_the_page_holds_every_section(ffkpi: Ffkpi, cli_env: Path) -> None:
    page = demo_page(ffkpi, cli_env).read_text()
    for section in ("kpis", "mrr-chart", "bridge", "retention", "movers", "tiers", "quarter"):
        assert f'<section id="{section}">' in page
    assert page.count('<tr class="kpi">') == 7
    assert page.count('class="mark">example<') >= 12  # each made-up value is marked
    assert "Example data" in page
    assert "Harbor Foods S.A." in page  # the week's largest new customer, by name
    assert "Rebuilt weeks cannot show" in page
