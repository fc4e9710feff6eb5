"""Reads in JSON lines (sources.stream), as `ffkpi fetch` and the weekly run write them:
the same figures as the same account in one JSON document, in every command, whatever
the parts of the rebuild; and what a damaged or crafted file gets."""

import gzip
import json
import pickle
import re
from datetime import datetime
from pathlib import Path

import pytest

from accounts import read, simulated, streamed
from conftest import DEMO, Ffkpi
from ffkpi.engine.model import HeldNames
from ffkpi.engine.mrr import compute_report
from ffkpi.engine.pricing import latest_metered
from ffkpi.errors import ExitCode, InputError
from ffkpi.history.rebuild import rebuild
from ffkpi.sources import fingerprints, read_names, stream
from ffkpi.sources.demo import DEMO_AS_OF, demo_config, example_config_text
from ffkpi.sources.files import parse_input, read_input
from ffkpi.storage import spill
from ffkpi.usecases import parallel

COMMANDS = [
    ("mrr", "-f", "json"),
    ("mrr", "--as-of", "2026-10-01", "-f", "csv"),
    ("history", "-f", "json"),
    ("history", "--by-tier", "-f", "csv"),
    ("movements", "-f", "json"),
    ("review", "-f", "json"),
    ("check",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.usefixtures("clock")
def test_every_command_says_the_same_of_the_demo_read_either_way(
    ffkpi: Ffkpi, cli_env: Path, command: tuple[str, ...]
) -> None:
    (cli_env / "ffkpi.toml").write_text(example_config_text())
    (cli_env / "bundle.json").write_text(json.dumps(DEMO))
    (cli_env / "read.jsonl.gz").write_bytes(gzip.compress(streamed(DEMO)))
    whole = ffkpi(*command, "--input", "bundle.json")
    lines = ffkpi(*command, "--input", "read.jsonl.gz")
    assert whole.exit_code == 0, whole.stderr
    assert (lines.exit_code, lines.stdout, lines.stderr) == (0, whole.stdout, whole.stderr)


def test_the_read_is_a_header_the_catalog_and_a_line_a_subscription() -> None:
    lines = [json.loads(line) for line in streamed(DEMO).splitlines()]
    assert lines[0] == {
        "object": "ffkpi.read",
        "version": 1,
        "lists": [
            "subscriptions",
            "prices",
            "coupons",
            "products",
            "invoices",
            "invoice_items",
            "customers",
        ],
        "subscriptions": len(DEMO["subscriptions"]),
        "fetched_at": DEMO["fetched_at"],
        "history_from": DEMO["history_from"],
    }
    subs = [line for line in lines if "subscription" in line]
    assert [s["subscription"]["id"] for s in subs] == [s["id"] for s in DEMO["subscriptions"]]
    for line in subs:  # each invoice on its own subscription's line
        owner = line["subscription"]["id"]
        for invoice in line["invoices"] + line["invoice_items"]:
            assert invoice["parent"]["subscription_details"]["subscription"] == owner
    held = sum(len(s["invoices"]) for s in subs)
    rest = sum(len(line.get("invoices", ())) for line in lines if "subscription" not in line)
    assert held + rest == len(DEMO["invoices"])  # one-off invoices after the subscriptions
    assert all(len(line.get("prices", ())) <= stream.CHUNK for line in lines)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [5, 71])
def test_a_simulated_account_rebuilds_the_same_from_its_file_in_every_part(
    tmp_path: Path, seed: int
) -> None:
    bundle = simulated(seed, signups=120, unknowable=4)
    for invoice in bundle["invoices"][::9]:  # a discount known by its id alone: left out
        invoice["discounts"] = [f"di_{invoice['id']}"]
    path = tmp_path / "read.jsonl"
    path.write_bytes(streamed(bundle))
    held = read(bundle, history=True)
    data = read_input(path, history=True)
    assert data.invoices == ()  # never all held: read again part by part
    assert data.billing is not None
    days = [DEMO_AS_OF.fromordinal(DEMO_AS_OF.toordinal() - 7 * k) for k in range(60, -1, -1)]
    config = demo_config()
    expected = rebuild(held, config, days)
    assert expected.unknown_discounts > 0  # the coupons gone are counted either way
    assert rebuild(data, config, days) == expected
    assert rebuild(data, config, days, parts=3) == expected
    assert rebuild(data, config, days, parts=2, run=parallel._in_pool) == expected


def test_a_read_holds_no_metered_lines_and_counts_them_all(tmp_path: Path) -> None:
    """A read in JSON lines holds none of its metered items' lines: each subscription is
    counted with its own, read from its line, as the same account in one document,
    which holds them all, counts them."""
    path = tmp_path / "read.jsonl"
    path.write_bytes(streamed(DEMO))
    bundle = parse_input(json.dumps(DEMO).encode(), "demo", history=True)
    config = demo_config()
    metered = {i.id for sub in bundle.subscriptions for i in sub.items if i.price.metered}
    billed = {k: v for k, v in latest_metered(bundle.invoice_lines).items() if k in metered}
    for history in (False, True):
        data = read_input(path, history=history)
        assert data.invoice_lines == ()
        assert data.with_lines is not None
        own = [line for _, lines in data.with_lines() for line in lines]
        assert {k: v for k, v in latest_metered(own).items() if k in metered} == billed != {}
        assert compute_report(data, config, DEMO_AS_OF) == compute_report(
            bundle, config, DEMO_AS_OF
        )


def test_a_read_cut_short_is_refused(tmp_path: Path) -> None:
    lines = streamed(DEMO).splitlines(keepends=True)
    path = tmp_path / "read.jsonl"
    path.write_bytes(b"".join(lines[:-40]))
    with pytest.raises(InputError, match=r"holds \d+ of its 594 subscriptions: it was cut short"):
        read_input(path, history=True)


@pytest.mark.parametrize("command", ["mrr", "history", "check"])
def test_a_damaged_line_is_named_and_nothing_is_shown(
    ffkpi: Ffkpi, cli_env: Path, command: str
) -> None:
    lines = streamed(DEMO).splitlines(keepends=True)
    lines[30] = lines[30].replace(b'"status":"', b'"status":7,"x":"', 1)
    (cli_env / "read.jsonl").write_bytes(b"".join(lines))
    (cli_env / "ffkpi.toml").write_text(example_config_text())
    result = ffkpi(command, "--input", "read.jsonl")
    assert (result.exit_code, result.stdout) == (ExitCode.INVALID, "")
    assert re.fullmatch(r"ffkpi: error: read\.jsonl, line 31: .*status.*\n", result.stderr)


def test_a_line_past_the_limit_is_refused_before_it_fills_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "LINE_LIMIT", 4096)
    path = tmp_path / "read.jsonl.gz"
    path.write_bytes(gzip.compress(streamed(DEMO)[:500] + b"0" * 10**7))
    with pytest.raises(InputError, match="line 2 is longer than"):
        read_input(path, history=True)


