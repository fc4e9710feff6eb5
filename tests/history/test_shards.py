"""A rebuild's customers by shard (history.shards): movements summed shard by shard are
those of every customer at once, to the byte; each shard is read once a view; on disk
they leave nothing behind, and a shard removed meanwhile is an error, never a lower
week."""

import gzip
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import simulated, streamed
from conftest import Ffkpi
from ffkpi.engine.calendar import week_name
from ffkpi.engine.model import HeldNames
from ffkpi.engine.money import round_money
from ffkpi.engine.mrr import compute_report
from ffkpi.errors import StorageError
from ffkpi.history.movements import MOVERS, customer_moves, week_moves
from ffkpi.history.series import Customers, WeekFigures
from ffkpi.history.shards import READ, Feeder, Record, Sharded, shard_of
from ffkpi.sources.demo import DEMO_AS_OF, demo_config, example_config_text
from ffkpi.sources.files import read_input
from ffkpi.storage import spill
from ffkpi.storage.reads import keep_read, kept_read
from ffkpi.usecases import parallel
from ffkpi.usecases.past import rebuilt_days, rebuilt_history, rebuilt_movers, under_definition

D = Decimal
customers = st.dictionaries(
    st.sampled_from([f"cus_{n}" for n in range(12)]),
    st.decimals(min_value=D("0.01"), max_value=D("100000"), places=6),
    max_size=12,
)


class InMemoryStore:
    """The records of each shard held in memory: shards without the disk."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.shards: list[list[Record]] = [[] for _ in range(count)]

    def append(self, shard: int, record: Record) -> None:
        self.shards[shard].append(record)

    def seal(self) -> None:
        pass

    def read(self, shard: int) -> list[Record]:
        return self.shards[shard]


class Counting(InMemoryStore):
    """An in-memory store that counts each shard's reads."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.reads = [0] * count

    def read(self, shard: int) -> list[Record]:
        self.reads[shard] += 1
        return super().read(shard)


def sharded(series: list[dict[str, Decimal]], store: InMemoryStore | None) -> Sharded:
    """`series` (one tier) as a rebuild keeps it: each week what changed, by shard
    (without a store: one shard, made as the changes come)."""
    kept = Sharded(store, len(series), ["only"])
    before: dict[str, Decimal] = {}
    for week, now in enumerate(series):
        for customer in before.keys() | now.keys():
            if before.get(customer) != now.get(customer):
                if customer in before:
                    kept.add(week, customer, ((0, before[customer]),), -1)
                if customer in now:
                    kept.add(week, customer, ((0, now[customer]),), 1)
        before = now
    return kept


@settings(max_examples=150, deadline=None)
@given(
    st.lists(customers, min_size=2, max_size=8),
    st.integers(0, 5),
    st.lists(st.booleans(), min_size=8, max_size=8),
    st.sampled_from([None, 1, MOVERS]),
)
def test_movements_summed_shard_by_shard_are_those_of_every_customer(
    series: list[dict[str, Decimal]], count: int, flags: list[bool], movers: int | None
) -> None:
    kept = sharded(series, InMemoryStore(count) if count else None)
    weeks = [kept.week(w).in_all() for w in range(len(series))]
    comparable = flags[: len(series)]
    for windows in [(1, 2), (4, 52)]:
        assert week_moves(weeks, comparable, windows, movers) == week_moves(
            series, comparable, windows, movers
        )
    assert [dict(week) for week in weeks] == series  # as a mapping too, whole
    tiers = {"only": (kept.week(len(series) - 2, 0), kept.week(len(series) - 1, 0))}
    plain = {"only": (series[-2], series[-1])}
    assert customer_moves(weeks, tiers) == customer_moves(series, plain)


@given(st.lists(customers, min_size=2, max_size=6), st.integers(0, 5))
def test_a_read_s_own_week_replaces_nothing_and_follows_the_last(
    series: list[dict[str, Decimal]], count: int
) -> None:
    """The read's own customers are the week after the rebuilt ones, whatever those
    were: here the last week's customers given again as a read."""
    kept = sharded(series[:-1], InMemoryStore(count) if count else None)
    for customer, mrr in series[-1].items():
        kept.add_read(customer, ((0, mrr),))
    read = kept.read_week().in_all()
    weeks = [kept.week(w).in_all() for w in range(len(series) - 1)] + [read]
    assert dict(read) == series[-1]
    assert week_moves(weeks) == week_moves(series)


