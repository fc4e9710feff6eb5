"""Why a subscription or an item counts 0: the reasons every output names the same way."""

from dataclasses import dataclass, field


@dataclass(slots=True)
class Exclusions:
    """Subscriptions (and items) that count 0, and why: what the report leaves out.

    Counted up while computing, read-only once in a Report. Each count but `statuses`
    is one of REASONS.
    """

    statuses: dict[str, int] = field(default_factory=dict)
    scheduled_cancellation: int = 0
    paused_collection: int = 0
    zero_mrr: int = 0
    trialing_items: int = 0
    metered_items: int = 0
    metered_items_without_invoice: int = 0

    def counts(self) -> list[tuple["Reason", int]]:
        """Each reason with its count, in REASONS' order (zeros included)."""
        return [(reason, getattr(self, reason.key)) for reason in REASONS]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a subscription or an item counts 0, in the words of each place that says it."""

    key: str  # the Exclusions field, and the key under "excluded" in JSON and snapshots
    item: bool  # an item of a subscription that counts, not the subscription
    caption: str  # the report table's caption: "<count> <caption>"
    finding: str  # `ffkpi check`: "<count> <finding>"
    warn: bool = False  # a warning in `ffkpi check`: money the report may be missing


STATUS_REASON = "status"  # not a Reason: its count goes to Exclusions.statuses
REASONS = (
    Reason(
        "scheduled_cancellation",
        False,
        "scheduled to cancel",
        "subscriptions scheduled to cancel: count 0",
    ),
    Reason(
        "paused_collection",
        False,
        "with collection paused",
        "subscriptions with collection paused: count 0",
    ),
    Reason(
        "zero_mrr",
        False,
        "at 0 after discounts and trials",
        "subscriptions at 0 after discounts and trials",
    ),
    Reason(
        "trialing_items", True, "in a trial of their own", "items in a trial of their own: count 0"
    ),
    Reason(
        "metered_items",
        True,
        'metered (policy metered = "exclude")',
        'metered items left out (policy metered = "exclude"; "last_invoice" counts them)',
        warn=True,
    ),
    Reason(
        "metered_items_without_invoice",
        True,
        "metered with no finalized invoice yet",
        "metered items with no finalized invoice yet: count 0",
        warn=True,
    ),
)
