"""Peak memory and time of `ffkpi mrr --input`, `ffkpi history --input` and `ffkpi review
--input` as accounts grow, read from the file `ffkpi fetch` writes (a read in JSON lines),
in one run.

Simulates accounts of N subscriptions billed monthly for two years (benchmarks/history.py's
"bench" profile, scripts/billing_sim.py), written straight to a read in JSON lines a
thousand subscriptions at a time, so the generator never holds the account either. Each
command runs in a fresh process with --jobs 1 (one process: its peak resident memory is
the job's), and reports its own peak (VmHWM). At the smallest size the same account is
also written as one JSON document (the bundle format of earlier versions), read the way
that format must be (whole), and the outputs of the two are compared byte for byte (up to
30,000 subscriptions: past that the whole document needs gigabytes).

With --folder, each account is also backfilled into a snapshot folder (`ffkpi backfill
--input`, every week of its two years), and `history` and `review` are run again from
that folder (`--dir`): the weekly run's path. With --named, every customer has a name in
the read's catalog (as GET /v1/customers lists them), which the customer files then keep.

Usage: uv run python benchmarks/memory.py [--sizes 10000 30000 100000] [--folder] [--named]
       [--keep FOLDER]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))

import history as bench  # noqa: E402
from ffkpi.sources.stream_writer import Writer, owner  # noqa: E402

BATCH = 1_000
COMMANDS = ("mrr", "history", "review")
FOLDER_COMMANDS = ("backfill", "history --dir", "review --dir")
WHOLE_UP_TO = 30_000  # the one-document comparison reads the file whole: past this, GBs
# Runs ffkpi in this process, then reports the process's own peak resident memory.
WRAPPER = """
import sys
from pathlib import Path
from ffkpi.cli.app import main
try:
    main()
