"""Review pages for the page and browser tests: the demo's, and one whose outside text
(customer and product names, KPI names, notes) is hostile."""

import copy
import json
from pathlib import Path

from conftest import DEMO, ROOT, Ffkpi

IMG = "<img src=x onerror=\"document.title='x'\">"
SCRIPT = "</script><script>document.title='x'</script>"
NEWEST_MOVER = "cus_TdDemo000350"  # the week's largest new customer: first among the movers


def hostile_page(ffkpi: Ffkpi, folder: Path) -> Path:
    """`ffkpi review --format html` of the demo's weeks with hostile names everywhere an
    outside text is shown."""
    bundle = copy.deepcopy(DEMO)
    for customer in bundle["customers"]:
        if customer["id"] == NEWEST_MOVER:
            customer["name"] = IMG
    (folder / "bundle.json").write_text(json.dumps(bundle))
    config = (ROOT / "config.example.toml").read_text()
    kpi = (
        f"\n[kpis.mqls]\nname = {json.dumps(IMG)}\ngoal = 120\n"
        f"definition = {json.dumps(SCRIPT)}\nsource = {json.dumps(IMG)}\n"
    )
    tier = f"name = {json.dumps(SCRIPT)}"
    (folder / "ffkpi.toml").write_text(config.replace('name = "Team"', tier) + kpi)
    recorded = ffkpi("record", "mqls=7", "--week", "2026-W47", "--note", SCRIPT)
    assert recorded.exit_code == 0, recorded.stderr
    result = ffkpi("review", "--input", "bundle.json", "--format", "html", "-o", "hostile.html")
    assert result.exit_code == 0, result.stderr
    return folder / "hostile.html"


def demo_page(ffkpi: Ffkpi, folder: Path) -> Path:
    result = ffkpi("review", "--demo", "--format", "html", "-o", "review.html")
    assert result.exit_code == 0, result.stderr
    return folder / "review.html"


LONG = "W" * 80  # an 80-character name with nowhere to break: the config's longest KPI name


def long_names_page(ffkpi: Ffkpi, folder: Path) -> Path:
    """The demo's review with an 80-character unbroken name for a KPI, a tier, a customer
    who moved and a product outside the tiers."""
    bundle = copy.deepcopy(DEMO)
    for customer in bundle["customers"]:
        if customer["id"] == NEWEST_MOVER:
            customer["name"] = LONG
    for product in bundle["products"]:
        if product["name"] == "Priority Support":
            product["name"] = "P" * 120
    (folder / "bundle.json").write_text(json.dumps(bundle))
    config = (ROOT / "config.example.toml").read_text().replace('name = "Team"', f'name = "{LONG}"')
    kpi = f'\n[kpis.mqls]\nname = "{LONG}"\ngoal = 120\ndefinition = "{"D" * 300}"\n'
    (folder / "ffkpi.toml").write_text(config + kpi)
    recorded = ffkpi("record", "mqls=7", "--week", "2026-W47", "--note", "N" * 200)
    assert recorded.exit_code == 0, recorded.stderr
    result = ffkpi("review", "--input", "bundle.json", "--format", "html", "-o", "long.html")
    assert result.exit_code == 0, result.stderr
    return folder / "long.html"
