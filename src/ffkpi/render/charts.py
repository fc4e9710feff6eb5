"""The review page's charts as inline SVG: drawn here, no library, no script, no font
or image fetched. Deterministic: the same figures give the same bytes (coordinates
to one decimal). Every text in them is escaped; they are sized by their viewBox and
scale to the width they are given."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

from ffkpi.engine.money import format_money

INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"
UP, DOWN, BASE, TARGET = "#15803d", "#b91c1c", "#2563eb", "#d97706"


def _n(value: float) -> str:
    """A coordinate: one decimal, no "-0.0"."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _svg(width: int, height: int, label: str, body: list[str], css_class: str) -> Markup:
    return Markup(
        f'<svg class="{css_class}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMidYMid meet">{"".join(body)}</svg>'
    )


def _text(
    x: float, y: float, text: str, anchor: str = "start", size: int = 11, fill: str = INK
) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}"'
        f' fill="{fill}">{escape(text)}</text>'
    )


def _short(amount: Decimal, currency: str) -> str:
    """An axis label: 98.2k, 1.25M, 740."""
    value = float(amount)
    for limit, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return format_money(amount, currency, grouping=True).split(".")[0]


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values from `low` to `high` for gridlines."""
    span = max(high - low, 1e-9)
    raw = span / count
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1.0
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = (low // step) * step
    ticks = []
    value = first
    while value <= high + step / 2:
        if value >= low - 1e-9:
            ticks.append(value)
        value += step
    return ticks


def sparkline(values: Sequence[Decimal | None], label: str) -> Markup:
    """The last weeks of a KPI as a small line; a week not recorded is a gap."""
    width, height, pad = 96, 24, 3
    known = [float(v) for v in values if v is not None]
    if not known:
        return Markup("")
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = (width - 2 * pad) / max(1, len(values) - 1)
    body: list[str] = []
    run: list[str] = []
    last = None
    for k, value in enumerate(values):
        if value is None:
            if len(run) > 1:
                body.append(_polyline(run))
            run = []
            continue
        x = pad + k * step
        y = height - pad - (float(value) - low) / span * (height - 2 * pad)
        run.append(f"{_n(x)},{_n(y)}")
        last = (x, y)
    if len(run) > 1:
        body.append(_polyline(run))
    if last is not None:
        body.append(f'<circle cx="{_n(last[0])}" cy="{_n(last[1])}" r="2.5" fill="{BASE}"/>')
    return _svg(width, height, label, body, "spark")


def _polyline(points: list[str]) -> str:
    return (
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{BASE}" '
        'stroke-width="1.5" stroke-linejoin="round"/>'
    )


@dataclass(frozen=True, slots=True)
class MrrPoint:
    week: str
    position: int  # ISO weeks since the first point: a missing week is a gap
    mrr: Decimal
    needed: Decimal | None  # the week before's MRR grown by the target
    rebuilt: bool


def mrr_chart(
    points: Sequence[MrrPoint], currency: str, width: int = 880, height: int = 260
) -> Markup:
    """MRR a bar a week (rebuilt weeks hatched), and the target line: what each week
    needed, the week before grown by the target (a path from the first week would
    compound out of sight). A narrow one (a phone's) lays its legend out on two rows."""
    narrow = width < 600
    pattern = "rebuilt-narrow" if narrow else "rebuilt"  # one id per chart on a page
    left, right, top, bottom = 56, 12, 14, 58 if narrow else 40
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max(
        [float(p.mrr) for p in points] + [float(p.needed) for p in points if p.needed is not None]
    )
    top_value = highest * 1.05 or 1.0
    ticks = _ticks(0, top_value)
    top_value = max(top_value, ticks[-1])

    def y(value: float) -> float:
        return top + plot_h - value / top_value * plot_h

    columns = points[-1].position + 1
    slot = plot_w / columns
    bar = max(1.0, slot * 0.72)
    body = [
        f'<defs><pattern id="{pattern}" width="4" height="4" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="4" height="4" fill="#bfdbfe"/>'
        f'<line x1="0" y1="0" x2="0" y2="4" stroke="{BASE}" stroke-width="1.5"/></pattern></defs>'
    ]
    for tick in ticks:
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{_n(y(tick))}" y2="{_n(y(tick))}" '
            f'stroke="{GRID}"/>'
        )
        label = _short(Decimal(str(tick)), currency)
        body.append(_text(left - 6, y(tick) + 4, label, "end", fill=MUTED))
    label_every = max(1, round(columns / 8))
    target: list[str] = []
    for point in points:
        x = left + point.position * slot + (slot - bar) / 2
        top_y = y(float(point.mrr))
        fill = f"url(#{pattern})" if point.rebuilt else BASE
        body.append(
            f'<rect class="bar" x="{_n(x)}" y="{_n(top_y)}" width="{_n(bar)}" '
            f'height="{_n(top + plot_h - top_y)}" fill="{fill}"><title>'
            f"{escape(point.week)}: {escape(format_money(point.mrr, currency, grouping=True))}"
            f"{' (rebuilt)' if point.rebuilt else ''}</title></rect>"
        )
        if point.needed is not None:
            target.append(
                f"{_n(x)},{_n(y(float(point.needed)))} {_n(x + bar)},{_n(y(float(point.needed)))}"
            )
        if (columns - 1 - point.position) % label_every == 0:
            body.append(
                _text(x + bar / 2, height - bottom + 16, point.week[2:], "middle", 10, fill=MUTED)
            )
    for segment in target:
        body.append(
            f'<polyline points="{segment}" stroke="{TARGET}" stroke-width="2" fill="none"/>'
        )
    body.append(
        f'<line x1="{left}" x2="{width - right}" y1="{_n(top + plot_h)}" '
        f'y2="{_n(top + plot_h)}" stroke="{MUTED}"/>'
    )
    legend_y = height - (24 if narrow else 6)
    line_x, line_y = (left, legend_y + 18) if narrow else (left + 210, legend_y)
    body += [
        f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="{BASE}"/>',
        _text(left + 14, legend_y, "MRR"),
        f'<rect x="{left + 60}" y="{legend_y - 9}" width="10" height="10" fill="url(#{pattern})"/>',
        _text(left + 74, legend_y, "rebuilt from invoices"),
        f'<line x1="{line_x}" x2="{line_x + 16}" y1="{line_y - 4}" y2="{line_y - 4}" '
        f'stroke="{TARGET}" stroke-width="2"/>',
        _text(line_x + 20, line_y, "needed to meet the weekly target"),
    ]
    return _svg(width, height, f"MRR over {columns} weeks", body, "chart")