def test_history_is_refused_from_a_read_without_it(tmp_path: Path) -> None:
    today = {k: v for k, v in DEMO.items() if k not in ("invoice_items", "history_from")}
    path = tmp_path / "read.jsonl"
    path.write_bytes(streamed(today))
    today_only = read_input(path, history=None)
    assert today_only.rebuilt == 0
    assert today_only.billing is None
    with pytest.raises(InputError, match='no "invoice_items"'):
        read_input(path, history=True)


def test_invoices_of_a_subscription_not_held_are_refused(tmp_path: Path) -> None:
    dropped = DEMO["subscriptions"][3]["id"]
    bundle = {**DEMO, "subscriptions": [s for s in DEMO["subscriptions"] if s["id"] != dropped]}
    path = tmp_path / "read.jsonl"
    path.write_bytes(streamed(bundle))
    with pytest.raises(InputError, match=f"of subscription {dropped}, which the data does not"):
        read_input(path, history=True)


def test_a_newer_version_asks_for_a_newer_ffkpi(ffkpi: Ffkpi, cli_env: Path) -> None:
    text = streamed(DEMO).replace(b'"version":1', b'"version":2', 1)
    (cli_env / "read.jsonl").write_bytes(text)
    (cli_env / "ffkpi.toml").write_text(example_config_text())
    result = ffkpi("mrr", "--input", "read.jsonl")
    assert result.exit_code == ExitCode.INVALID
    assert result.stderr == (
        "ffkpi: error: read.jsonl: a read of version 2, which this ffkpi cannot read "
        "(upgrade ffkpi, or fetch the read again with this one)\n"
    )


