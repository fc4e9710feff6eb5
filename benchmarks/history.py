"""How fast ffkpi rebuilds two years of weeks from invoices, and how close its live read
of them comes to the floor Stripe's rate limit sets.

Simulates N subscriptions billed monthly or yearly for two years (scripts/billing_sim.py:
prorations, trials, failed payments, pauses, cancellations), written as Stripe list
pages of 100 in the shapes of API version 2026-10-28.endive, then measures in one run,
each part in a fresh process so that its peak memory is its own:

- offline: parse every page (subscriptions, invoices with their lines, pending invoice
  items) into ffkpi's values, then rebuild 104 weeks; against one `ffkpi mrr` report
  on the same subscriptions (parse + compute), and compute_report alone;
- live: AccountReader with history against the fake Stripe (tests/fake_stripe.py) at
  L ms latency and R requests/s, then the same rebuild, against the floor: the pages
  it must read / R.

Usage: uv run python benchmarks/history.py [--subscriptions 10000] [--no-live]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

PAGE = 100
AS_OF = date(2026, 11, 17)
WEEKS = 104


def generate(folder: Path, count: int, profile: str) -> dict[str, int]:
    """The simulated account as list pages (JSON lines) and as one bundle for the fake.

    bench: `count` monthly subscriptions created in the first month, two years of
    invoices each. small: a small growing business like the demo's (sign-ups doubling
    every eight months over two years, every plan and change the demo has, and one
    period in twenty busy with seat changes), `count` sign-ups."""
    import billing_sim
    import make_demo

    start = make_demo.NOW - 730 * billing_sim.DAY
    if profile in ("small", "plain"):
        # small: some periods busy with seat changes, invoices of more than ten lines,
        # whose lines a list page does not embed whole (a request each). plain: none, and
        # another seed: yearly and monthly plans, trials and pauses, every invoice whole
        # on its page.
        odds = billing_sim.Odds(busy=5) if profile == "small" else billing_sim.Odds()
        seed = 919 if profile == "small" else 2024
        account = billing_sim.Account(make_demo.NOW, seed=seed, odds=odds)
        rng = account.rng
        for n in range(count):
            created = billing_sim.growing(rng, start, make_demo.NOW, doubling_days=240)
            account.start(f"cus_Small{n:06d}", created, make_demo.plan(rng))
    else:
        odds = billing_sim.Odds(cancel=0.4, come_back=0, trial=10, incomplete=0.5)
        account = billing_sim.Account(make_demo.NOW, seed=42, odds=odds)
        rng = account.rng
        for n in range(count):
            created = start + rng.randint(0, 30 * billing_sim.DAY)  # two years of invoices
            plan = make_demo.plan(rng)
            while plan.items[0][0]["recurring"]["interval"] != "month":
                plan = make_demo.plan(rng)  # monthly: an invoice a month, as most accounts
            account.start(f"cus_Bench{n:07d}", created, plan)
    side = {
        "prices": [{**p, **make_demo._tiers(p)} for p in make_demo.P.values()],
        "coupons": make_demo.BUNDLE_COUPONS,
        "products": make_demo.PRODUCTS,
    }
    lists = {
        "subscriptions": sorted(account.subscriptions, key=lambda s: (-s["created"], s["id"])),
        "invoices": sorted(account.invoices, key=lambda i: (-i["created"], i["id"])),
        "invoice_items": account.invoice_items,
    }
    for name, objects in lists.items():
        with (folder / f"{name}.jsonl").open("w") as out:
            for first in range(0, len(objects), PAGE):
                page = {"object": "list", "data": objects[first : first + PAGE], "has_more": True}
                out.write(json.dumps(page, separators=(",", ":")) + "\n")
    (folder / "side.json").write_text(json.dumps(side))
    bundle = {"fetched_at": make_demo.NOW, "history_from": start, **side, **lists}
    (folder / "bundle.json").write_text(json.dumps(bundle, separators=(",", ":")))
    lines = sum(len(i["lines"]["data"]) for i in account.invoices)
    return {
        # Invoices whose lines a list page does not embed whole: a request each.
        "long_invoices": sum(1 for i in account.invoices if len(i["lines"]["data"]) > 10),
        "subscriptions": len(account.subscriptions),
        "invoices": len(account.invoices),
        "lines": lines,
        "pending": len(account.invoice_items),
        "pages": sum(-(-len(objects) // PAGE) for objects in lists.values()),
        "bytes": sum((folder / f"{name}.jsonl").stat().st_size for name in lists),
        "history_from": start,
    }


def bench_config_text() -> str:
    """The demo's config, metered items left out: `ffkpi mrr` reads no invoices then."""
    from ffkpi.sources.demo import example_config_text

    return example_config_text().replace('metered = "last_invoice"', 'metered = "exclude"')


