"""Movements between weeks (history-rules.md, "Movements, per customer" and "Metrics"):
the worked cases, and properties of any series."""

import dataclasses
import gzip
import hashlib
import itertools
import json
import re
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import Ffkpi
from ffkpi.engine.exact import EXACT
from ffkpi.errors import ExitCode
from ffkpi.history.movements import (
    CHURN,
    CONTRACTION,
    EXPANSION,
    INFLOWS,
    KINDS,
    NEW,
    REACTIVATION,
    week_moves,
)

D = Decimal


def test_case_6_one_customer_expands_contracts_churns_and_comes_back() -> None:
    """X ($100) since Dec; adds Y ($50) Jan 7; cancels Y Feb 10; cancels X Mar 3;
    starts Z ($60) May 13: per customer, never per subscription."""
    series = [{"C": D(100)}, {"C": D(150)}, {"C": D(100)}, {}, {}, {"C": D(60)}]
    weeks = week_moves(series)
    assert weeks[0].movements is None
    kinds = [[(c.kind, c.amount) for c in week.changes] for week in weeks[1:]]
    assert kinds == [
        [(EXPANSION, D(50))],
        [(CONTRACTION, D(50))],
        [(CHURN, D(100))],
        [],
        [(REACTIVATION, D(60))],
    ]


def test_case_10_the_metrics_of_one_span() -> None:
    start = {f"c{n}": D(50) for n in range(200)}
    earlier = {**start, "r1": D(50), "r2": D(50)}  # paying once, gone at the start
    end = dict(start)
    for n in range(3):
        end[f"c{n}"] += 100  # expansion 300
    for n in range(3, 11):
        end[f"c{n}"] -= 25  # contraction 200
    for n in range(11, 19):
        del end[f"c{n}"]  # churn 400, 8 customers
    end.update({f"n{n}": D(60) for n in range(10)})  # new 600, 10 customers
    end.update({"r1": D(50), "r2": D(50)})  # reactivation 100, 2 customers
    series = [earlier, start, end]
    week = week_moves(series)[2]
    assert week.movements is not None
    assert {k: (m.mrr, m.customers) for k, m in week.movements.items()} == {
        NEW: (D(600), 10),
        EXPANSION: (D(300), 3),
        REACTIVATION: (D(100), 2),
        CONTRACTION: (D(200), 8),
        CHURN: (D(400), 8),
    }
    assert (week.mrr, week.customers) == (D(10_400), 204)
    assert f"{week.arpa:.2f}" == "50.98"
    rates = week.rates
    assert rates is not None
    assert (rates.logo_churn, rates.gross_mrr_churn, rates.net_mrr_churn) == (
        D("0.04"),
        D("0.06"),
        D("0.02"),
    )
    assert f"{rates.quick_ratio:.2f}" == "1.67"
    span = week_moves(series, windows=(1,))[2].trailing[1]  # the span of one week
    assert span is not None
    assert (span.nrr, span.grr) == (D("0.97"), D("0.94"))
    # Over a span, churn is that of the customers paying at its start (history-rules):
    # 8 of 200 gone; gross 1 - GRR, net 1 - NRR; the quick ratio from the flows.
    assert (span.logo_churn, span.gross_mrr_churn, span.net_mrr_churn) == (
        D("0.04"),
        D("0.06"),
        D("0.03"),
    )
    assert f"{span.quick_ratio:.2f}" == "1.67"


def test_a_growing_years_span_churn_stays_under_100_percent() -> None:
    """A business that grows tenfold while churning: weekly churn summed against the
    year-ago MRR would pass 100 %; the span's rates, of the customers paying at its
    start, cannot."""
    weeks = [{"a": D(100), "b": D(100)}]
    for n in range(1, 53):
        week = {f"n{n}-{k}": D(100) for k in range(n)}  # new customers every week
        week.update({c: v for c, v in weeks[-1].items() if not c.startswith(f"n{n - 1}-0")})
        weeks.append(week)
    weeks[-1].pop("a")  # one of the two first customers churns
    span = week_moves(weeks, windows=(52,))[-1].trailing[52]
    assert span is not None
    assert span.logo_churn == D("0.5")
    assert span.grr == D("0.5")
    assert span.gross_mrr_churn == D("0.5")  # 1 - GRR: at most 100 %, whatever the growth
    assert span.net_mrr_churn == 1 - span.nrr  # type: ignore[operator]


def test_a_week_whose_customers_are_unknown_has_no_movements_either_side() -> None:
    weeks = week_moves([{"a": D(1)}, None, {"a": D(2)}, {"a": D(3)}])
    assert [w.movements is None for w in weeks] == [True, True, True, False]
    assert weeks[3].trailing[4] is None  # too short, and crosses an unknown week