def test_an_error_in_a_rebuild_worker_reaches_the_run_whole() -> None:
    err = pickle.loads(pickle.dumps(InputError("invoice in_1: broken", "fetch it again", "x")))
    assert (type(err), err.what, err.fix, err.detail) == (
        InputError,
        "invoice in_1: broken",
        "fetch it again",
        "x",
    )


def test_the_file_says_when_it_was_read_so_the_clock_never_matters(
    tmp_path: Path, clock: datetime
) -> None:
    path = tmp_path / "read.jsonl"
    path.write_bytes(streamed(DEMO))
    data = read_input(path)
    assert (data.read_at, data.read_at_is_file_time) == (DEMO["fetched_at"], False)
    assert clock.date() > DEMO_AS_OF


def test_a_file_changed_between_its_reads_is_one_line_not_a_wrong_week(tmp_path: Path) -> None:
    path = tmp_path / "read.jsonl"
    text = streamed(DEMO)
    path.write_bytes(text)
    data = read_input(path, history=True)
    path.write_bytes(b"".join(text.splitlines(keepends=True)[:-60]))
    with pytest.raises(InputError, match="changed while it was read"):
        rebuild(data, demo_config(), [DEMO_AS_OF])
    with pytest.raises(InputError, match="changed while it was read"):
        compute_report(data, demo_config(), DEMO_AS_OF)


@pytest.mark.parametrize("moved", ["customers", "subscription"])
def test_a_line_out_of_its_place_is_refused(tmp_path: Path, moved: str) -> None:
    lines = streamed(DEMO).splitlines(keepends=True)
    k = next(n for n, line in enumerate(lines) if line.startswith(f'{{"{moved}":'.encode()))
    lines += [b'{"invoices":[]}\n', lines.pop(k)]  # after the subscriptions and what follows
    path = tmp_path / "read.jsonl"
    path.write_bytes(b"".join(lines))
    with pytest.raises(InputError, match=r"catalog line after|out of place"):
        read_input(path, history=True)


def test_a_subscription_there_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    lines = streamed(DEMO).splitlines(keepends=True)
    subs = [n for n, line in enumerate(lines) if line.startswith(stream.SUBSCRIPTION_LINE)]
    lines[subs[-1]] = lines[subs[3]]  # far apart: the first pass holds no ids to compare
    path = tmp_path / "read.jsonl"
    path.write_bytes(b"".join(lines))
    sub_id = json.loads(lines[subs[3]])["subscription"]["id"]
    with pytest.raises(InputError) as raised:
        read_input(path, history=None)
    assert raised.value.what == (
        f"{path}, line {subs[-1] + 1}: subscription {sub_id} there twice "
        f"(first on line {subs[3] + 1})"
    )


def test_the_ids_fingerprints_are_only_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every id given one fingerprint: the read is still taken whole, its ids told apart
    by reading them again, and what is refused is refused still."""
    path = tmp_path / "read.jsonl"
    path.write_bytes(streamed(DEMO))
    expected = compute_report(read_input(path, history=True), demo_config(), DEMO_AS_OF)
    for module in (fingerprints, stream, read_names):
        monkeypatch.setattr(module, "fingerprint", lambda sub_id: 7)
    data = read_input(path, history=True)
    assert compute_report(data, demo_config(), DEMO_AS_OF) == expected
    test_a_subscription_there_twice_is_refused_with_both_lines(tmp_path)
    test_invoices_of_a_subscription_not_held_are_refused(tmp_path)
    test_invoices_outside_their_subscriptions_line_are_refused(tmp_path)
    test_a_customer_listed_twice_is_refused(tmp_path, monkeypatch, held=False)


def test_invoices_outside_their_subscriptions_line_are_refused(tmp_path: Path) -> None:
    lines = streamed(DEMO).splitlines(keepends=True)
    k, owned = next(
        (n, entry)
        for n, line in enumerate(lines)
        if (entry := json.loads(line)).get("invoices") and "subscription" in entry
    )
    lines[k] = json.dumps({**owned, "invoices": []}).encode() + b"\n"
    lines.append(json.dumps({"invoices": owned["invoices"]}).encode() + b"\n")
    path = tmp_path / "read.jsonl"
    path.write_bytes(b"".join(lines))
    sub_id = owned["subscription"]["id"]
    with pytest.raises(InputError, match=f"invoices of subscription {sub_id} outside its line"):
        read_input(path, history=True)


def names_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read holds none of its names: past 3 they are read again from its file, and
    sorted on disk in runs of 7, merged in batches of 5."""
    monkeypatch.setattr(read_names, "HELD", 3)
    monkeypatch.setattr(spill, "RUN", 7)
    monkeypatch.setattr(spill, "BATCH", 5)