@dataclass(frozen=True, slots=True)
class Step:
    label: str
    amount: Decimal  # signed: what it adds to MRR
    customers: int | None


def waterfall(previous: Decimal, steps: Sequence[Step], current: Decimal, currency: str) -> Markup:
    """The week's bridge: last week's MRR, each movement up or down, this week's. The
    axis starts near the lowest level (movements are small beside MRR) and says so."""
    width, height = 880, 250
    left, right, top, bottom = 56, 12, 22, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    levels = [float(previous)]
    for step in steps:
        levels.append(levels[-1] + float(step.amount))
    low, high = min(*levels, float(current)), max(*levels, float(current))
    margin = max((high - low) * 0.6, high * 0.002, 1.0)
    ticks = _ticks(max(0.0, low - margin), high + margin * 0.3)
    floor, ceiling = ticks[0], max(ticks[-1], high + margin * 0.3)

    def y(value: float) -> float:
        return top + plot_h - (value - floor) / (ceiling - floor) * plot_h

    columns = len(steps) + 2
    slot = plot_w / columns
    bar = slot * 0.6
    body: list[str] = []
    for tick in ticks:
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{_n(y(tick))}" y2="{_n(y(tick))}" '
            f'stroke="{GRID}"/>'
        )
        body.append(
            _text(left - 6, y(tick) + 4, _short(Decimal(str(tick)), currency), "end", fill=MUTED)
        )

    def column(
        k: int, start: float, end: float, color: str, name: str, value: str, note: str
    ) -> None:
        x = left + k * slot + (slot - bar) / 2
        y1, y2 = sorted((y(start), y(end)))
        body.append(
            f'<rect class="bar" x="{_n(x)}" y="{_n(y1)}" width="{_n(bar)}" '
            f'height="{_n(max(1.0, y2 - y1))}" fill="{color}"><title>{escape(name)}: '
            f"{escape(value)}</title></rect>"
        )
        body.append(_text(x + bar / 2, y1 - 5, value, "middle", 10))
        body.append(_text(x + bar / 2, height - bottom + 16, name, "middle", 11))
        if note:
            body.append(_text(x + bar / 2, height - bottom + 30, note, "middle", 10, fill=MUTED))

    whole = {
        amount: format_money(amount, currency, grouping=True) for amount in (previous, current)
    }
    column(0, floor, float(previous), MUTED, "Last week", whole[previous], "")
    level = float(previous)
    for k, step in enumerate(steps, start=1):
        end = level + float(step.amount)
        sign = "+" if step.amount >= 0 else "-"
        value = f"{sign}{format_money(abs(step.amount), currency, grouping=True)}"
        note = "" if step.customers is None else f"{step.customers} customers"
        if step.customers == 1:
            note = "1 customer"
        column(k, level, end, UP if step.amount >= 0 else DOWN, step.label, value, note)
        if k < len(steps):
            x_end = left + k * slot + (slot + bar) / 2
            body.append(
                f'<line x1="{_n(x_end)}" x2="{_n(x_end + slot - bar)}" y1="{_n(y(end))}" '
                f'y2="{_n(y(end))}" stroke="{MUTED}" stroke-dasharray="2,2"/>'
            )
        level = end
    this_week = format_money(current, currency, grouping=True)
    column(columns - 1, floor, float(current), BASE, "This week", this_week, "")
    body.append(
        _text(
            left, top - 8, f"axis from {_short(Decimal(str(floor)), currency)}", fill=MUTED, size=10
        )
    )
    return _svg(width, height, "This week's MRR bridge", body, "chart")


def progress(share: Decimal, pace: Decimal, on_track: bool, label: str) -> Markup:
    """A figure's share of its quarter's goal as a bar, with a marker where it is on track
    (`pace`: the share of the quarter gone, or the whole goal for a projection)."""
    width, height = 400, 28
    filled = min(1.0, max(0.0, float(share)))
    marker = 8 + min(1.0, float(pace)) * (width - 16)
    color = UP if on_track else DOWN
    body = [
        f'<rect x="8" y="8" width="{width - 16}" height="12" rx="3" fill="{GRID}"/>',
        f'<rect class="bar" x="8" y="8" width="{_n(filled * (width - 16))}" height="12" rx="3" '
        f'fill="{color}"/>',
        f'<line x1="{_n(marker)}" x2="{_n(marker)}" y1="2" y2="26" stroke="{INK}" '
        'stroke-width="2"/>',
    ]
    return _svg(width, height, label, body, "progress")
