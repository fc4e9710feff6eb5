"""Write the demo account that `ffkpi mrr --demo` reads: src/ffkpi/data/demo.json.gz.

A fictional self-service SaaS on Stripe, as one bundle in the shapes of API version
2026-10-28.endive: Starter and Team tiers with their add-ons (one of them metered, two
tiered), yearly and monthly prices, a EUR price, every subscription status, trials,
scheduled cancellations, paused collection, forever/once/repeating/amount-off/100 %
coupons (one restricted to a product), item-level discounts, and metered invoices.
Deterministic: the same bytes on every run. Run: uv run python scripts/make_demo.py
"""

import calendar
import dataclasses
import gzip
import json
import random
import sys
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import stripe_fixtures as sf
from billing_sim import Account, Odds, Plan, add_months, growing

Json = dict[str, Any]

OUT = Path(__file__).resolve().parents[1] / "src" / "ffkpi" / "data" / "demo.json.gz"
AS_OF = date(2026, 11, 17)  # keep in step with ffkpi.sources.demo.DEMO_AS_OF
DAY = 86_400
NOW = calendar.timegm(AS_OF.timetuple()) + 12 * 3600
SUBSCRIPTIONS = 640

STARTER = "prod_TdStarter00001"
STARTER_SMALL = "prod_TdStarterSmal1"
STARTER_REMOTE = "prod_TdStarterRemo1"
TEAM = "prod_TdTeamCloud0001"
TEAM_SMALL = "prod_TdTeamSmall0001"
TEAM_MEDIUM = "prod_TdTeamMedium001"
TEAM_LARGE = "prod_TdTeamLarge0001"
TEAM_REMOTE = "prod_TdTeamRemote001"
ENTERPRISE = "prod_TdEnterprise001"
SUPPORT = "prod_TdSupport000001"

PRODUCTS = [
    sf.product(STARTER, "FlowFuse Cloud - Starter"),
    sf.product(STARTER_SMALL, "Starter - Small Instance Add-On"),
    sf.product(STARTER_REMOTE, "Starter - Remote Instance Add-On"),
    sf.product(TEAM, "FlowFuse Team Platform - Cloud"),
    sf.product(TEAM_SMALL, "Team - Small Instance Add-On"),
    sf.product(TEAM_MEDIUM, "Team - Medium Instance Add-On"),
    sf.product(TEAM_LARGE, "Team - Large Instance Add-On"),
    sf.product(TEAM_REMOTE, "Team - Remote Instance Add-On"),
    sf.product(ENTERPRISE, "FlowFuse Enterprise - Self-Hosted"),
    sf.product(SUPPORT, "Priority Support"),
]

MEDIUM_TIERS = [sf.tier(5, 7000), sf.tier(None, 6000)]  # graduated
LARGE_TIERS = [sf.tier(2, 14000), sf.tier(None, 12000, flat_amount=5000)]  # volume

P = {
    "starter_m": sf.price("price_TdStarterMonth1", STARTER, 1500),
    "starter_y": sf.price("price_TdStarterYear01", STARTER, 15000, interval="year"),
    "starter_small": sf.price("price_TdStarterSmall1", STARTER_SMALL, 1500),
    "starter_remote": sf.price("price_TdStarterRemot1", STARTER_REMOTE, 500),
    "team_m": sf.price("price_TdTeamMonth0001", TEAM, 42500, currency_options={"eur": 39500}),
    "team_y": sf.price("price_TdTeamYear00001", TEAM, 425000, interval="year"),
    "team_small": sf.price(
        "price_TdTeamSmall0001", TEAM_SMALL, 3500, currency_options={"eur": 3300}
    ),
    "team_small_y": sf.price("price_TdTeamSmallYr01", TEAM_SMALL, 35000, interval="year"),
    "team_medium": sf.price("price_TdTeamMedium001", TEAM_MEDIUM, None, tiers_mode="graduated"),
    "team_large": sf.price("price_TdTeamLarge0001", TEAM_LARGE, None, tiers_mode="volume"),
    "team_remote": sf.price("price_TdTeamRemote001", TEAM_REMOTE, 300, usage_type="metered"),
    "enterprise": sf.price("price_TdEnterprise001", ENTERPRISE, 1500000, interval="year"),
    "support": sf.price("price_TdSupportQtr001", SUPPORT, 90000, interval_count=3),
}
# Subscriptions embed prices without tiers (not expandable that deep); the bundle has them.
TIERED_PRICES = [
    {**P["team_medium"], "tiers": MEDIUM_TIERS},
    {**P["team_large"], "tiers": LARGE_TIERS},
]

