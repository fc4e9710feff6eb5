"""The week sweep that makes a rebuild fast: each subscription's timeline is evaluated
only where what it counts can change (a line, a payment, one of its dates, a discount
or trial ending), and its transitions between those points are returned.

Pure: no I/O, no clock. What a subscription was at one instant is timeline.py's.
"""

import bisect
from collections.abc import Sequence

from ffkpi.engine.model import Subscription
from ffkpi.engine.mrr import Counted, Rules
from ffkpi.engine.pricing import Metered
from ffkpi.history.timeline import Kind, Segment, Timeline, trial_end


def renewals(timeline: Timeline, instants: Sequence[int]) -> set[int]:
    """Invoices that only renew what their items already were: every line a regular
    one continuing its item's previous line (same price, quantity and discounts,
    paid), the same subscription discounts as the invoice before, and no week
    falling between the renewal and its payment. Nothing changes at them."""
    renewing: dict[int, bool] = {}  # id() of an invoice -> every line continues
    for segments in timeline.items.values():
        previous: Segment | None = None
        for segment in segments:
            invoice = segment.invoice
            line = segment.line
            same = (
                previous is not None
                and segment.kind == Kind.REGULAR
                and previous.kind == Kind.REGULAR
                and previous.end == segment.start
                and previous.line.price is line.price
                and previous.line.quantity == line.quantity
                and previous.line.discounts == line.discounts
                and previous.invoice.status == "paid"
                and previous.invoice.discounts == invoice.discounts
            )
            key = id(invoice)
            renewing[key] = renewing.get(key, True) and same
            previous = segment
    pure: set[int] = set()
    for invoice in timeline.invoices:
        if not renewing.get(id(invoice)) or invoice.status != "paid":
            continue
        if invoice.paid_at is None or not invoice.lines:
            continue
        opened = min(line.start for line in invoice.lines)
        # A week between the renewal and its payment sees it past due.
        first = bisect.bisect_left(instants, opened)
        if first < len(instants) and instants[first] < invoice.paid_at:
            continue
        pure.add(id(invoice))
    return pure


def change_points(timeline: Timeline, instants: Sequence[int]) -> tuple[list[int], list[int]]:
    """The instants at which what the subscription counts can change, as weeks see
    it (between two of them `at` gives the same subscription, the same metered
    lines and the same discounts ended), and the instants its count compares with a
    week's cutoff: discount ends and item trial ends."""
    life = timeline.life
    points = {
        moment
        for moment in (
            life.start,
            life.ended_at,
            life.canceled_at,
            life.trial_start,
            life.trial_end,
            timeline.last_end,
        )
        if moment is not None
    }
    pure = renewals(timeline, instants)
    ends: set[int] = set()
    for segments in timeline.items.values():
        for k, segment in enumerate(segments):
            line = segment.line
            if id(segment.invoice) not in pure:
                points.add(segment.start)
            following = segments[k + 1] if k + 1 < len(segments) else None
            if following is None or id(following.invoice) not in pure or line.price.metered:
                points.add(segment.end)
            ends.update(d.end for d in line.discounts if d.end is not None)
            trial = trial_end(segment)  # compared with the cutoff, like a discount end
            if trial is not None:
                ends.add(trial)
    for invoice in timeline.invoices:
        if id(invoice) not in pure:
            for moment in (invoice.paid_at, invoice.marked_uncollectible_at):
                if moment is not None:
                    points.add(moment)
        ends.update(d.end for d in invoice.discounts if d.end is not None)
    return sorted(points | ends), sorted(ends)


def transitions(
    timeline: Timeline, rules: Rules, instants: Sequence[int], cutoffs: Sequence[int]
) -> list[tuple[int, Counted, int]]:
    """What the subscription adds to (sign 1) or takes from (-1) each week where that
    changes, as (week, counted, sign): evaluated once per span of weeks in which
    nothing of it can change, not once a week."""
    points, ends = change_points(timeline, instants)
    found: list[tuple[int, Counted, int]] = []
    current: Counted | None = None
    # What a Counted depends on: the subscription, its metered lines, and which of
    # its discounts have ended by the cutoff.
    state: tuple[Subscription, dict[str, Metered], int] | None = None
    week = 0
    weeks = len(instants)
    # Weeks read before their day ended (the last ones) are each a week of their own.
    clamped = next((k for k in range(weeks) if cutoffs[k] != instants[k]), weeks)
    while week < weeks:
        t, cutoff = instants[week], cutoffs[week]
        following = week + 1
        if week < clamped:
            k = bisect.bisect_right(points, t)
            if k == len(points):
                following = clamped
            else:
                following = bisect.bisect_left(instants, points[k], hi=clamped)
            following = max(following, week + 1)
        sub = timeline.at(t)
        counted = None
        if sub is not None:
            now = (sub, timeline.metered_at(t), bisect.bisect_right(ends, cutoff))
            counted = current if now == state else rules.count(sub, cutoff, now[1])
            state = now
        else:
            state = None
        if counted != current:
            if current is not None:
                found.append((week, current, -1))
            if counted is not None:
                found.append((week, counted, 1))
            current = counted
        week = following
    return found
