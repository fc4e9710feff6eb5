"""Live Stripe through the real stripe SDK, against the fake Stripe on 127.0.0.1."""

import copy
import itertools
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import make_demo
import stripe_fixtures as sf
from conftest import DEMO, ROOT, Ffkpi
from fake_stripe import ALL_PERMISSIONS, SECRET_KEY, FakeStripe, Faults
from ffkpi.engine.pricing import latest_metered
from ffkpi.errors import ExitCode, StripeUnavailableError
from ffkpi.stripe.account import AccountReader
from ffkpi.stripe.http import Pacer, RetryPolicy, StripeHttp
from ffkpi.text import scrub

pytestmark = pytest.mark.slow  # the quick run (-m "not slow") leaves it to CI

# The real policy's shape (8 tries, doubling delays), ten times quicker.
FAST_RETRY = RetryPolicy(attempts=8, base_delay=0.05, max_delay=1.6, max_total=30)
# Where a fifth of the answers are faults and the fake's rate limit is a quarter of the
# pace asked for, eight attempts with jittered delays (some near 0 s) can all fail (a CI
# run gave up on one request so). More attempts, the same short delays.
PATIENT_RETRY = RetryPolicy(attempts=20, base_delay=0.05, max_delay=1.6, max_total=30)


@pytest.fixture
def live_env(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
    monkeypatch.setenv("STRIPE_API_KEY", SECRET_KEY)
    return cli_env


def offline_demo(ffkpi: Ffkpi) -> dict[str, Any]:
    result = ffkpi("mrr", "--demo", "-f", "json")
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def figures(report: dict[str, Any]) -> tuple[Any, ...]:
    return report["mrr"], report["arr"], report["tiers"], report["unlisted"]


LIVE = ["mrr", "--as-of", "2026-11-17", "-f", "json", "--max-rps", "500", "-q"]


def test_live_totals_equal_the_offline_engine(
    ffkpi: Ffkpi, live_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    fake, url = start_fake()
    result = ffkpi(*LIVE, "--api-base", url)
    assert result.exit_code == 0, result.stderr
    assert figures(json.loads(result.stdout)) == figures(offline_demo(ffkpi))
    assert result.stderr == (
        f"ffkpi: requests go to {url}, not to Stripe's API\n"
        "ffkpi: test mode: this key reads Stripe's test data, not live revenue\n"
    )
    log = fake.requests()
    assert {entry.version for entry in log} == {"2026-10-28.endive"}
    # Never an expansion deeper than Stripe's four levels.
    expansions = {e for entry in log for e in entry.params.get("expand", [])}
    assert expansions
    assert all(e.count(".") < 4 for e in expansions)
    assert all(entry.status == 200 for entry in log)


def test_faults_and_429s_change_nothing(start_fake: Callable[..., tuple[FakeStripe, str]]) -> None:
    _, clean_url = start_fake()
    clean = read_live(clean_url)
    faults = Faults(
        error_rate=0.1,
        lock_timeout_rate=0.05,
        drop_rate=0.05,
        empty_page_rate=0.3,
        first=("500", "409", "drop"),  # each at least once, however the requests interleave
    )
    fake, url = start_fake(rate_limit=15, faults=faults)
    faulty = read_live(url, max_rps=60, retry=PATIENT_RETRY)  # over the limit: 429s, then slower
    assert canonical(faulty) == canonical(clean)
    statuses = [entry.status for entry in fake.requests()]
    # The faults really happened, and were absorbed.
    for status in (429, 500, 409, 0):
        assert status in statuses, status
    assert any(
        entry.path == "/v1/subscriptions" and "starting_after" in entry.params
        for entry in fake.requests()
    )


def canonical(dataset: Any) -> tuple[Any, ...]:
    """A dataset regardless of the order its pages arrived in."""
    return (
        sorted(dataset.subscriptions, key=lambda sub: sub.id),
        dict(dataset.product_names),
        sorted(dataset.invoice_lines, key=repr),
    )


def read_live(
    url: str,
    *,
    max_rps: float = 1000,
    concurrency: int = 8,
    retry: RetryPolicy = FAST_RETRY,
    **kw: Any,
) -> Any:
    http = StripeHttp(SECRET_KEY, api_base=url, max_rps=max_rps, retry=retry)
    reader = AccountReader(http, concurrency=concurrency)
    return reader.read(invoices_for=frozenset({"active", "past_due"}), **kw)


def test_every_subscription_once_across_split_windows(
    start_fake: Callable[..., tuple[FakeStripe, str]],
) -> None:
    builder = make_demo.Builder(seed=5)
    for n in range(1500):
        builder.subscription(n, builder.kind())
    for n, sub in enumerate(builder.subscriptions):
        sub["created"] = 1_750_000_000 + (n // 7) * 3600  # seven at a time: ties at every cut
    bundle = {**DEMO, "subscriptions": builder.subscriptions, "invoices": builder.invoices}
    fake, url = start_fake(bundle)
    fetched = read_live(url, concurrency=6)
    ids = [sub.id for sub in fetched.subscriptions]
    expected = {s["id"] for s in builder.subscriptions if s["status"] != "canceled"}
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    windows = {
        (entry.params["created"]["gte"], entry.params["created"]["lt"])
        for entry in fake.requests("/v1/subscriptions")
    }
    assert len(windows) > 6  # large windows were split while slots were free


def test_the_next_pages_are_asked_for_while_the_caller_still_holds_one(
    start_fake: Callable[..., tuple[FakeStripe, str]],
) -> None:
    """A window's next page goes out when its page comes back, not when the caller
    (busy with a page, or waiting for the side data) asks for the next one."""
    import time

    from ffkpi.stripe.lists import SUBSCRIPTIONS
    from ffkpi.stripe.paging import EARLIEST, Lister, Windows
    from ffkpi.stripe.payloads import Page, StripeSubscription

    builder = make_demo.Builder(seed=5)
    for n in range(1500):
        builder.subscription(n, builder.kind())
    for n, sub in enumerate(builder.subscriptions):
        sub["created"] = 1_750_000_000 + n * 60
    fake, url = start_fake({**DEMO, "subscriptions": builder.subscriptions})
    http = StripeHttp(SECRET_KEY, api_base=url, max_rps=1000, retry=FAST_RETRY)
    with ThreadPoolExecutor(4) as pool:
        lister = Lister(http, pool, 4)
        plan = Windows(EARLIEST, 1_750_000_000 + 1500 * 60, lister.slots)
        pages = lister.windows(
            SUBSCRIPTIONS.path,
            SUBSCRIPTIONS.params(),
            Page[StripeSubscription],
            "subscriptions",
            plan,
        )
        first = next(pages)
        held = time.monotonic()
        while time.monotonic() - held < 10:  # bounded: the assertion below says what failed
            if any("starting_after" in e.params for e in fake.requests("/v1/subscriptions")):
                break
            time.sleep(0.01)
        continued = [e for e in fake.requests("/v1/subscriptions") if "starting_after" in e.params]
        rest = list(pages)
    assert continued, "no page was asked for while the caller held the first one"
    ids = [sub.id for answer in [first, *rest] for sub in answer.page.data]
    listed = [s["id"] for s in builder.subscriptions if s["status"] != "canceled"]
    assert sorted(ids) == sorted(listed)


def test_items_beyond_the_embedded_list_are_fetched(
    start_fake: Callable[..., tuple[FakeStripe, str]],
) -> None:
    _, full_url = start_fake()
    fake, url = start_fake(items_per_subscription=1, lines_per_invoice=0)
    assert canonical(read_live(url)) == canonical(read_live(full_url))
    assert fake.requests("/v1/subscription_items")
    assert any(entry.path.endswith("/lines") for entry in fake.requests("/v1/invoices/"))


def test_requests_are_spaced_to_stay_under_max_rps() -> None:
    """The pacer's schedule on a clock of its own: many threads asking at once are given
    instants 1/rate apart, so no second holds more than the rate. (Measuring the real
    clock on a shared machine would test its scheduler; benchmarks/fetch.py does that,
    against a fake Stripe that answers 429 past its limit.)"""
    slept: list[float] = []
    pacer = Pacer(25, clock=lambda: 0.0, sleep=slept.append)  # all ask at the same instant
    with ThreadPoolExecutor(12) as pool:
        given = list(pool.map(lambda _: pacer.wait(), range(200)))
    given.sort()
    gaps = [b - a for a, b in itertools.pairwise(given)]
    assert min(gaps) == pytest.approx(1 / 25)
    busiest = max(sum(1 for t in given if start <= t < start + 1 - 1e-9) for start in given)
    assert busiest == 25
    assert sorted(slept) == given[1:]  # each waited for its turn
    pacer.slow_down()
    assert pacer.rate == pytest.approx(17.5)
    later = [pacer.wait() for _ in range(3)]
    assert later[2] - later[1] == pytest.approx(1 / 17.5)


def test_exhausted_retries_exit_5_and_write_nothing(
    ffkpi: Ffkpi, live_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    _, url = start_fake(faults=Faults(always_fail=True))
    common = ["--api-base", url, "--retry-for", "1", "-q"]
    fetch = ffkpi("fetch", "--output", "bundle.json", *common)
    snapshot = ffkpi("snapshot", *common)
    for result in (fetch, snapshot):
        assert (result.exit_code, result.stdout) == (ExitCode.STRIPE_UNAVAILABLE, "")
        last = result.stderr.splitlines()[-1]
        assert last.startswith("ffkpi: error: GET /v1/")
        assert "last: HTTP 500" in last
        assert last.endswith("(Stripe is unreachable or busy: try again later, or lower --max-rps)")
    assert not (live_env / "bundle.json").exists()
    assert not (live_env / "snapshots").exists()
    assert not [p for p in live_env.iterdir() if p.name.startswith(".bundle.json")]


def test_a_subscription_ffkpi_cannot_read_exits_3_naming_the_field(
    ffkpi: Ffkpi, live_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    subscriptions = copy.deepcopy(DEMO["subscriptions"])
    subscriptions[0]["currency"] = 840
    _, url = start_fake({**DEMO, "subscriptions": subscriptions})
    result = ffkpi(*LIVE, "--api-base", url)
    assert (result.exit_code, result.stdout) == (ExitCode.INVALID, "")
    assert re.fullmatch(
        r"ffkpi: error: Stripe sent subscriptions ffkpi cannot read: data\[\d+\]\.currency: "
        r"Expected str, got int \(check that the account uses API version 2026-10-28\.endive, "
        r"or report this\)",
        result.stderr.splitlines()[-1],
    )


def test_unreachable_stripe_exits_5(ffkpi: Ffkpi, live_env: Path) -> None:
    result = ffkpi("mrr", "--api-base", "http://127.0.0.1:9", "--retry-for", "0.5", "-q")
    assert (result.exit_code, result.stdout) == (ExitCode.STRIPE_UNAVAILABLE, "")
    assert "connection failed" in result.stderr


def test_wrong_key_exits_4_and_never_shows_the_key(
    ffkpi: Ffkpi, live_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    _, url = start_fake()
    wrong = "sk_live_51WrongKeyThatMustNeverBePrinted"
    result = ffkpi("mrr", "--api-base", url, env={"STRIPE_API_KEY": wrong})
    assert (result.exit_code, result.stdout) == (ExitCode.STRIPE_AUTH, "")
    notice, error = result.stderr.splitlines()
    assert notice == f"ffkpi: requests go to {url}, not to Stripe's API"
    assert error.startswith("ffkpi: error: Stripe rejected the API key: ")
    assert result.stderr.endswith("(check STRIPE_API_KEY or the file given to --api-key-file)\n")
    assert "WrongKeyThatMustNeverBePrinted" not in result.stderr
    assert "test mode" not in result.stderr


def test_restricted_key_without_coupons_exits_4_naming_what_it_lacks(
    ffkpi: Ffkpi, live_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    key = "rk_test_51RestrictedWithoutCoupons"
    _, url = start_fake(restricted={key: ALL_PERMISSIONS - {"rak_coupon_read"}})
    result = ffkpi("mrr", "--api-base", url, "-q", env={"STRIPE_API_KEY": key})
    assert (result.exit_code, result.stdout) == (ExitCode.STRIPE_AUTH, "")
    assert result.stderr.splitlines()[-1] == (
        "ffkpi: error: the restricted key has no read access to Coupons (GET /v1/coupons) "
        "(give the key the Coupons Read permission in the Stripe Dashboard "
        "(Developers > API keys), or use a key that has it)"
    )


def test_restricted_key_with_every_permission_works(
    ffkpi: Ffkpi, live_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    key = "rk_test_51RestrictedReadOnly"
    _, url = start_fake(restricted={key: ALL_PERMISSIONS})
    result = ffkpi(*LIVE, "--api-base", url, env={"STRIPE_API_KEY": key})
    assert result.exit_code == 0, result.stderr
    assert figures(json.loads(result.stdout)) == figures(offline_demo(ffkpi))


def test_key_from_a_file_and_a_warning_when_others_can_read_it(
    ffkpi: Ffkpi, live_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    _, url = start_fake()
    key_file = live_env / "stripe.key"
    key_file.write_text(SECRET_KEY + "\n# a comment line is never read\n")
    key_file.chmod(0o644)
    result = ffkpi(
        *LIVE,
        "--api-base",
        url,
        "--api-key-file",
        "stripe.key",
        env={"STRIPE_API_KEY": "sk_test_notthisone"},
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        "ffkpi: warning: stripe.key is readable by others; restrict it with chmod 600 stripe.key"
    )
    key_file.chmod(0o600)
    quiet = ffkpi(*LIVE, "--api-base", url, "--api-key-file", "stripe.key")
    assert "warning" not in quiet.stderr


def test_fetched_bundle_gives_the_same_numbers_offline(
    ffkpi: Ffkpi, live_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    _, url = start_fake(items_per_subscription=2)
    fetch = ffkpi("fetch", "-o", "bundle.json", "--api-base", url, "--max-rps", "500", "-q")
    assert fetch.exit_code == 0, fetch.stderr
    assert fetch.stdout == "bundle.json\n"
    assert "subscriptions written to bundle.json" in fetch.stderr
    text = (live_env / "bundle.json").read_text()
    assert SECRET_KEY not in text
    offline = ffkpi("mrr", "--input", "bundle.json", "--as-of", "2026-11-17", "-f", "json")
    live = ffkpi(*LIVE, "--api-base", url)
    assert figures(json.loads(offline.stdout)) == figures(json.loads(live.stdout))
    assert figures(json.loads(live.stdout)) == figures(offline_demo(ffkpi))


def test_the_fake_rejects_expansions_deeper_than_four_levels(
    start_fake: Callable[..., tuple[FakeStripe, str]],
) -> None:
    _, url = start_fake()
    http = StripeHttp(SECRET_KEY, api_base=url, retry=FAST_RETRY)
    with pytest.raises(Exception, match="You cannot expand more than 4 levels"):
        http.get("/v1/subscriptions", {"expand": ["data.items.data.price.tiers"]})


def test_keys_are_scrubbed_from_any_text() -> None:
    assert scrub("key sk_live_abc123XYZ and rk_test_9f8e7d") == "key sk_live_*** and rk_test_***"


def test_an_answer_that_is_not_json_exits_5(
    start_fake: Callable[..., tuple[FakeStripe, str]],
) -> None:
    _, url = start_fake(faults=Faults(not_json=True))
    with pytest.raises(
        StripeUnavailableError, match=r"is not JSON: invalid character \(byte 0\)"
    ) as raised:
        read_live(url)
    assert raised.value.exit_code == ExitCode.STRIPE_UNAVAILABLE


def test_empty_pages_forever_give_up_with_exit_5(
    start_fake: Callable[..., tuple[FakeStripe, str]],
) -> None:
    _, url = start_fake(faults=Faults(empty_page_rate=1.0))
    with pytest.raises(StripeUnavailableError, match="kept returning empty pages"):
        read_live(url)


def test_ctrl_c_stops_at_once_with_one_line_and_no_file(
    live_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    import signal
    import subprocess
    import sys
    import time

    # Every answer takes a minute: without stopping at once, ffkpi would wait for them.
    fake, url = start_fake(faults=Faults(latency_ms=60_000))
    child = subprocess.Popen(
        [sys.executable, "-m", "ffkpi", "fetch", "-o", "bundle.json", "--api-base", url, "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=live_env,
        env={"PATH": "", "NO_COLOR": "1", "STRIPE_API_KEY": SECRET_KEY},
    )
    assert child.stderr is not None
    child.stderr.readline()  # the notice of a base that is not Stripe's
    test_mode = child.stderr.readline()  # the read starts right after this notice
    assert b"test mode" in test_mode
    time.sleep(1.5)  # requests are in flight, each waiting out its minute
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=20)  # far less than the minute a request takes
    assert (child.returncode, out) == (ExitCode.INTERRUPTED, b"")
    assert err == b"ffkpi: error: interrupted; nothing was written\n"
    assert fake.requests() == []  # no request had been answered yet
    assert list(live_env.glob("*bundle.json*")) == []


def test_fetch_since_saves_the_billed_history_past_weeks_are_rebuilt_from(
    ffkpi: Ffkpi, live_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    from datetime import date

    from accounts import case_1_bundle, unstreamed
    from ffkpi.engine.money import format_money
    from ffkpi.history.rebuild import rebuild_weeks
    from ffkpi.sources.files import read_input
    from ffkpi.storage.config_file import load_config

    bundle = case_1_bundle()
    old = copy.deepcopy(bundle["invoices"][0])
    old["id"], old["created"] = "in_old", 1_600_000_000  # 2020: before --since less a year
    bundle["invoices"].append(old)
    bundle["customers"] = [sf.customer("cus_1", "Fjord Water AB", created=1_700_000_000)]
    fake, url = start_fake(bundle, lines_per_invoice=0)  # every line past the embedded ones
    result = ffkpi(
        "fetch",
        "-o",
        "history.json",
        "--since",
        "2026-03-01",
        "--api-base",
        url,
        "-q",
        "--max-rps",
        "500",
    )
    assert result.exit_code == 0, result.stderr
    saved = unstreamed((live_env / "history.json").read_bytes())
    assert [i["id"] for i in saved["invoices"]] == ["in_1"]
    assert len(saved["invoices"][0]["lines"]["data"]) == 1
    assert sorted(i["id"] for i in saved["invoice_items"]) == ["ii_0", "ii_1"]
    assert [p["id"] for p in saved["prices"]] == ["price_1"]  # per unit, kept for history
    assert [(c["id"], c["name"]) for c in saved["customers"]] == [("cus_1", "Fjord Water AB")]
    names = read_input(live_env / "history.json").customer_names
    assert names.of(["cus_1", "cus_2"]) == {"cus_1": "Fjord Water AB"}
    assert fake.requests("/v1/invoices/in_1/lines")
    windows = [e.params for e in fake.requests("/v1/invoices") if e.path == "/v1/invoices"]
    assert all(w["expand"] == ["data.discounts", "data.lines.data.discounts"] for w in windows)
    data = read_input(live_env / "history.json", history=True)
    config = load_config(live_env / "ffkpi.toml")
    weeks = rebuild_weeks(data, config, [date(2026, 3, 16), date(2026, 3, 23)])
    assert [format_money(w.mrr, "usd") for w in weeks] == ["0.00", "0.00"]  # prod_a: no tier
    assert [format_money(w.unlisted[0].mrr, "usd") for w in weeks] == ["50.00", "80.00"]


def test_a_small_account_costs_a_handful_of_requests_beyond_its_pages(
    start_fake: Callable[..., tuple[FakeStripe, str]],
) -> None:
    """The demo read as `ffkpi mrr` reads it (metered items at their newest invoices):
    its subscription pages, the three side lists, and the pages of the invoices of the
    last two months and a week, rather than a request per metered subscription."""
    fake, url = start_fake()
    http = StripeHttp(SECRET_KEY, api_base=url, max_rps=1000, retry=FAST_RETRY)
    now = DEMO["fetched_at"]
    data = AccountReader(http, concurrency=4, now=now).read(
        invoices_for=frozenset({"active", "past_due"})
    )
    listed = [s for s in DEMO["subscriptions"] if s["status"] != "canceled"]
    recent = [i for i in DEMO["invoices"] if i["created"] >= now - (2 * 31 + 7) * 86_400]
    needed = -(-len(listed) // 100) + 3 + -(-len(recent) // 100)
    log = fake.requests()
    assert not [e for e in log if e.path == "/v1/invoices" and "subscription" in e.params]
    assert len(log) <= needed + 5, (len(log), needed)
    lines = sum(1 for line in data.invoice_lines if line.invoice_status in ("open", "paid"))
    assert lines > 0


def test_the_history_read_gives_metered_items_their_newest_invoices_too(
    start_fake: Callable[..., tuple[FakeStripe, str]],
) -> None:
    """With the billed history, the newest invoices are among those read: no request
    of its own per metered subscription, and the same metered lines."""
    fake, url = start_fake()
    now = DEMO["fetched_at"]
    statuses = frozenset({"active", "past_due"})
    http = StripeHttp(SECRET_KEY, api_base=url, max_rps=1000, retry=FAST_RETRY)
    history = AccountReader(http, now=now).read(
        invoices_for=statuses, canceled=True, history_from=now - 365 * 86_400
    )
    assert not [e for e in fake.requests("/v1/invoices") if "subscription" in e.params]
    http = StripeHttp(SECRET_KEY, api_base=url, max_rps=1000, retry=FAST_RETRY)
    plain = AccountReader(http, now=now).read(invoices_for=statuses)
    newest = latest_metered(plain.invoice_lines)
    assert newest == {k: v for k, v in latest_metered(history.invoice_lines).items() if k in newest}


def test_review_live_is_the_review_of_the_bundle_fetch_saves(
    ffkpi: Ffkpi,
    live_env: Path,
    start_fake: Callable[..., tuple[FakeStripe, str]],
    clock: datetime,
) -> None:
    """`review --live` rebuilds the weeks from the account read now: the same document as
    `fetch --since` then `review --input` on what it saved."""
    _, url = start_fake()
    reach = ("--api-base", url, "-q", "--max-rps", "500")
    since = ("--since", "2025-06-01", "--weeks", "8")
    saved = ffkpi("fetch", "-o", "history.json", "--since", "2025-06-01", *reach)
    assert saved.exit_code == 0, saved.stderr
    offline = ffkpi("review", "--input", "history.json", "--weeks", "8", "--format", "json")
    live = ffkpi("review", "--live", *since, *reach, "--format", "json")
    assert (offline.exit_code, live.exit_code) == (0, 0), live.stderr
    assert json.loads(live.stdout) == json.loads(offline.stdout)
    # The running week is the read itself, as `ffkpi mrr` counts it; where the rebuild of
    # that instant differs, the page says so and why.
    document = json.loads(live.stdout)
    counted = ffkpi("mrr", "--input", "history.json", "-f", "json")
    assert document["mrr"] == json.loads(counted.stdout)["mrr"]
    notes = [n for n in document["data_notes"] if n.startswith("this week's MRR is the read's")]
    assert len(notes) == 1
    assert "subscriptions changed status since their last invoice" in notes[0]
    both = ffkpi("review", "--live", "--demo", "--format", "json")
    assert both.exit_code == ExitCode.USAGE
    assert "--live reads the account itself" in both.stderr