def test_weeks_marked_not_comparable_have_no_movements() -> None:
    weeks = week_moves([{"a": D(1)}, {"a": D(2)}], comparable=[True, False])
    assert weeks[1].movements is None


customers = st.dictionaries(
    st.sampled_from([f"cus_{n}" for n in range(12)]),
    st.decimals(min_value=D("0.01"), max_value=D("100000"), places=6),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(customers, min_size=2, max_size=8))
def test_the_bridge_holds_exactly_for_any_series(series: list[dict[str, Decimal]]) -> None:
    weeks = week_moves(series)
    for before, week in itertools.pairwise(weeks):
        assert week.movements is not None
        inflow = sum((week.movements[k].mrr for k in INFLOWS), D(0))
        outflow = week.movements[CONTRACTION].mrr + week.movements[CHURN].mrr
        with_exact = EXACT.add(EXACT.subtract(EXACT.add(before.mrr, inflow), outflow), 0)
        assert with_exact == week.mrr
        assert all(m.mrr >= 0 for m in week.movements.values())


@settings(max_examples=200, deadline=None)
@given(st.lists(customers, min_size=2, max_size=8))
def test_each_customer_moves_by_the_definitions(series: list[dict[str, Decimal]]) -> None:
    weeks = week_moves(series)
    for i in range(1, len(series)):
        earlier = set().union(*series[: i - 1]) if i > 1 else set()
        for change in weeks[i].changes:
            before, now = change.previous, change.current
            assert before == series[i - 1].get(change.customer, 0)
            assert now == series[i].get(change.customer, 0)
            expected = (
                (REACTIVATION if change.customer in earlier else NEW)
                if before == 0
                else CHURN
                if now == 0
                else EXPANSION
                if now > before
                else CONTRACTION
            )
            assert change.kind == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(customers, min_size=2, max_size=6), st.randoms(use_true_random=False))
def test_the_order_of_customers_never_matters(
    series: list[dict[str, Decimal]], shuffler: object
) -> None:
    shuffled = []
    for week in series:
        items = list(week.items())
        shuffler.shuffle(items)  # type: ignore[attr-defined]
        shuffled.append(dict(items))
    assert week_moves(shuffled) == week_moves(series)
    assert set(KINDS) == {NEW, EXPANSION, REACTIVATION, CONTRACTION, CHURN}


@settings(max_examples=200, deadline=None)
@given(st.lists(customers, min_size=2, max_size=8), st.integers(1, 4))
def test_a_week_keeping_its_largest_movers_keeps_what_a_review_shows(
    series: list[dict[str, Decimal]], movers: int
) -> None:
    """Each week keeps only its largest rises and falls: everything else the same, and
    the movers a review shows the same as those taken from every change."""
    every, kept = week_moves(series), week_moves(series, movers=movers)
    for full, short in zip(every, kept, strict=True):
        assert dataclasses.replace(short, changes=full.changes) == full
        for rising in (True, False):
            way = [c for c in full.changes if (c.current > c.previous) == rising]
            assert [c for c in short.changes if (c.current > c.previous) == rising] == way[:movers]


def _bridge_holds(weeks: list[dict[str, object]]) -> int:
    """How many weeks' printed bridges were checked; fails on one that does not add up."""
    checked = 0
    for before, week in itertools.pairwise(weeks):
        moved = week["movements"]
        if moved is None:
            continue
        assert isinstance(moved, dict)
        inflow = sum(D(moved[k]["mrr"]) for k in INFLOWS)
        outflow = D(moved[CONTRACTION]["mrr"]) + D(moved[CHURN]["mrr"])
        assert D(str(before["mrr"])) + inflow - outflow == D(str(week["mrr"])), week["week"]
        checked += 1
    return checked