def test_each_shard_is_read_once_a_view_and_only_one_is_held() -> None:
    series = [{f"cus_{n}": D(n + w) for n in range(40) if (n + w) % 3} for w in range(10)]
    store = Counting(4)
    kept = sharded(series, store)
    assert len({shard_of(c, 4) for week in series for c in week}) == 4  # every shard used
    weeks = [kept.week(w).in_all() for w in range(len(series))]
    week_moves(weeks)
    assert store.reads == [1, 1, 1, 1]
    week_moves([kept.week(w).in_tier(0) for w in range(len(series))])
    assert store.reads == [2, 2, 2, 2]
    assert kept._made is not None
    assert kept._made[0] == 3  # the last shard only


def _watched(
    monkeypatch: pytest.MonkeyPatch, where: object = parallel, name: str = "shelved"
) -> list[Path]:
    """The private folders spill's stores of `name` are kept in (the shards on disk by
    default), as they are made where `where` makes them."""
    made: list[Path] = []
    real = getattr(spill, name)

    def watched(count: int) -> Iterator[spill.Shelved | spill.Runs]:
        with real(count) as store:
            made.append(store.folder)
            yield store

    monkeypatch.setattr(where, name, contextmanager(watched))
    return made


def _run(ffkpi: Ffkpi, args: Iterable[str]) -> tuple[str, str]:
    result = ffkpi(*args)
    assert result.exit_code == 0, result.stderr
    return result.stdout, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("history", "--demo", "--by-tier", "-f", "json"),
        ("movements", "--demo", "-f", "json"),
        ("review", "--demo", "--format", "json"),
    ],
    ids=["history", "movements", "review"],
)
def test_the_demo_s_customers_on_disk_in_shards_give_the_same_output(
    ffkpi: Ffkpi, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    whole = _run(ffkpi, args)
    made = _watched(monkeypatch)
    monkeypatch.setattr(parallel, "SHARD", 3)  # the demo's subscriptions in many shards
    monkeypatch.setattr(spill, "BATCH", 5)
    assert _run(ffkpi, args) == whole
    assert made
    assert not any(folder.exists() for folder in made)  # removed after


def test_backfill_of_the_demo_in_shards_writes_the_same_files(
    ffkpi: Ffkpi, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each week's customer file merged from the shards' sorted rows is the file of
    every customer at once, to the byte (names too); a week gone is written again the
    same; nothing is left in the temporary folder."""
    span = ("--since", "2026-06-02", "--until", "2026-11-10")
    _run(ffkpi, ("backfill", "--demo", *span, "--dir", "whole"))
    made = _watched(monkeypatch)
    runs = _watched(monkeypatch, spill, "runs")
    monkeypatch.setattr(parallel, "SHARD", 3)
    monkeypatch.setattr(spill, "BATCH", 5)
    _run(ffkpi, ("backfill", "--demo", *span, "--dir", "shards"))
    assert len(made) == len(runs) == 1
    assert not any(folder.exists() for folder in made + runs)
    whole, shards = _files(cli_env / "whole"), _files(cli_env / "shards")
    assert shards == whole
    assert len(whole) == 2 * 24
    assert any(b'"names":{"cus_' in gzip.decompress(body) for body in whole.values())
    for gone in (cli_env / "shards").glob("2026-W40.*"):
        gone.unlink()
    again = _run(ffkpi, ("backfill", "--demo", *span, "--dir", "shards"))
    assert "written: 1 week, 2026-W40" in again[0]
    assert _files(cli_env / "shards") == whole


def test_a_snapshot_of_the_demo_in_shards_writes_the_same_file(
    ffkpi: Ffkpi, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The week's customers kept by shard as they are counted, then merged: the same
    customer file to the byte as of every customer at once."""
    _run(ffkpi, ("snapshot", "--demo", "--dir", "whole"))
    made = _watched(monkeypatch)
    monkeypatch.setattr(parallel, "SHARD", 3)
    monkeypatch.setattr(spill, "BATCH", 5)
    _run(ffkpi, ("snapshot", "--demo", "--dir", "shards"))
    assert len(made) == 1
    assert not made[0].exists()
    whole = _files(cli_env / "whole")
    assert _files(cli_env / "shards") == whole
    (body,) = [body for name, body in whole.items() if name.endswith(".gz")]
    assert len(json.loads(gzip.decompress(body))["customers"]) > 100


def _files(folder: Path) -> dict[str, bytes]:
    """A snapshot folder's files, each TOML without the line saying when it was made."""
    return {
        path.name: path.read_bytes()
        if path.suffix == ".gz"
        else re.sub(rb"created_at = .*\n", b"", path.read_bytes())
        for path in sorted(folder.iterdir())
        if not path.name.startswith(".")
    }


@pytest.mark.slow
def test_a_simulated_account_in_shards_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "read.jsonl"
    path.write_bytes(streamed(simulated(31, signups=150)))
    data, config = read_input(path, history=True), demo_config()
    days = rebuilt_days(data, None, None, date(2026, 1, 1))  # the read's own day, if it has one
    whole = rebuilt_history(data, config, days, last=None, by_tier=True)
    movers = rebuilt_movers(data, config, days)
    monkeypatch.setattr(parallel, "SHARD", 17)
    assert -(-data.rebuilt // parallel.SHARD) > 5
    assert rebuilt_history(data, config, days, last=None, by_tier=True) == whole
    assert rebuilt_movers(data, config, days) == movers
    assert any(week.moves and week.moves.changes for week in whole.weeks)


def test_a_shard_removed_while_ffkpi_ran_is_an_error_not_a_lower_week() -> None:
    with spill.shelved(2) as store:
        kept = Sharded(store, 3, ["only"])
        for week, n in itertools.product(range(3), range(30)):
            kept.add(week, f"cus_{n}", ((0, D(week + 1)),), 1)
        kept.add(READ, "cus_0", ((0, D(1)),), 1)
        store.seal()
        next(store.folder.iterdir()).unlink()
        with pytest.raises(StorageError, match="were removed or altered while ffkpi ran"):
            [kept.ledger(shard) for shard in range(2)]


def test_a_snapshot_folder_s_customers_in_shards_give_the_same_output(
    ffkpi: Ffkpi, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder's weeks are decoded one at a time and kept by shard: on disk, in many
    shards, the history, movements and review are those of the weeks held whole; a
    week whose customer file is gone stays without movements either side."""
    span = ("--since", "2026-06-02", "--until", "2026-11-10", "--dir", "kpi")
    assert ffkpi("backfill", "--demo", *span).exit_code == 0
    (cli_env / "ffkpi.toml").write_text(example_config_text())
    gone = sorted((cli_env / "kpi").glob("2026-W40.customers.*.json.gz"))
    assert len(gone) == 1
    gone[0].unlink()
    runs = [
        ("history", "--dir", "kpi", "--by-tier", "-f", "json"),
        ("movements", "--dir", "kpi", "--week", "2026-W46", "-f", "json"),
        ("review", "--dir", "kpi", "--week", "2026-W46", "--format", "json"),
    ]
    whole = [_run(ffkpi, args) for args in runs]
    assert '"movements": null' in whole[0][0]  # the weeks either side of the one gone
    assert "2026-W40" in whole[0][1]  # said
    made = _watched(monkeypatch)
    monkeypatch.setattr(parallel, "SHARD_FILE", 300)  # a shard each 300 bytes of a file
    assert [_run(ffkpi, args) for args in runs] == whole
    assert len(made) == len(runs)
    assert not any(folder.exists() for folder in made)


@given(st.text(st.characters(blacklist_categories=())), st.integers(1, 9))
def test_any_customer_id_has_one_shard_among_the_count(customer: str, count: int) -> None:
    """Ids are outside text: a lone surrogate or any other never fails the hash."""
    assert 0 <= shard_of(customer, count) < count
    assert shard_of(customer, count) == shard_of(str(customer), count)
    assert 0 <= shard_of("cus_\ud800", count) < count


def test_a_week_naming_tiers_no_snapshot_names_is_kept_whole() -> None:
    feeder = Feeder(None, ["Pro"])
    one = Customers("usd", ("Pro",), {"cus_a": (D("10.00"),)})
    other = Customers("usd", ("Team",), {"cus_a": (D("12.00"),)})
    first, second = feeder.keep(one), feeder.keep(other)
    assert second is other  # not spread over tiers it cannot place
    assert first is not None
    assert first.totals is not None
    moved = week_moves([first.totals, {"cus_a": D("12.00")}])[1].movements
    assert moved is not None
    assert moved["expansion"].mrr == D("2.00")


class Asked:
    """Names that count the customers each lookup asks for."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = HeldNames(names)
        self.asked: list[list[str]] = []

    def of(self, customers: Iterable[str]) -> dict[str, str]:
        wanted = sorted(customers)
        self.asked.append(wanted)
        return self.names.of(wanted)


def test_a_folders_names_are_the_newest_weeks_looked_up_until_all_are_found() -> None:
    feeder = Feeder(None, ["Pro"])
    weeks = [
        Asked({"cus_a": "Old name", "cus_b": "Bo AB"}),
        Asked({"cus_a": "New name"}),
        Asked({"cus_c": "Cy Oy"}),
    ]
    for names in weeks:
        feeder.keep(Customers("usd", ("Pro",), {"cus_a": (D("1"),)}, names=names))
    assert feeder.names.of(["cus_a", "cus_c", "cus_x"]) == {"cus_a": "New name", "cus_c": "Cy Oy"}
    assert [w.asked for w in weeks] == [
        [["cus_x"]],
        [["cus_a", "cus_x"]],
        [["cus_a", "cus_c", "cus_x"]],
    ]
    assert feeder.names.of(["cus_c"]) == {"cus_c": "Cy Oy"}
    assert [len(w.asked) for w in weeks] == [1, 1, 2]  # found in the newest: none older asked


AMOUNTS = st.sampled_from([D("0"), D("5.2"), D("5.20"), D("9")])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dictionaries(
                st.sampled_from([f"cus_{n}" for n in range(8)]),
                st.tuples(AMOUNTS, AMOUNTS).filter(any),
                max_size=8,
            ),
            st.booleans(),  # the file names its tiers the other way round
            st.booleans(),  # read from a file, in order
        ),
        min_size=1,
        max_size=6,
    ),
    st.integers(0, 3),
)
def test_weeks_fed_side_by_side_are_each_week_as_given(
    weeks: list[tuple[dict[str, tuple[Decimal, Decimal]], bool, bool]], count: int
) -> None:
    """Each week kept is that week's customers, in every tier's place, digit for digit,
    whichever order a week's file names its tiers in, read in order or from a map."""
    feeder = Feeder(InMemoryStore(count) if count else None, ["Pro", "Team"])
    kept = []
    for values, swapped, ordered in weeks:
        tiers = ("Team", "Pro") if swapped else ("Pro", "Team")
        mrr = {c: v[::-1] if swapped else v for c, v in sorted(values.items())}
        week = feeder.keep(Customers("usd", tiers, mrr, ordered=ordered))
        assert week is not None
        kept.append(week.mrr)
    for made, (values, _, _) in zip(kept, weeks, strict=True):
        assert dict(made) == values
        assert all(
            [v.as_tuple() for v in made[c]] == [v.as_tuple() for v in values[c]] for c in values
        )


def test_a_week_recounted_from_its_kept_read_keeps_the_customers_counted_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted again under today's config, a week's customers go through a customer file
    of their own, in shards: read back, they are those counted whole, digit for digit,
    with their names, in customers' order."""
    week = week_name(DEMO_AS_OF)
    raw = gzip.decompress((files("ffkpi") / "data" / "demo.json.gz").read_bytes())
    keep_read(tmp_path, week, lambda out: out.write(raw))
    config = demo_config()
    stale = WeekFigures(week, DEMO_AS_OF, "usd", D(0), D(0), (), "snapshot", "sha256:other")
    data = read_input(kept_read(tmp_path, week))
    whole = compute_report(data, config, DEMO_AS_OF)
    assert whole.customer_tiers is not None
    monkeypatch.setattr(parallel, "SHARD", 3)
    with spill.recounted() as aside:
        made = under_definition(tmp_path, stale, config, aside)
        assert (made.origin, made.mrr) == ("recomputed", round_money(whole.mrr, "usd"))
        assert made.customers is not None
        assert made.customers.ordered
        rows = list(made.customers.mrr.items())
        assert rows == sorted(whole.customer_tiers.items())
        assert [[v.as_tuple() for v in values] for _, values in rows] == [
            [v.as_tuple() for v in values] for _, values in sorted(whole.customer_tiers.items())
        ]
        named = data.customer_names.of(c for c, _ in rows)
        assert made.customers.names.of(c for c, _ in rows) == named
        assert named
