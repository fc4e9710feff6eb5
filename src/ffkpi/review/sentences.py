"""The review's three sentences (docs/review-rules.md), written from the numbers: the
target met or missed and by how much; net new MRR and its bridge, naming the drag; the
KPI furthest behind its goal (or, all on track, the one furthest ahead). Pure."""

from collections.abc import Mapping, Sequence
from decimal import Decimal, localcontext

from ffkpi.engine.money import format_money, format_percent, format_share
from ffkpi.review.figures import Judgement, Standing
from ffkpi.text import one_line

INFLOWS = ("new", "expansion", "reactivation")
OUTFLOWS = ("contraction", "churn")
DRAG = Decimal("0.25")  # the drag is named from a quarter of the inflows on


def target_sentence(
    mrr: Decimal, currency: str, judged: Judgement, target: Decimal, met: tuple[int, int]
) -> str:
    money = format_money(mrr, currency, grouping=True)
    code = currency.upper()
    streak = f"met {met[0]} of the last {met[1]} weeks"
    if judged.growth is None:
        return f"MRR is {money} {code}; no growth to judge ({judged.why}); {streak}."
    moved = "grew" if judged.growth >= 0 else "fell"  # never "grew -1.81 %"
    growth = format_percent(abs(judged.growth))
    goal = format_percent(target)
    if judged.met:
        excess = format_money(judged.excess or Decimal(0), currency, grouping=True)
        return (
            f"MRR {moved} {growth} to {money} {code}, meeting the {goal} target with "
            f"{excess} to spare; {streak}."
        )
    shortfall = format_money(judged.shortfall or Decimal(0), currency, grouping=True)
    return (
        f"MRR {moved} {growth} to {money} {code}, missing the {goal} target by {shortfall}; "
        f"{streak}."
    )


def bridge_sentence(moves: Mapping[str, Decimal], currency: str) -> str:
    """Net new MRR with its parts; the drag named when contraction and churn take at
    least a quarter of new, expansion and reactivation."""
    inflow = sum((moves[kind] for kind in INFLOWS), Decimal(0))
    outflow = sum((moves[kind] for kind in OUTFLOWS), Decimal(0))
    net = inflow - outflow

    def money(amount: Decimal) -> str:
        return format_money(amount, currency, grouping=True)

    parts = ", ".join(f"{kind} {money(moves[kind])}" for kind in (*INFLOWS, *OUTFLOWS))
    sign = "+" if net >= 0 else "-"
    text = f"Net new MRR {sign}{money(abs(net))}: {parts}"
    if inflow > 0 and outflow >= DRAG * inflow:
        text += f"; churn and contraction took {format_share(outflow / inflow)} of new"
    elif inflow == 0 and outflow > 0:
        text += "; nothing new came in"
    return text + "."


def kpi_sentence(standings: Sequence[tuple[str, Standing]]) -> str | None:
    """The KPI furthest behind its goal, or, every one on track, the furthest ahead;
    None when no KPI has a goal and a value this week."""
    if not standings:
        return None
    behind = [(name, s) for name, s in standings if not s.on_track]
    if behind:
        name, worst = min(behind, key=lambda entry: entry[1].lead)
        where = "is furthest behind its goal"
    else:
        name, worst = max(standings, key=lambda entry: entry[1].lead)
        where = "is furthest ahead of its goal; every KPI with a goal is on track"
    if worst.share_of_goal is not None and worst.share_gone is not None:
        detail = (
            f"{format_share(worst.share_of_goal)} of its goal with "
            f"{format_share(worst.share_gone)} of the quarter gone"
        )
    elif worst.goal > 0:  # its own figure: value / goal, whichever way is better
        with localcontext(prec=34):
            detail = f"{format_share(worst.value / worst.goal)} of its goal"
    else:  # no share of a goal of 0 or below: by how much the value is past it
        past = worst.value - worst.goal
        side = "above" if past >= 0 else "below"
        detail = f"{_plain(abs(past))} {side} its goal of {_plain(worst.goal)}"
    return f"{one_line(name)} {where}: {detail}."


def _plain(amount: Decimal) -> str:
    """A KPI's figure as it was recorded, without trailing zeros or an exponent."""
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