C = {
    "launch": sf.coupon("LAUNCH20", percent_off=20.0, name="Launch offer"),
    "welcome": sf.coupon("WELCOME50", percent_off=50.0, duration="once"),
    "quarter": sf.coupon("QUARTER25", percent_off=25.0, duration="repeating", duration_in_months=3),
    "partner": sf.coupon(
        "PARTNER100", amount_off=10000, currency="usd", currency_options={"eur": 9000}
    ),
    "nonprofit": sf.coupon("NONPROFIT100", percent_off=100.0),
    "addon": sf.coupon("ADDON10", percent_off=10.0),
}
# The bundle's coupons are fetched with applies_to expanded; PARTNER100 is for Team only.
BUNDLE_COUPONS = [
    {**coupon, "applies_to": {"products": [TEAM]}} if key == "partner" else coupon
    for key, coupon in C.items()
]

STATUSES = [
    ("active", 78),
    ("past_due", 4),
    ("trialing", 7),
    ("canceled", 5),
    ("unpaid", 2),
    ("incomplete", 2),
    ("incomplete_expired", 1),
    ("paused", 1),
]


class Builder:
    def __init__(self, seed: int = 2026) -> None:
        self.rng = random.Random(seed)
        self.subscriptions: list[dict[str, Any]] = []
        self.invoices: list[dict[str, Any]] = []
        self.customers: list[str] = []

    def pick(self, weighted: list[tuple[str, int]]) -> str:
        return self.rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]

    def chance(self, percent: float) -> bool:
        return self.rng.random() * 100 < percent

    def build(self) -> None:
        for n in range(SUBSCRIPTIONS):
            self.subscription(n, self.kind())
        self.subscriptions.sort(key=lambda sub: (-sub["created"], sub["id"]))

    def kind(self) -> str:
        return self.pick([("starter", 55), ("team", 35), ("enterprise", 6), ("support", 4)])

    def subscription(self, n: int, kind: str) -> None:
        rng = self.rng
        sub_id = f"sub_1TdDemo{n:06d}"
        if self.customers and self.chance(5):
            customer = rng.choice(self.customers)  # a second subscription, same customer
        else:
            customer = f"cus_TdDemo{n:06d}"
            self.customers.append(customer)
        created = NOW - rng.randint(2, 700) * DAY
        status = self.pick(STATUSES)
        currency = "eur" if kind == "team" and self.chance(10) else "usd"
        yearly = kind == "enterprise" or (currency == "usd" and self.chance(15))
        start = NOW - rng.randint(1, 28) * DAY
        end = start + (365 if yearly else 30) * DAY
        if kind == "support":
            end = start + 91 * DAY
        lines: list[tuple[dict[str, Any], int | None]] = []
        if kind == "starter":
            lines.append((P["starter_y" if yearly else "starter_m"], 1))
            if self.chance(30):
                lines.append((P["starter_small"], rng.randint(1, 2)))
            if not yearly and self.chance(15):
                lines.append((P["starter_remote"], rng.randint(1, 3)))
        elif kind == "team":
            lines.append((P["team_y" if yearly else "team_m"], 1))
            if self.chance(70):
                small = P["team_small_y" if yearly else "team_small"]
                lines.append((small, rng.randint(1, 6)))
            if currency == "usd" and not yearly:
                if self.chance(35):
                    lines.append((P["team_medium"], rng.randint(1, 9)))
                if self.chance(20):
                    lines.append((P["team_large"], rng.randint(1, 4)))
                if self.chance(40):
                    lines.append((P["team_remote"], None))
        elif kind == "enterprise":
            lines.append((P["enterprise"], 1))
        else:
            lines.append((P["support"], 1))

        items = []
        for i, (price_body, quantity) in enumerate(lines):
            item_id = f"si_TdDemo{n:06d}{i}"
            item_discounts: list[dict[str, Any] | str] = []
            if price_body is P["team_small"] and self.chance(12):
                item_discounts.append(
                    sf.discount(
                        f"di_TdItem{n:06d}{i}",
                        "ADDON10",
                        customer=customer,
                        subscription=sub_id,
                        subscription_item=item_id,
                        start=created,
                    )
                )
            trial = None
            if i > 0 and status == "active" and self.chance(4):
                trial = (NOW - 3 * DAY, NOW + 11 * DAY)  # an add-on on its own trial
            items.append(
                sf.subscription_item(
                    item_id,
                    sub_id,
                    price_body,
                    quantity=quantity,
                    period_start=start,
                    period_end=end,
                    discounts=item_discounts,
                    trial=trial,
                    created=created,
                )
            )
            if price_body is P["team_remote"] and status in ("active", "past_due"):
                self.metered_invoices(n, i, sub_id, customer, item_id, start)

        discounts = []
        if kind in ("starter", "team"):
            choice = self.pick(
                [
                    ("", 72),
                    ("launch", 9),
                    ("welcome", 7),
                    ("quarter", 5),
                    ("partner", 5 if kind == "team" else 0),
                    ("nonprofit", 2),
                ]
            )
            if choice:
                ends = None
                if choice == "quarter":
                    ends = NOW + rng.choice([-2, 9, 40, 75]) * DAY
                discounts.append(
                    sf.discount(
                        f"di_TdSub{n:06d}",
                        C[choice],
                        customer=customer,
                        subscription=sub_id,
                        start=created,
                        end=ends,
                    )
                )
        cancel_at_period_end = status == "active" and self.chance(4)
        paused = status == "active" and not cancel_at_period_end and self.chance(1.5)
        self.subscriptions.append(
            sf.subscription(
                sub_id,
                customer,
                items,
                status=status,
                currency=currency,
                created=created,
                discounts=discounts,
                cancel_at_period_end=cancel_at_period_end,
                cancel_at=end if cancel_at_period_end else None,
                pause_collection=({"behavior": "void", "resumes_at": None} if paused else None),
                trial_end=NOW + 9 * DAY if status == "trialing" else None,
            )
        )

    def metered_invoices(
        self, n: int, i: int, sub_id: str, customer: str, item_id: str, start: int
    ) -> None:
        """Invoices of a metered item: the newest paid one counts; drafts and voids don't."""
        rng = self.rng
        if self.chance(8):
            return  # a new subscription: nothing invoiced yet
        periods = [(start - 60 * DAY, start - 30 * DAY), (start - 30 * DAY, start)]
        plan = [("paid", periods[0]), (rng.choice(["paid", "open"]), periods[1])]
        plan.append(("draft", (start, start + 30 * DAY)))  # the running period
        if self.chance(10):
            plan.append(("void", (start, start + 30 * DAY)))
        for k, (status, period) in enumerate(plan):
            usage = rng.randint(1, 25)
            invoice_id = f"in_TdDemo{n:06d}{i}{k}"
            line = sf.invoice_line(
                f"il_TdDemo{n:06d}{i}{k}",
                invoice_id,
                amount=usage * 300,
                currency="usd",
                subscription_id=sub_id,
                subscription_item_id=item_id,
                price_id=P["team_remote"]["id"],
                product_id=TEAM_REMOTE,
                quantity=usage,
                period=period,
            )
            self.invoices.append(
                sf.invoice(
                    invoice_id,
                    customer=customer,
                    subscription_id=sub_id,
                    status=status,
                    currency="usd",
                    lines=[line],
                    created=period[1],
                )
            )


