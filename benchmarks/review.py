"""How much the Tuesday review adds to the history it is built from.

Times, in one run, each command in a fresh process (Python start-up and imports
included, as a user sees them):

- the demo: `ffkpi history --demo` against `ffkpi review --demo --format html` (and
  markdown), the median of five runs each; the difference is what the review costs;
- a large account: `ffkpi history --input` against `ffkpi review --input --format html`
  on N subscriptions billed monthly for two years (benchmarks/history.py's simulation,
  weeks rebuilt from 167,571 invoices at 10,000), one run each, as a ratio.

Usage: uv run python benchmarks/review.py [--subscriptions 10000] [--no-large]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))


def timed(args: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ffkpi", *args], cwd=cwd, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"ffkpi {' '.join(args)} failed: {done.stderr.decode()}")
    return time.perf_counter() - began


def demo(folder: Path, runs: int) -> None:
    history = [timed(["history", "--demo"], folder) for _ in range(runs)]
    html = [timed(["review", "--demo", "--format", "html"], folder) for _ in range(runs)]
    markdown = [timed(["review", "--demo"], folder) for _ in range(runs)]
    h, r, m = (statistics.median(t) for t in (history, html, markdown))
    print(f"demo, median of {runs}:")
    print(f"  ffkpi history --demo              : {h:6.2f} s")
    print(f"  ffkpi review --demo --format html : {r:6.2f} s  ({r - h:+.2f} s, {r / h:.2f}x)")
    print(f"  ffkpi review --demo (markdown)    : {m:6.2f} s  ({m - h:+.2f} s, {m / h:.2f}x)")


def large(folder: Path, count: int) -> None:
    import history as bench

    print(f"\nsimulating {count:,} subscriptions over two years ...", flush=True)
    made = bench.generate(folder, count, "bench")
    config = (ROOT / "config.example.toml").read_text()
    (folder / "ffkpi.toml").write_text(
        config.replace('metered = "last_invoice"', 'metered = "exclude"')
    )
    bundle = json.loads((folder / "bundle.json").read_text())
    print(f"{made['subscriptions']:,} subscriptions, {made['invoices']:,} invoices")
    del bundle
    history = timed(["history", "--input", "bundle.json"], folder)
    html = timed(["review", "--input", "bundle.json", "--format", "html"], folder)
    print(f"  ffkpi history --input             : {history:6.2f} s")
    print(f"  ffkpi review --input --format html: {html:6.2f} s  = {html / history:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-large", action="store_true", help="the demo only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        demo(folder, args.runs)
        if not args.no_large:
            large(folder, args.subscriptions)


if __name__ == "__main__":
    main()
