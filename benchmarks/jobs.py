"""What `--jobs` buys: the rebuild of two years of weeks in one process against a pool of
forked processes on this machine's cores, on a simulated account (benchmarks/history.py's
generator), in one run.

Measures the rebuild alone (the read parsed once, then rebuilt each way, best of three)
and the whole `ffkpi history --input` command each way (a fresh process, best of three),
and checks the two give the same output to the byte.

Usage: uv run python benchmarks/jobs.py [--subscriptions 5000]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

import history as bench  # noqa: E402
from ffkpi.history.rebuild import rebuild  # noqa: E402
from ffkpi.sources.files import read_input  # noqa: E402
from ffkpi.usecases import parallel  # noqa: E402


def best(run: object, times: int = 3) -> float:
    taken = []
    for _ in range(times):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        taken.append(time.perf_counter() - started)
    return min(taken)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=5_000)
    args = parser.parse_args()
    cores = parallel.jobs()
    with tempfile.TemporaryDirectory() as folder:
        made = bench.generate(Path(folder), args.subscriptions, "bench")
        bundle = Path(folder) / "bundle.json"
        config = Path(folder) / "ffkpi.toml"
        config.write_text(bench.bench_config_text())
        data = read_input(bundle, history=True)
        settings = bench.bench_config()
        days = bench.days()
        one = best(lambda: rebuild(data, settings, days))
        pooled = best(lambda: rebuild(data, settings, days, parts=cores, run=parallel._in_pool))
        same = rebuild(data, settings, days) == rebuild(
            data, settings, days, parts=cores, run=parallel._in_pool
        )
        command = [sys.executable, "-m", "ffkpi"]
        history = ["history", "--input", str(bundle), "--config", str(config), "-f", "json"]
        outputs: dict[int, bytes] = {}

        def whole(jobs: int) -> None:
            env = {**os.environ, "FFKPI_JOBS": str(jobs)}
            done = subprocess.run([*command, *history], capture_output=True, env=env, check=True)
            outputs[jobs] = done.stdout

        whole_one = best(lambda: whole(1))
        whole_pooled = best(lambda: whole(cores))
    print(
        f"{made['subscriptions']:,} subscriptions, {made['invoices']:,} invoices, "
        f"{len(days)} weeks, {cores} cores"
    )
    print(
        f"rebuild: 1 process {one:.2f} s, {cores} processes {pooled:.2f} s: "
        f"{one / pooled:.2f}x; same reports: {same}"
    )
    print(
        f"ffkpi history --input: --jobs 1 {whole_one:.2f} s, --jobs {cores} "
        f"{whole_pooled:.2f} s: {whole_one / whole_pooled:.2f}x; same output: "
        f"{outputs[1] == outputs[cores]}"
    )


if __name__ == "__main__":
    main()