TODAY = 8
SIGNUPS = 560  # new customers over the two years; returns and second subscriptions add more
YEARS_BACK = 730 * DAY


def plan(rng: random.Random) -> Plan:
    """What a new subscription starts with, and how it may change."""
    kind = rng.choices(["starter", "team", "enterprise", "support"], [55, 35, 6, 4])[0]
    tiered = {p["id"]: p for p in TIERED_PRICES}
    if kind == "enterprise":
        return Plan([(P["enterprise"], 1)])
    if kind == "support":
        return Plan([(P["support"], 1)])
    coupon = rng.choices(
        [None, "launch", "welcome", "quarter", "partner", "nonprofit"],
        [72, 9, 7, 5, 5 if kind == "team" else 0, 2],
    )[0]
    chosen = C[coupon] if coupon else None
    if coupon == "partner":
        chosen = BUNDLE_COUPONS[list(C).index("partner")]
    if kind == "starter":
        yearly = rng.random() < 0.15
        items: list[tuple[Json, int | None]] = [(P["starter_y" if yearly else "starter_m"], 1)]
        if rng.random() < 0.3:
            items.append((P["starter_small"], rng.randint(1, 2)))
        if not yearly and rng.random() < 0.15:
            items.append((P["starter_remote"], rng.randint(1, 3)))
        return Plan(
            items,
            coupon=chosen,
            upgrade_to=None if yearly else P["team_m"],
            add_ons=[] if yearly else [P["starter_small"], P["starter_remote"]],
        )
    currency = "eur" if rng.random() < 0.1 else "usd"
    yearly = currency == "usd" and rng.random() < 0.15
    items = [(P["team_y" if yearly else "team_m"], 1)]
    item_coupon = None
    if rng.random() < 0.7:
        items.append((P["team_small_y" if yearly else "team_small"], rng.randint(1, 6)))
        if not yearly and rng.random() < 0.12:
            item_coupon = (1, C["addon"])
    add_ons: list[Json] = []
    if currency == "usd" and not yearly:
        add_ons = [P["team_small"], tiered[P["team_medium"]["id"]], tiered[P["team_large"]["id"]]]
        if rng.random() < 0.35:
            items.append((tiered[P["team_medium"]["id"]], rng.randint(1, 9)))
        if rng.random() < 0.2:
            items.append((tiered[P["team_large"]["id"]], rng.randint(1, 4)))
        if rng.random() < 0.4:
            items.append((P["team_remote"], None))
    return Plan(items, currency, chosen, item_coupon, add_ons=add_ons)