@pytest.mark.parametrize("held", [True, False], ids=["names held", "names read again"])
@pytest.mark.usefixtures("clock")
def test_backfill_writes_the_same_snapshots_from_either_read(
    ffkpi: Ffkpi, cli_env: Path, monkeypatch: pytest.MonkeyPatch, held: bool
) -> None:
    if not held:
        names_read_again(monkeypatch)
    (cli_env / "ffkpi.toml").write_text(example_config_text())
    (cli_env / "bundle.json").write_text(json.dumps(DEMO))
    (cli_env / "read.jsonl").write_bytes(streamed(DEMO))
    written = {}
    for given, folder in (("bundle.json", "whole"), ("read.jsonl", "lines")):
        done = ffkpi("backfill", "--input", given, "--since", "2026-06-01", "--dir", folder)
        assert done.exit_code == 0, done.stderr
        files = (cli_env / folder).rglob("*")
        written[folder] = {p.relative_to(cli_env / folder): p.read_bytes() for p in files}
    assert len(written["whole"]) > 20  # a snapshot and a customer file a week
    assert written["lines"] == written["whole"]


@pytest.mark.parametrize("command", [("movements", "-f", "json"), ("review", "-f", "json")])
@pytest.mark.usefixtures("clock")
def test_the_movers_are_named_the_same_when_the_names_are_read_again(
    ffkpi: Ffkpi, cli_env: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    (cli_env / "ffkpi.toml").write_text(example_config_text())
    (cli_env / "read.jsonl").write_bytes(streamed(DEMO))
    held = ffkpi(*command, "--input", "read.jsonl")
    names_read_again(monkeypatch)
    again = ffkpi(*command, "--input", "read.jsonl")
    assert held.exit_code == 0, held.stderr
    assert '"name": "' in held.stdout  # movers are named
    assert (again.exit_code, again.stdout, again.stderr) == (0, held.stdout, held.stderr)


def test_a_reads_names_read_again_are_its_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "read.jsonl"
    path.write_bytes(streamed(DEMO))
    named = {c["id"]: c["name"] for c in DEMO["customers"] if c["name"]}
    held = read_input(path).customer_names
    names_read_again(monkeypatch)
    again = read_input(path).customer_names
    assert isinstance(held, HeldNames)
    assert isinstance(again, read_names.ReadNames)
    asked = [*list(named)[::3], "cus_nobody", *(c["id"] for c in DEMO["customers"][:9])]
    assert again.of(asked) == held.of(asked) == {c: named[c] for c in asked if c in named}
    for _ in range(2):  # sorted on disk once, gone through as often as asked
        blocks = list(again.blocks())
        assert [c for _, block in blocks for c in block] == sorted(named)
        assert all(last == max(block) and len(block) == 5 for last, block in blocks[:-1])
        assert {c: n for _, block in blocks for c, n in block.items()} == named


@pytest.mark.parametrize("held", [True, False], ids=["names held", "names read again"])
def test_a_customer_listed_twice_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: bool
) -> None:
    if not held:
        names_read_again(monkeypatch)
    twice = DEMO["customers"][4]
    lines = streamed(DEMO).splitlines(keepends=True)
    lines.insert(1, json.dumps({"customers": [twice]}).encode() + b"\n")  # a page saved twice
    path = tmp_path / "read.jsonl"
    path.write_bytes(b"".join(lines))
    with pytest.raises(InputError, match=f"^customer {twice['id']} appears twice in the input$"):
        read_input(path)