def test_history_of_the_demo_shows_what_moved_mrr_and_the_bridge_adds_up(ffkpi: Ffkpi) -> None:
    result = ffkpi("history", "--demo", "--since", "2024-11-19", "--by-tier", "-f", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    weeks = document["weeks"]
    assert len(weeks) == 105
    assert weeks[0]["movements"] is None
    assert _bridge_holds(weeks) == 104
    for tier in document["tiers"]:
        assert _bridge_holds(tier["weeks"]) == 104
    last = weeks[-1]
    assert set(last["movements"]) == set(KINDS)
    assert last["customers"] > 0
    assert set(last["rates"]) == {"logo_churn", "gross_mrr_churn", "net_mrr_churn", "quick_ratio"}
    assert set(last["trailing_52w"]) >= {"nrr", "grr"}
    assert weeks[3]["trailing_4w"] is None  # too short a history for it yet
    assert any(w["movements"]["reactivation"]["customers"] for w in weeks[1:])
    # Moving from Starter to Team: churn or contraction in Starter, new or more in Team.
    starter, team = document["tiers"]
    assert sum(w["movements"]["churn"]["customers"] for w in starter["weeks"][1:]) > 0
    assert sum(w["movements"]["new"]["customers"] for w in team["weeks"][1:]) > 0


def test_the_movements_table_fits_80_columns(ffkpi: Ffkpi) -> None:
    result = ffkpi("history", "--demo", "--weeks", "8", "--by-tier")
    assert result.exit_code == 0, result.stderr
    assert "What moved MRR (USD)" in result.stdout
    assert "Starter: What moved MRR (USD)" in result.stdout
    assert max(len(line.rstrip()) for line in result.stdout.splitlines()) <= 80


def test_weeks_with_old_customer_files_or_another_config_have_no_movements(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    days = ("2026-10-27", "2026-11-03", "2026-11-10", "2026-11-17")
    for day in days:
        assert ffkpi("snapshot", "--demo", "--as-of", day, "--dir", "kpi").exit_code == 0
    folder = cli_env / "kpi"
    # 2026-W45's customer file as ffkpi wrote it before per-tier files: totals, rounded.
    week = folder / "2026-W45.toml"
    text = week.read_text()
    old_name, old_digest = re.search(r'customers = "(\S+) sha256:(\w+)"', text).groups()  # type: ignore[union-attr]
    body = json.loads(gzip.decompress((folder / old_name).read_bytes()))
    totals = {c: f"{sum(D(v) for v in values):.2f}" for c, values in body["customers"].items()}
    v1 = gzip.compress(
        json.dumps({"schema": "ffkpi.customers/1", "currency": "usd", "customers": totals}).encode()
    )
    digest = hashlib.sha256(v1).hexdigest()
    (folder / old_name).unlink()
    (folder / f"2026-W45.customers.{digest[:16]}.json.gz").write_bytes(v1)
    week.write_text(
        text.replace(
            f"{old_name} sha256:{old_digest}",
            f"2026-W45.customers.{digest[:16]}.json.gz sha256:{digest}",
        )
    )
    # 2026-W47 under another config (its digest): not compared with the week before.
    last = folder / "2026-W47.toml"
    last.write_text(
        re.sub(r'config_digest = "[^"]+"', 'config_digest = "sha256:other"', last.read_text())
    )
    result = ffkpi("history", "--dir", "kpi", "-f", "json")
    assert result.exit_code == 0, result.stderr
    weeks = json.loads(result.stdout)["weeks"]
    assert [w["week"] for w in weeks] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert weeks[1]["movements"] is None
    assert weeks[1]["customers"] is None  # not guessed from rounded totals
    assert "schema 1" in weeks[1]["movements_note"]
    assert weeks[2]["movements"] is None  # nothing to compare with
    assert weeks[3]["movements"] is None
    assert weeks[3]["movements_note"] == "another MRR definition or currency than the week before"


def test_movements_names_the_customers_behind_the_week(ffkpi: Ffkpi) -> None:
    result = ffkpi("movements", "--demo", "-f", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "ffkpi.history.movements/1"
    assert (document["week"], document["as_of"], document["previous_as_of"]) == (
        "2026-W47",
        "2026-11-17",
        "2026-11-10",
    )
    history = json.loads(ffkpi("history", "--demo", "-f", "json").stdout)["weeks"][-1]
    for kind in KINDS:
        entries = document["movements"][kind]
        assert len(entries) == history["movements"][kind]["customers"]
        changes = [abs(D(e["change"])) for e in entries]
        assert changes == sorted(changes, reverse=True)
        total = sum(changes, D(0))
        assert abs(total - D(history["movements"][kind]["mrr"])) <= D("0.01") * len(entries)
        for entry in entries:
            assert D(entry["mrr"]) - D(entry["previous_mrr"]) == D(entry["change"])
            assert entry["tiers"]
    named = [e for entries in document["movements"].values() for e in entries if e["name"]]
    assert named  # the demo bundle lists its customers


def test_movements_of_a_snapshot_folder(ffkpi: Ffkpi, cli_env: Path) -> None:
    args = ("--demo", "--since", "2026-10-06", "--until", "2026-11-10", "--dir", "kpi")
    assert ffkpi("backfill", *args).exit_code == 0
    result = ffkpi("movements", "--week", "2026-W46", "--dir", "kpi", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header == "movement,customer,name,previous_mrr,mrr,change,tiers"
    assert rows
    assert all(row.split(",")[2] for row in rows)  # the customer files keep their names
    # The same weeks rebuilt in memory from the same history: the same customers moved,
    # named alike.
    rebuilt = ffkpi(
        "movements", "--demo", "--since", "2026-10-06", "--as-of", "2026-11-10", "-f", "csv"
    )
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert rebuilt.stdout.splitlines()[1:] == rows
    table = ffkpi("movements", "--dir", "kpi", "--as-of", "2026-11-10")
    assert "Who moved MRR in 2026-W46" in table.stdout


def test_movements_refuses_what_it_cannot_compare(ffkpi: Ffkpi, cli_env: Path) -> None:
    args = ("--demo", "--since", "2026-11-03", "--until", "2026-11-10", "--dir", "kpi")
    assert ffkpi("backfill", *args).exit_code == 0
    first = ffkpi("movements", "--week", "2026-W45", "--dir", "kpi")
    assert first.exit_code == ExitCode.STORAGE
    assert "2026-W45 is the first week: nothing to compare it with" in first.stderr
    missing = ffkpi("movements", "--week", "2026-W30", "--dir", "kpi")
    assert "no snapshot of 2026-W30" in missing.stderr
    bad = ffkpi("movements", "--week", "2026-W99", "--dir", "kpi")
    assert bad.exit_code == ExitCode.USAGE
    assert len(bad.stderr.splitlines()) == 1
    span = ffkpi("movements", "--until", "2026-11-10", "--dir", "kpi")
    assert span.exit_code == ExitCode.USAGE
    assert "pass --as-of or --week" in span.stderr


def test_customer_names_are_data_never_markup_or_escapes(ffkpi: Ffkpi, cli_env: Path) -> None:
    from conftest import ROOT

    bundle = json.loads(gzip.decompress((ROOT / "src/ffkpi/data/demo.json.gz").read_bytes()))
    hostile = "[bold red]Evil[/] \x1b[2J\x1b]0;pwned\x07 Corp\n=HYPERLINK()"
    for customer in bundle["customers"]:
        customer["name"] = hostile
    (cli_env / "bundle.json").write_text(json.dumps(bundle))
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
    table = ffkpi("movements", "--input", "bundle.json")
    assert table.exit_code == 0, table.stderr
    assert "\x1b" not in table.stdout
    assert "\x07" not in table.stdout
    assert "[bold red]Evil[/]" in " ".join(table.stdout.split())
    document = json.loads(ffkpi("movements", "--input", "bundle.json", "-f", "json").stdout)
    assert document["movements"]["new"][0]["name"] == hostile
    csv = ffkpi("movements", "--input", "bundle.json", "-f", "csv").stdout
    assert "\x1b" not in csv
    assert "\x07" not in csv
    import csv as csv_module
    import io

    rows = list(csv_module.reader(io.StringIO(csv)))
    assert all(len(row) == 7 for row in rows)
    assert rows[1][2] == r"[bold red]Evil[/] \x1b[2J\x1b]0;pwned\x07 Corp\x0a=HYPERLINK()"


def test_a_customer_file_that_is_not_gzip_json_leaves_its_week_without_movements(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    for day in ("2026-11-10", "2026-11-17"):
        assert ffkpi("snapshot", "--demo", "--as-of", day, "--dir", "kpi").exit_code == 0
    week = cli_env / "kpi" / "2026-W47.toml"
    text = week.read_text()
    name, digest = re.search(r'customers = "(\S+) sha256:(\w+)"', text).groups()  # type: ignore[union-attr]
    garbage = b"\x1f\x8b\x08\x00 not really gzip"
    (cli_env / "kpi" / name).unlink()
    new = hashlib.sha256(garbage).hexdigest()
    (cli_env / "kpi" / f"2026-W47.customers.{new[:16]}.json.gz").write_bytes(garbage)
    week.write_text(
        text.replace(
            f"{name} sha256:{digest}", f"2026-W47.customers.{new[:16]}.json.gz sha256:{new}"
        )
    )
    result = ffkpi("history", "--dir", "kpi", "-f", "json")
    assert result.exit_code == 0, result.stderr
    last = json.loads(result.stdout)["weeks"][-1]
    assert (last["mrr"], last["movements"], last["customers"]) == ("100266.13", None, None)
    refused = ffkpi("movements", "--dir", "kpi")
    assert refused.exit_code == ExitCode.STORAGE
    assert "not known" in refused.stderr