finally:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            sys.stderr.write(f"\\npeak_kb={line.split()[1]}\\n")
"""


def generate(
    path: Path, count: int, bundle: Path | None = None, *, named: bool = False
) -> dict[str, int]:
    """`count` subscriptions as a read in JSON lines at `path` (and, given `bundle`, as
    one JSON document there too), simulated a batch at a time; with `named`, a name for
    each customer in the catalog."""
    import billing_sim
    import make_demo

    start = make_demo.NOW - 730 * billing_sim.DAY
    odds = billing_sim.Odds(cancel=0.4, come_back=0, trial=10, incomplete=0.5)
    account = billing_sim.Account(make_demo.NOW, seed=42, odds=odds)
    rng = account.rng
    side = {
        "prices": [{**p, **make_demo._tiers(p)} for p in make_demo.P.values()],
        "coupons": make_demo.BUNDLE_COUPONS,
        "products": make_demo.PRODUCTS,
    }
    lists = ["subscriptions", "prices", "coupons", "products", "invoices", "invoice_items"]
    if named:
        lists.append("customers")
    figures = {"subscriptions": 0, "invoices": 0}
    whole: dict[str, list[Any]] = {"subscriptions": [], "invoices": [], "invoice_items": []}
    with path.open("wb") as out:
        # One subscription a sign-up (no customer comes back): the count is known.
        writer = Writer(out, lists, count, make_demo.NOW, start)
        for key, objects in side.items():
            writer.objects(key, objects)
        for first in range(0, count if named else 0, BATCH):
            listed = [customer(n) for n in range(first, min(count, first + BATCH))]
            writer.objects("customers", listed)
            if bundle is not None:
                side.setdefault("customers", []).extend(listed)  # after its own lines
        for first in range(0, count, BATCH):
            for n in range(first, min(count, first + BATCH)):
                created = start + rng.randint(0, 30 * billing_sim.DAY)
                plan = make_demo.plan(rng)
                while plan.items[0][0]["recurring"]["interval"] != "month":
                    plan = make_demo.plan(rng)
                account.start(customer(n)["id"], created, plan)
            owned: dict[str, dict[str, list[Any]]] = {}
            for key in ("invoices", "invoice_items"):
                for entry in getattr(account, key):
                    sub_id = owner(entry)
                    assert sub_id is not None
                    owned.setdefault(sub_id, {}).setdefault(key, []).append(entry)
            for sub in account.subscriptions:
                writer.subscription(
                    json.dumps(sub, separators=(",", ":")), owned.get(sub["id"], {})
                )
            figures["subscriptions"] += len(account.subscriptions)
            figures["invoices"] += len(account.invoices)
            if bundle is not None:
                for key in whole:
                    whole[key] += getattr(account, key)
            account.subscriptions.clear()
            account.invoices.clear()
            account.invoice_items.clear()
    assert figures["subscriptions"] == count, "a customer came back: the header's count is off"
    if bundle is not None:
        document = {"fetched_at": make_demo.NOW, "history_from": start, **side, **whole}
        bundle.write_text(json.dumps(document, separators=(",", ":")))
    figures["bytes"] = path.stat().st_size
    return figures


def customer(n: int) -> dict[str, Any]:
    """The `n`th customer as GET /v1/customers lists it, named as make_demo names them."""
    import make_demo
    import stripe_fixtures

    words = (make_demo.FIRST[n % 10], make_demo.SECOND[(n // 10) % 8], make_demo.SUFFIX[n % 8])
    name = f"{' '.join(words)} {n}"
    return stripe_fixtures.customer(f"cus_Bench{n:07d}", name, created=make_demo.NOW)


def run(command: list[str], config: Path) -> tuple[float, float, bytes]:
    """Seconds, peak MB and stdout of one ffkpi command in a fresh process."""
    env = {**os.environ, "FFKPI_JOBS": "1"}
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command, "--config", str(config), "-f", "json"],
        capture_output=True,
        env=env,
        check=False,
    )
    taken = time.perf_counter() - began
    err = done.stderr.decode()
    if done.returncode != 0:
        raise SystemExit(f"{command} failed: {err}")
    peak = int(err.rsplit("peak_kb=", 1)[1].split()[0]) / 1024
    return taken, peak, done.stdout


def folder_runs(read: Path, snapshots: Path, config: Path) -> dict[str, tuple[float, float]]:
    """`backfill` of every week of the read into `snapshots`, then `history` and
    `review` from the folder: seconds and peak MB of each."""
    import billing_sim
    import make_demo

    since = datetime.fromtimestamp(make_demo.NOW - 730 * billing_sim.DAY, UTC).date()
    found: dict[str, tuple[float, float]] = {}
    taken, peak, _ = run(
        ["backfill", "--input", str(read), "--since", str(since), "--dir", str(snapshots)], config
    )
    found["backfill"] = (taken, peak)
    for name in ("history", "review"):
        taken, peak, _ = run([name, "--dir", str(snapshots)], config)
        found[f"{name} --dir"] = (taken, peak)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--keep", type=Path, help="a folder to write the accounts in, kept")
    parser.add_argument(
        "--folder", action="store_true", help="backfill a snapshot folder, and read it"
    )
    parser.add_argument("--named", action="store_true", help="name every customer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "ffkpi.toml"
        config.write_text(bench.bench_config_text())
        rows = []
        for size in sorted(args.sizes):
            read = folder / f"read-{size}.jsonl"
            compare = size == min(args.sizes) and size <= WHOLE_UP_TO
            bundle = folder / f"bundle-{size}.json" if compare else None
            made = generate(read, size, bundle, named=args.named)
            row: dict[str, Any] = {"size": size, **made}
            for name in COMMANDS:
                taken, peak, out = run([name, "--input", str(read)], config)
                row[name] = (taken, peak)
                if bundle is not None:
                    whole_taken, whole_peak, whole_out = run([name, "--input", str(bundle)], config)
                    row[f"{name}_whole"] = (whole_taken, whole_peak, whole_out == out)
            if args.folder:
                row.update(folder_runs(read, folder / f"snapshots-{size}", config))
            rows.append(row)
            if bundle is not None:
                bundle.unlink()
            if args.keep is None:
                read.unlink()
    first = rows[0]
    print(
        f"subscriptions billed monthly for two years; one process (--jobs 1); {BATCH:,} a "
        f"batch; customers {'named' if args.named else 'not named'}"
    )
    for name in COMMANDS if "mrr_whole" in first else ():
        taken, peak, same = first[f"{name}_whole"]
        print(
            f"{name} --input at {first['size']:,}: one JSON document {taken:.1f} s, "
            f"{peak:,.0f} MB; "
            f"JSON lines {first[name][0]:.1f} s, {first[name][1]:,.0f} MB "
            f"({peak / first[name][1]:.1f}x less memory); same output: {same}"
        )
    print(
        f"{'subscriptions':>13} {'invoices':>10} {'file MB':>8} | {'mrr s':>6} {'MB':>6} | "
        f"{'history s':>9} {'MB':>6} | {'review s':>8} {'MB':>6} | {'history s / 1k subs':>19}"
    )
    for row in rows:
        print(
            f"{row['size']:>13,} {row['invoices']:>10,} {row['bytes'] / 2**20:>8,.0f} | "
            f"{row['mrr'][0]:>6.1f} {row['mrr'][1]:>6,.0f} | "
            f"{row['history'][0]:>9.1f} {row['history'][1]:>6,.0f} | "
            f"{row['review'][0]:>8.1f} {row['review'][1]:>6,.0f} | "
            f"{1000 * row['history'][0] / row['size']:>19.3f}"
        )
    if args.folder:
        print(
            f"{'subscriptions':>13} | "
            + " | ".join(f"{name:>14} s {'MB':>6}" for name in FOLDER_COMMANDS)
        )
        for row in rows:
            cells = [f"{row[name][0]:>16.1f} {row[name][1]:>6,.0f}" for name in FOLDER_COMMANDS]
            print(f"{row['size']:>13,} | " + " | ".join(cells))
    last = rows[-1]
    if len(rows) > 1:
        grown = last["size"] / first["size"]
        print(
            f"from {first['size']:,} to {last['size']:,} ({grown:.0f}x): history time "
            f"{last['history'][0] / first['history'][0]:.1f}x, memory "
            f"{last['history'][1] / first['history'][1]:.2f}x; mrr memory "
            f"{last['mrr'][1] / first['mrr'][1]:.2f}x"
        )
        if args.folder:
            print(
                f"from {first['size']:,} to {last['size']:,}: backfill memory "
                f"{last['backfill'][1] / first['backfill'][1]:.2f}x, history --dir memory "
                f"{last['history --dir'][1] / first['history --dir'][1]:.2f}x"
            )


if __name__ == "__main__":
    main()