def bench_config() -> Any:
    from ffkpi.config import parse_config

    return parse_config(bench_config_text(), "the benchmark config")


def peak_mb() -> float:
    """This process's peak resident memory. Not getrusage's ru_maxrss: Linux keeps that
    across exec, so a child would report the parent's peak (the simulation's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def days() -> list[date]:
    return [AS_OF - timedelta(weeks=k) for k in range(WEEKS - 1, -1, -1)]


def offline(folder: str, history_from: str) -> None:
    """Parse the pages and rebuild, timed from after the imports."""
    import msgspec

    import make_demo
    from ffkpi.engine.model import Dataset
    from ffkpi.engine.mrr import compute_report
    from ffkpi.history.growth import customers_in
    from ffkpi.history.movements import week_moves
    from ffkpi.history.rebuild import dataset_at, instant_of, rebuild
    from ffkpi.history.reconcile import reconcile
    from ffkpi.history.series import Customers
    from ffkpi.history.timeline import Timelines
    from ffkpi.stripe.billed import Biller, lifetime
    from ffkpi.stripe.payloads import (
        Page,
        StripeCoupon,
        StripeInvoice,
        StripeInvoiceItem,
        StripePrice,
        StripeProduct,
        StripeSubscription,
    )
    from ffkpi.stripe.resolve import Resolver, bulk_allocation

    here = Path(folder)
    config = bench_config()
    side = json.loads((here / "side.json").read_text())

    def resolver() -> Resolver:
        return Resolver(
            msgspec.convert(side["prices"], list[StripePrice]),
            msgspec.convert(side["coupons"], list[StripeCoupon]),
            msgspec.convert(side["products"], list[StripeProduct]),
        )

    def pages(name: str, kind: Any) -> Any:
        with (here / f"{name}.jsonl").open("rb") as lines:
            for line in lines:
                yield from msgspec.json.decode(line, type=Page[kind]).data

    figures: dict[str, Any] = {}
    with bulk_allocation():
        # One `ffkpi mrr` on the same subscriptions: parse them, compute the report.
        began = time.perf_counter()
        names = resolver()
        subscriptions = tuple(
            names.subscription(s) for s in pages("subscriptions", StripeSubscription)
        )
        parsed = time.perf_counter()
        today = Dataset(subscriptions, product_names=names.product_names)
        report = compute_report(today, config, AS_OF)
        figures["mrr_report"] = time.perf_counter() - began
        figures["compute_report"] = time.perf_counter() - parsed

        began = time.perf_counter()
        known = resolver()
        lifetimes = {}
        subs = []
        for sub in pages("subscriptions", StripeSubscription):
            subs.append(known.subscription(sub))
            lifetimes[sub.id] = lifetime(sub)
        biller = Biller(known)
        invoices = [b for i in pages("invoices", StripeInvoice) if (b := biller.invoice(i))]
        invoices += biller.pending(pages("invoice_items", StripeInvoiceItem))
        data = Dataset(
            tuple(subs),
            product_names=known.product_names,
            lifetimes=lifetimes,
            invoices=tuple(invoices),
            read_at=make_demo.NOW,
            history_from=int(history_from),
        )
        figures["parse"] = time.perf_counter() - began
    began = time.perf_counter()
    weeks = rebuild(data, config, days())
    figures["rebuild"] = time.perf_counter() - began
    figures["peak_rss_mb"] = peak_mb()  # before the comparisons below
    # The way it is not done: every subscription read at every week, one report a week.
    began = time.perf_counter()
    indexed = list(Timelines(data))
    naive = [
        compute_report(dataset_at(data, indexed, instant_of(day, data.read_at)), config, day)
        for day in days()
    ]
    figures["naive"] = time.perf_counter() - began
    assert [r.mrr for r in naive] == [r.mrr for r in weeks.reports]
    del naive, indexed
    # What moved MRR, from each week's customers as `history` gets them: in total (as
    # `history` shows), then per tier (as `history --by-tier` adds).
    files = [
        Customers(
            r.currency, tuple(t.name for t in config.tiers), r.customer_tiers, r.customer_totals
        )
        for r in weeks.reports
    ]
    began = time.perf_counter()
    moved = week_moves([customers_in(c, None) for c in files])
    figures["movements"] = time.perf_counter() - began
    began = time.perf_counter()
    for tier in config.tiers:
        week_moves([customers_in(c, tier.name) for c in files])
    figures["tier_movements"] = time.perf_counter() - began
    figures["moved_customers"] = sum(len(week.changes) for week in moved)
    # The week of the read against the read itself, with the causes of a difference
    # (a pause ended by a renewal still in draft, say: invoices cannot show it yet).
    check = reconcile(data, config, AS_OF)
    assert check.live == report.mrr
    figures["causes"] = [f"{c.subscriptions} {c.what}: {c.difference:.2f}" for c in check.causes]
    figures["mrr"] = float(report.mrr)
    figures["rebuilt_mrr"] = float(weeks.reports[-1].mrr)
    figures["weeks"] = [str(report.mrr) for report in weeks.reports]
    figures["first_mrr"] = float(weeks.reports[0].mrr)
    print(json.dumps(figures))


def live(url: str, history_from: str, max_rps: str) -> None:
    """The live read with history, then the rebuild, timed from after the imports."""
    from fake_stripe import SECRET_KEY
    from ffkpi.history.rebuild import rebuild
    from ffkpi.stripe.account import AccountReader
    from ffkpi.stripe.http import StripeHttp

    config = bench_config()
    began = time.perf_counter()
    import make_demo

    http = StripeHttp(SECRET_KEY, api_base=url, max_rps=float(max_rps))
    reader = AccountReader(http, now=make_demo.NOW)  # the data's clock, as a real read's
    data = reader.read(
        invoices_for=None,
        canceled=True,
        history_from=int(history_from),
    )
    read = time.perf_counter() - began
    weeks = rebuild(data, config, days())
    print(
        json.dumps(
            {
                "read": read,
                "total": time.perf_counter() - began,
                "requests": http.counters.requests,
                "invoices": len(data.invoices),
                "weeks": [str(report.mrr) for report in weeks.reports],
                "peak_rss_mb": peak_mb(),
            }
        )
    )


def child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed: {done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--profile",
        choices=("bench", "small", "plain"),
        default="bench",
        help="bench: N monthly subscriptions from the start; small: a small growing account; "
        "plain: another, with no busy periods",
    )
    parser.add_argument("--subscriptions", type=int, help="default 10,000 (small: 850 sign-ups)")
    parser.add_argument("--latency-ms", type=float, default=300)
    parser.add_argument("--rate-limit", type=float, default=25)
    parser.add_argument("--share", type=float, default=0.98)
    parser.add_argument("--no-live", action="store_true", help="skip the live read")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        {"offline": offline, "live": live}[args.child[0]](*args.child[1:])
        return
    count = args.subscriptions or (10_000 if args.profile == "bench" else 850)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"simulating {count:,} sign-ups over two years ({args.profile}) ...", flush=True)
        made = generate(folder, count, args.profile)
        print(
            f"{made['subscriptions']:,} subscriptions, {made['invoices']:,} invoices with "
            f"{made['lines']:,} lines ({made['long_invoices']:,} invoices with more than 10), "
            f"{made['pending']:,} pending items: {made['pages']:,} pages, "
            f"{made['bytes'] / 1e6:,.0f} MB of JSON"
        )
        # The pages of the lists, a request for the lines of each long invoice, and the
        # three side lists (prices, coupons, products).
        needed = made["pages"] + made["long_invoices"] + 3
        floor = needed / args.rate_limit
        ours = child("offline", str(folder), str(made["history_from"]))
        work = ours["parse"] + ours["rebuild"]
        print(
            f"\nrate-limit floor of the requests needed (/ {args.rate_limit:g}/s): {floor:8.1f} s"
        )
        print(f"parse every page              : {ours['parse']:8.2f} s")
        print(f"rebuild {WEEKS} weeks              : {ours['rebuild']:8.2f} s")
        print(f"parse + rebuild               : {work:8.2f} s = {work / floor:.3f}x the floor")
        print(
            f"one `ffkpi mrr` on the same subscriptions (parse + compute): "
            f"{ours['mrr_report']:.3f} s; rebuild = {ours['rebuild'] / ours['mrr_report']:.2f}x"
        )
        print(
            f"compute_report alone: {ours['compute_report']:.3f} s; rebuild = "
            f"{ours['rebuild'] / ours['compute_report']:.1f}x"
        )
        print(
            f"one report a week on every subscription read at it: {ours['naive']:.2f} s "
            f"= {ours['naive'] / ours['rebuild']:.1f}x the rebuild"
        )
        print(
            f"movements in total            : {ours['movements']:8.2f} s = "
            f"{ours['movements'] / work:.1%} of parse + rebuild "
            f"({ours['moved_customers']:,} customer moves)"
        )
        both = ours["movements"] + ours["tier_movements"]
        print(f"  and per tier as well        : {both:8.2f} s = {both / work:.1%}")
        print(f"peak RSS (parse + rebuild)    : {ours['peak_rss_mb']:,.0f} MB")
        print(
            f"MRR {WEEKS} weeks ago {ours['first_mrr']:,.2f}; the week of the read "
            f"{ours['rebuilt_mrr']:,.2f}, the read itself {ours['mrr']:,.2f}"
            + "".join(f"\n  {cause}" for cause in ours["causes"])
        )
        if args.no_live:
            return
        print(f"\nstarting the fake Stripe ({args.latency_ms:g} ms, {args.rate_limit:g}/s) ...")
        fake = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests" / "fake_stripe.py"),
                "--bundle",
                str(folder / "bundle.json"),
                "--latency-ms",
                str(args.latency_ms),
                "--rate-limit",
                str(args.rate_limit),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert fake.stdout is not None
            url = fake.stdout.readline().strip()
            time.sleep(1.1)
            read = child("live", url, str(made["history_from"]), str(args.rate_limit * args.share))
        finally:
            fake.kill()
        startup = args.latency_ms / 1000
        ratio = (read["read"] - startup) / floor
        print(
            f"live read with history        : {read['read']:8.1f} s = {ratio:.2f}x the floor "
            f"plus {startup:g} s start-up; {read['requests']:.0f} requests, "
            f"{read['requests'] - needed:.0f} beyond the {needed} needed"
        )
        print(f"read + rebuild                : {read['total']:8.1f} s")
        print(f"peak RSS (live read + rebuild): {read['peak_rss_mb']:,.0f} MB")
        # The last week is the read's own: the pages were "read" at the simulation's
        # instant, the live read later, so only the weeks before it must agree.
        same = read["weeks"][:-1] == ours["weeks"][:-1]
        print(f"live read rebuilds the weeks the pages do: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
