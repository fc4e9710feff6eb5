"""How close ffkpi's live read comes to the floor Stripe's rate limit sets.

Starts the fake Stripe (tests/fake_stripe.py) in its own process with N generated
subscriptions, L ms of latency per request and a rate limit of R requests/s, then times
in one run:

- ffkpi: `ffkpi mrr` against it (fetch + compute, JSON out), in its own process so its
  peak memory is its own;
- the plain approach most scripts use: one sequential `auto_paging_iter` over
  `client.v1.subscriptions.list`, building SDK objects.

It does so for three creation-time profiles of N subscriptions (even over two years; a
growing business's, most recent and 500 created in one second by a bulk import; ages of
seven years x u^2.5, and 300 in one second), metered items left out; and for a small
account, the demo's 594 subscriptions read as `ffkpi mrr --demo`'s config reads them
(metered items at their newest invoices) at test mode's default of 10 requests/s.
For each it prints the floor (the requests needed / the rate: subscription pages, the
side data, and for the small account the pages of the invoices its metered items
need), ffkpi's time as a multiple of the floor plus start-up (one latency, before
which no answer can come back), the requests beyond those needed, and the speed-up.
The reader's clock is the data's: its newest subscriptions are as recent as a real
account's.

Usage: uv run python benchmarks/fetch.py --subscriptions 10000 --latency-ms 300 --rate-limit 25
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ffkpi.stripe.account import DEFAULT_CONCURRENCY
from ffkpi.stripe.lists import SIDE, SUBSCRIPTIONS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
SIDE_LISTS = tuple(endpoint.path for endpoint in SIDE)  # read whole, once
PAGE = 100
PLAIN_EXPAND = "data.discounts.source.coupon"
# uniform: creation times even over two years; growing: most recent, and a bulk second
# (tests/fake_stripe.py's growing()); power: ages of seven years x u^2.5, and a bulk
# second (power_law()).
PROFILES = ("uniform", "growing", "power", "small")
SMALL_RPS = 10.0  # ffkpi's default --max-rps for a test-mode key


def start_fake(
    count: int, latency_ms: float, rate_limit: float, profile: str, bundle: Path | None = None
) -> tuple[subprocess.Popen[str], str]:
    data = ["--bundle", str(bundle)] if bundle else ["--subscriptions", str(count)]
    fake = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "fake_stripe.py"),
            *data,
            "--profile",
            profile if bundle is None else "uniform",
            "--latency-ms",
            str(latency_ms),
            "--rate-limit",
            str(rate_limit),
            # Serve from memory: the benchmark times latency and rate limit, not the fake.
            "--prerender",
            ",".join(SUBSCRIPTIONS.expand),
            "--prerender",
            PLAIN_EXPAND,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None
    url = fake.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        fake.kill()
        raise SystemExit(f"the fake Stripe did not start: {url!r}")
    return fake, url


def run_ffkpi(
    url: str, config: Path, max_rps: float, concurrency: int, now: int
) -> dict[str, float]:
    """ffkpi's fetch + compute in a fresh process: its own timing, peak RSS, wall time."""
    began = time.perf_counter()
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            url,
            str(config),
            str(max_rps),
            str(concurrency),
            str(now),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    if child.returncode != 0:
        raise SystemExit(f"ffkpi failed: {child.stderr}")
    measured: dict[str, float] = json.loads(child.stdout)
    measured["wall"] = wall
    return measured


def child(url: str, config_path: str, max_rps: str, concurrency: str, now: str) -> None:
    """What `ffkpi mrr` does against live Stripe, timed from after the imports."""
    from datetime import date

    sys.path.insert(0, str(ROOT / "tests"))
    from fake_stripe import SECRET_KEY
    from ffkpi.cli.runs import invoices_for
    from ffkpi.engine.mrr import compute_report
    from ffkpi.render import report_json
    from ffkpi.storage.config_file import load_config
    from ffkpi.stripe.account import AccountReader
    from ffkpi.stripe.http import StripeHttp

    config = load_config(Path(config_path))
    began = time.perf_counter()
    http = StripeHttp(SECRET_KEY, api_base=url, max_rps=float(max_rps))
    side = Counter[str]()
    get = http.get

    def counted(path: str, params: Any = None) -> bytes:
        side[path] += 1
        return get(path, params)

    http.get = counted  # type: ignore[method-assign]
    reader = AccountReader(http, concurrency=int(concurrency), now=int(now))
    dataset = reader.read(invoices_for=invoices_for(config))
    report_json(compute_report(dataset, config, date(2026, 11, 17)))
    elapsed = time.perf_counter() - began
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "requests": http.counters.requests,
                "side_requests": sum(n for path, n in side.items() if path in SIDE_LISTS),
                "subscriptions": len(dataset.subscriptions),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def run_plain(url: str) -> tuple[float, int]:
    import stripe

    sys.path.insert(0, str(ROOT / "tests"))
    from fake_stripe import SECRET_KEY

    stripe.enable_telemetry = False
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": url})
    began = time.perf_counter()
    count = 0
    pages = client.v1.subscriptions.list(params={"limit": PAGE, "expand": [PLAIN_EXPAND]})
    for _ in pages.auto_paging_iter():
        count += 1
    return time.perf_counter() - began, count