def demo_account() -> Account:
    """Two years of a growing business: sign-ups doubling every eight months."""
    account = Account(NOW, seed=2026, odds=Odds(unknowable=0.4))
    rng = account.rng
    customers: list[str] = []
    for n in range(SIGNUPS):
        created = growing(rng, NOW - YEARS_BACK, NOW, doubling_days=240)
        if customers and rng.random() < 0.04:
            customer = rng.choice(customers)  # a second subscription, same customer
        else:
            customer = f"cus_TdDemo{n:06d}"
            customers.append(customer)
        account.start(customer, created, plan(rng))
    calm = Odds(trial=0, incomplete=0, change=0, add_on=0, drop_add_on=0, upgrade=0, cancel=0)
    calm = dataclasses.replace(calm, late=0, failed=0, pause=0, come_back=0)
    showcase = [
        (NOW - 60 * DAY, Plan([(P["team_m"], 1)], coupon=C["nonprofit"])),  # 100 % off
        (NOW - 3 * DAY, Plan([(P["team_m"], 1), (P["team_small"], 2)], item_trial_days=14)),
        (NOW - 9 * DAY, Plan([(P["starter_m"], 1), (P["starter_small"], 1)], item_trial_days=14)),
        # Renewed half an hour ago: its invoice is still a draft.
        (add_months(NOW - 1800, -1), Plan([(P["starter_m"], 1)])),
    ]
    odds, account.odds = account.odds, calm
    for n, (created, fixed) in enumerate(showcase, start=SIGNUPS + TODAY):
        account.start(f"cus_TdDemo{n:06d}", created, fixed)
    account.odds = odds
    for n in range(SIGNUPS, SIGNUPS + TODAY):  # today's sign-ups: two not paid yet
        created = NOW - rng.randint(1, 20) * 3600
        account.odds.awaiting = 100 if n < SIGNUPS + 2 else 0
        account.start(f"cus_TdDemo{n:06d}", created, plan(rng))
    return account


FIRST = ["Acme", "Blue", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper"]
SECOND = ["Robotics", "Foods", "Logistics", "Labs", "Energy", "Water", "Textiles", "Farms"]
SUFFIX = ["GmbH", "Inc.", "Ltd", "B.V.", "S.A.", "Oy", "AB", "LLC"]


def customers(account: Account) -> list[Json]:
    """A name for every customer, as GET /v1/customers lists them (one has none)."""
    first: dict[str, int] = {}
    for sub in account.subscriptions:
        first[sub["customer"]] = min(first.get(sub["customer"], sub["created"]), sub["created"])
    listed = []
    for n, (customer_id, created) in enumerate(sorted(first.items())):
        words = (FIRST[n % 10], SECOND[(n // 10) % 8], SUFFIX[(n // 80) % 8])
        name = "" if n == 7 else " ".join(words)
        listed.append(sf.customer(customer_id, name, created=created))
    return listed


def demo_bundle() -> dict[str, Any]:
    account = demo_account()
    return {
        "fetched_at": NOW,
        "history_from": NOW - YEARS_BACK,  # the business began then
        "subscriptions": sorted(account.subscriptions, key=lambda s: (-s["created"], s["id"])),
        "prices": [{**body, **tiered} for body in P.values() for tiered in [_tiers(body)]],
        "coupons": BUNDLE_COUPONS,
        "products": PRODUCTS,
        "invoices": sorted(account.invoices, key=lambda i: (-i["created"], i["id"])),
        "invoice_items": account.invoice_items,
        "customers": customers(account),
    }


def _tiers(price: Json) -> Json:
    tiered = {p["id"]: p for p in TIERED_PRICES}
    return {"tiers": tiered[price["id"]]["tiers"]} if price["id"] in tiered else {}


def demo_bytes() -> bytes:
    text = json.dumps(demo_bundle(), separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def main() -> None:
    OUT.write_bytes(gzip.compress(demo_bytes(), compresslevel=9, mtime=0))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
