"""How fast ffkpi turns Stripe JSON into a report, against the stripe SDK building objects.

Generates N subscriptions in the full shapes of API version 2026-10-28.endive, as list
pages of 100 (what GET /v1/subscriptions returns), then times in one run, each in a
fresh process so that its peak memory is its own:

- ffkpi: parse every page into its models, build the domain values, compute the report;
- the stripe SDK: parse every page and turn it into StripeObjects, which is what the
  SDK does with every response before a script can read a field.

Usage: uv run python benchmarks/engine.py [--subscriptions N]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

PAGE = 100


def generate(path: Path, count: int) -> int:
    """Write `count` subscriptions as JSON lines of list pages; returns the bytes written."""
    import make_demo

    builder = make_demo.Builder(seed=7)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, count, PAGE):
            for n in range(start, min(count, start + PAGE)):
                builder.subscription(n, builder.kind())
            page = {
                "object": "list",
                "data": builder.subscriptions,
                "has_more": start + PAGE < count,
                "url": "/v1/subscriptions",
            }
            written += out.write(json.dumps(page, separators=(",", ":")) + "\n")
            builder.subscriptions.clear()
            builder.invoices.clear()
    return written


def run_ffkpi(path: Path) -> dict[str, float]:
    from collections.abc import Iterator

    import msgspec

    import make_demo
    from ffkpi.engine.mrr import compute_report
    from ffkpi.sources.demo import DEMO_AS_OF, demo_config
    from ffkpi.stripe.payloads import Page, StripeCoupon, StripePrice, StripeSubscription
    from ffkpi.stripe.resolve import build_dataset

    config = demo_config()
    prices = [msgspec.convert(p, type=StripePrice) for p in make_demo.TIERED_PRICES]
    coupons = [msgspec.convert(c, type=StripeCoupon) for c in make_demo.BUNDLE_COUPONS]

    def subscriptions() -> Iterator[StripeSubscription]:
        with path.open("rb") as pages:
            for line in pages:
                yield from msgspec.json.decode(line, type=Page[StripeSubscription]).data

    started = time.perf_counter()
    data = build_dataset(subscriptions(), prices, coupons)
    report = compute_report(data, config, DEMO_AS_OF)
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "count": len(data.subscriptions), "mrr": float(report.mrr)}


def run_sdk(path: Path) -> dict[str, float]:
    import stripe

    stripe.enable_telemetry = False
    count = 0
    started = time.perf_counter()
    with path.open("rb") as pages:
        for line in pages:
            page = stripe.convert_to_stripe_object(json.loads(line))
            count += len(page.data)
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "count": count}


def child(phase: str, path: Path) -> dict[str, float]:
    """Run one phase in a fresh interpreter; its peak RSS is its own."""
    result = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--file", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    measured: dict[str, float] = json.loads(result.stdout)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--phase", choices=["ffkpi", "sdk"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        result = run_ffkpi(args.file) if args.phase == "ffkpi" else run_sdk(args.file)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pages.jsonl"
        size = generate(path, args.subscriptions)
        print(
            f"{args.subscriptions:,} subscriptions in {size / 1e6:,.0f} MB of Stripe JSON "
            f"({size / args.subscriptions / 1000:.1f} kB each), pages of {PAGE}"
        )
        ours = child("ffkpi", path)
        sdk = child("sdk", path)
    assert ours["count"] == sdk["count"] == args.subscriptions
    ours_rate = ours["count"] / ours["seconds"]
    sdk_rate = sdk["count"] / sdk["seconds"]
    print(
        f"ffkpi parse + compute : {ours['seconds']:7.2f} s  {ours_rate:9,.0f} subscriptions/s  "
        f"peak RSS {ours['peak_rss_mb']:,.0f} MB"
    )
    print(
        f"stripe SDK objects    : {sdk['seconds']:7.2f} s  {sdk_rate:9,.0f} subscriptions/s  "
        f"peak RSS {sdk['peak_rss_mb']:,.0f} MB"
    )
    print(f"ffkpi / SDK rate      : {ours_rate / sdk_rate:.1f}x")
    print(f"ffkpi / Stripe's ceiling of 2,500 subscriptions/s : {ours_rate / 2500:.1f}x")


if __name__ == "__main__":
    main()