def metered_pages(bundle: dict[str, Any]) -> int:
    """The fewest requests that give the newest invoice of every metered item the demo's
    config counts: the pages of the invoices of the last two monthly periods and a week,
    or a request per subscription with metered items, whichever is fewer."""
    now = bundle["fetched_at"]
    recent = sum(1 for i in bundle["invoices"] if i["created"] >= now - (2 * 31 + 7) * 86_400)
    metered = sum(
        1
        for sub in bundle["subscriptions"]
        if sub["status"] in ("active", "past_due")
        and any(i["price"]["recurring"]["usage_type"] == "metered" for i in sub["items"]["data"])
    )
    return min(-(-recent // PAGE), metered)


def measure(args: argparse.Namespace, profile: str, max_rps: float) -> None:
    """One profile: start its fake Stripe, time ffkpi (and the plain approach), print."""
    import make_demo

    print(f"\n[{profile}] starting the fake Stripe ...", flush=True)
    small = profile == "small"
    with tempfile.TemporaryDirectory() as tmp:
        bundle = make_demo.demo_bundle() if small else None
        if bundle is not None:
            (Path(tmp) / "bundle.json").write_text(json.dumps(bundle))
        fake, url = start_fake(
            args.subscriptions,
            args.latency_ms,
            args.rate_limit,
            profile,
            Path(tmp) / "bundle.json" if small else None,
        )
        try:
            # The plain approach reads subscriptions only: so does ffkpi here, but for
            # the small account, read as the demo's config reads it.
            config = Path(tmp) / "ffkpi.toml"
            text = (ROOT / "config.example.toml").read_text()
            if not small:
                text = text.replace('metered = "last_invoice"', 'metered = "exclude"')
            config.write_text(text)
            time.sleep(1.1)  # let the fake's rate window empty
            rps = min(max_rps, SMALL_RPS) if small else max_rps
            ours = run_ffkpi(url, config, rps, args.concurrency, make_demo.NOW)
            time.sleep(1.1)
            plain = run_plain(url) if args.plain == profile else None
        finally:
            fake.kill()

    # An unfiltered list returns every subscription but the canceled ones.
    listed = int(ours["subscriptions"])
    assert plain is None or plain[1] == listed, (plain, listed)
    pages = -(-listed // PAGE)
    needed = pages + ours["side_requests"] + (metered_pages(bundle) if bundle else 0)
    floor = needed / (SMALL_RPS if small else args.rate_limit)
    startup = args.latency_ms / 1000  # no answer can come back sooner
    ratio = (ours["seconds"] - startup) / floor
    print(
        f"[{profile}] N={listed:,}  latency={args.latency_ms:g} ms  rate limit="
        f"{args.rate_limit:g}/s  (ffkpi: --max-rps {rps:g} --concurrency {args.concurrency})"
    )
    print(
        f"floor (needed / rate) : {floor:8.2f} s  ({pages} subscription pages + "
        f"{needed - pages:.0f} other requests)"
    )
    print(
        f"ffkpi fetch + compute : {ours['seconds']:8.2f} s  = {ratio:.2f}x the floor plus "
        f"{startup:g} s start-up; {ours['requests']:.0f} requests ({ours['requests'] - needed:.0f}"
        f" beyond those needed), peak RSS {ours['peak_rss_mb']:,.0f} MB\n"
        f"ratio {profile}: {ratio:.2f}"
    )
    print(f"  whole process       : {ours['wall']:8.2f} s  (with Python start-up and imports)")
    if plain:
        print(f"plain auto_paging_iter: {plain[0]:8.2f} s  ({plain[1]:,} SDK objects)")
        print(f"speed-up              : {plain[0] / ours['seconds']:8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=300)
    parser.add_argument("--rate-limit", type=float, default=25)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        action="append",
        help="creation-time profile(s) to run (default: both)",
    )
    parser.add_argument(
        "--plain",
        choices=(*PROFILES, "none"),
        default="uniform",
        help="which profile also times the plain approach (it is slow: minutes at 20,000)",
    )
    parser.add_argument(
        "--share", type=float, default=0.98, help="ffkpi's --max-rps as a share of the limit"
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    max_rps = args.rate_limit * args.share  # just under the limit, as Stripe asks bulk readers
    for profile in args.profile or PROFILES:
        measure(args, profile, max_rps)


if __name__ == "__main__":
    main()
