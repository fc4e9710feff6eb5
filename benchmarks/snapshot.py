"""Snapshot size and speed at N customers, and what a year of history costs to read.

Computes a report over N one-item subscriptions (one customer each), then measures in
one run: writing the week's snapshot (small TOML + compressed customers sidecar), the
same data as one TOML with every customer inline, and `history` reading 52 weekly
snapshots either way.

Usage: uv run python benchmarks/snapshot.py [--customers N]
"""

import argparse
import tempfile
import time
import tomllib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import tomli_w

from ffkpi.config import Config
from ffkpi.engine.model import Dataset, Item, Price, PriceAmount, Subscription
from ffkpi.engine.money import format_money
from ffkpi.engine.mrr import compute_report
from ffkpi.storage.customer_files import customer_file, customer_rows
from ffkpi.storage.snapshots import read_snapshots, snapshot_document, write_snapshot
from ffkpi.usecases.past import load_history

WEEKS = 52


def report_for(customers: int, as_of: date) -> object:
    prices = [
        Price(
            id=f"price_{n}",
            product_id=f"prod_{n % 4}",
            currency="usd",
            billing_scheme="per_unit",
            tiers_mode=None,
            amounts={"usd": PriceAmount(Decimal(1500 + 500 * n), None)},
            interval="month",
            interval_count=1,
            metered=False,
        )
        for n in range(8)
    ]
    subs = tuple(
        Subscription(
            id=f"sub_{n:08d}",
            customer=f"cus_{n:014d}",
            status="active",
            currency="usd",
            items=(Item(id=f"si_{n}", price=prices[n % 8], quantity=1 + n % 5),),
        )
        for n in range(customers)
    )
    config = Config.model_validate(
        {
            "tiers": [
                {"name": "Starter", "rule": "list_price", "products": [{"id": "prod_0"}]},
                {
                    "name": "Team",
                    "rule": "net",
                    "products": [{"id": f"prod_{i}"} for i in (1, 2, 3)],
                },
            ]
        }
    )
    return compute_report(Dataset(subs), config, as_of), config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    start = date(2026, 1, 5)
    report, config = report_for(args.customers, start)
    created = datetime.now(UTC)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "sidecar"
        inline = Path(tmp) / "inline"
        inline.mkdir()
        began = time.perf_counter()
        assert report.customer_tiers is not None
        rows = customer_rows(sorted(report.customer_tiers.items()))
        write_snapshot(
            folder,
            report,
            customer_file(report, {}, rows),
            config_digest=config.digest,
            created_at=created,
            version="bench",
        )
        sidecar_write = time.perf_counter() - began

        began = time.perf_counter()
        document = snapshot_document(
            report, config_digest=config.digest, created_at=created, version="bench", customers=""
        )
        document["customers"] = {c: format_money(v, "usd") for c, v in report.customers.items()}
        (inline / "2026-W02.toml").write_text(tomli_w.dumps(document))
        inline_write = time.perf_counter() - began

        toml_size = sum(p.stat().st_size for p in folder.glob("*.toml"))
        gz_size = sum(p.stat().st_size for p in folder.glob("*.gz"))
        inline_size = (inline / "2026-W02.toml").stat().st_size

        # A year of weekly snapshots, each way.
        base_toml = next(folder.glob("*.toml")).read_text()
        base_inline = (inline / "2026-W02.toml").read_text()
        for week in range(1, WEEKS):
            day = start + timedelta(weeks=week)
            name = f"{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}"
            text = base_toml.replace("2026-W02", name).replace("2026-01-05", day.isoformat())
            (folder / f"{name}.toml").write_text(text)
            sidecar = next(folder.glob("2026-W02.customers.*.json.gz"))
            (folder / sidecar.name.replace("2026-W02", name)).write_bytes(sidecar.read_bytes())
            (inline / f"{name}.toml").write_text(
                base_inline.replace("2026-W02", name).replace("2026-01-05", day.isoformat())
            )
        began = time.perf_counter()
        stored = read_snapshots(folder)
        sidecar_read = time.perf_counter() - began
        began = time.perf_counter()
        with load_history(folder, config, last=None, by_tier=True, strict=True) as loaded:
            shown = loaded.history
        moves_read = time.perf_counter() - began
        assert shown.weeks[-1].moves is not None
        began = time.perf_counter()
        for path in sorted(inline.glob("*.toml")):
            tomllib.loads(path.read_text())
        inline_read = time.perf_counter() - began
        assert len(stored.snapshots) == WEEKS

    print(f"{args.customers:,} customers, {len(report.tiers)} tiers")
    print(
        f"snapshot (TOML + gzip sidecar): write {sidecar_write:6.2f} s, "
        f"{toml_size / 1e3:,.1f} kB TOML + {gz_size / 1e6:,.2f} MB sidecar"
    )
    print(
        f"customers inline in the TOML  : write {inline_write:6.2f} s, "
        f"{inline_size / 1e6:,.2f} MB TOML"
    )
    print(
        f"history over {WEEKS} weeks        : {sidecar_read:6.3f} s with sidecars, "
        f"{inline_read:6.2f} s inline ({inline_read / sidecar_read:,.0f}x slower)"
    )
    print(
        f"  with each week's movements  : {moves_read:6.2f} s (every customer file read, "
        "total and per tier)"
    )
    smaller = inline_size / (toml_size + gz_size)
    print(f"disk per week                 : {smaller:.1f}x smaller with the sidecar")


if __name__ == "__main__":
    main()
