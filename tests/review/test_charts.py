"""The page's charts: well-formed SVG for any figures, text escaped, the same bytes for
the same figures."""

import xml.etree.ElementTree as ET
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ffkpi.render.charts import MrrPoint, Step, mrr_chart, progress, sparkline, waterfall

SVG = "{http://www.w3.org/2000/svg}"
money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False)
change = st.decimals(min_value=-(10**7), max_value=10**7, places=2, allow_nan=False)


@given(
    st.lists(st.tuples(money, st.one_of(st.none(), money), st.booleans()), min_size=1, max_size=120)
)
def test_the_mrr_chart_is_well_formed_for_any_weeks(
    weeks: list[tuple[Decimal, Decimal | None, bool]],
) -> None:
    points = [
        MrrPoint(f"2026-W{k % 52 + 1:02d}", 2 * k, m, n, r) for k, (m, n, r) in enumerate(weeks)
    ]
    svg = mrr_chart(points, "usd")
    root = ET.fromstring(str(svg))
    assert len(root.findall(f".//{SVG}rect[@class='bar']")) == len(points)
    assert svg == mrr_chart(points, "usd")


@given(
    money,
    st.lists(
        st.tuples(change, st.one_of(st.none(), st.integers(0, 10**4))), min_size=5, max_size=5
    ),
)
def test_the_waterfall_is_well_formed_for_any_bridge(
    previous: Decimal, moves: list[tuple[Decimal, int | None]]
) -> None:
    steps = [
        Step(name, amount, customers)
        for name, (amount, customers) in zip("ABCDE", moves, strict=True)
    ]
    current = previous + sum((amount for amount, _ in moves), Decimal(0))
    root = ET.fromstring(str(waterfall(previous, steps, current, "usd")))
    assert len(root.findall(f".//{SVG}rect[@class='bar']")) == 7


def test_text_in_a_chart_is_escaped() -> None:
    name = '<script>x</script> & "q"'
    svg = str(sparkline([Decimal(1), None, Decimal(3)], name))
    assert "<script>" not in svg
    assert ET.fromstring(svg).get("aria-label") == name
    bars = str(waterfall(Decimal(100), [Step(name, Decimal(5), 1)], Decimal(105), "usd"))
    assert name in [t.text for t in ET.fromstring(bars).iter(f"{SVG}text")]
    assert (
        ET.fromstring(str(progress(Decimal("0.4"), Decimal("0.5"), False, name))).get("aria-label")
        == name
    )


def test_a_missing_week_is_a_gap_in_the_mrr_chart() -> None:
    weeks = [("2026-W44", 0), ("2026-W45", 1), ("2026-W47", 3)]  # no W46
    points = [MrrPoint(week, at, Decimal(100), None, False) for week, at in weeks]
    root = ET.fromstring(str(mrr_chart(points, "usd")))
    xs = [float(bar.get("x", "")) for bar in root.iter(f"{SVG}rect") if bar.get("class") == "bar"]
    assert xs[1] - xs[0] > 0
    assert round(xs[2] - xs[1], 1) == round(2 * (xs[1] - xs[0]), 1)  # W46: an empty column
    assert root.get("aria-label") == "MRR over 4 weeks"
