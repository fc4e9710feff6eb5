"""`ffkpi review`: one document, rendered as JSON and Markdown."""

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from accounts import HANDBOOK_KPIS, WORKED_KPIS
from conftest import DEMO, ROOT, Ffkpi, Slack
from ffkpi import webhook
from ffkpi.engine.calendar import week_name
from ffkpi.errors import ExitCode, WebhookError
from ffkpi.render.review import EXAMPLE


@pytest.fixture
def review_env(cli_env: Path, ffkpi: Ffkpi) -> Path:
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text() + WORKED_KPIS)
    for week, mqls, carr in (("2026-W46", "110", "150000"), ("2026-W47", "118", "168000")):
        result = ffkpi("record", f"mqls={mqls}", f"carr_closed={carr}", "--week", week)
        assert result.exit_code == 0, result.stderr
    (cli_env / "bundle.json").write_text(json.dumps(DEMO))  # the demo's read, as a file
    return cli_env


# The demo account read from a file: values recorded beside it are its own (the demo
# never mixes them in).
READ = ("--input", "bundle.json")


@pytest.mark.usefixtures("demo_tuesday")
def test_json_holds_the_worked_case(ffkpi: Ffkpi, review_env: Path) -> None:
    result = ffkpi("review", *READ, "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "ffkpi.review/1"
    assert (document["week"], document["as_of"], document["currency"]) == (
        "2026-W47",
        "2026-11-17",
        "usd",
    )
    assert (document["mrr"], document["arr"]) == ("100266.13", "1203193.60")
    growth = document["growth"]
    assert (growth["rate"], growth["needed"], growth["shortfall"], growth["met"]) == (
        "0.0101",
        "109189.63",
        "8923.50",
        False,
    )
    assert document["movements"]["churn"] == "1720.67"
    assert document["quarter"] == {
        **document["quarter"],
        "name": "2026-Q4",
        "share_gone": "0.5217",
    }
    assert [k["key"] for k in document["kpis"]] == ["mqls", "carr_closed", "mrr"]
    carr = document["kpis"][1]
    assert (carr["value"], carr["previous"], carr["goal"], carr["behind_by"]) == (
        "168000.00",
        "150000.00",
        "450000.00",
        "66782.61",
    )
    assert document["sentences"][2] == (
        "CARR Closed (this quarter) is furthest behind its goal: 37.3 % of its goal with "
        "52.2 % of the quarter gone."
    )
    mrr = ffkpi("mrr", "--demo", "--format", "json")
    assert json.loads(mrr.stdout)["mrr"] == document["mrr"]  # the headline is mrr's total


@pytest.mark.usefixtures("demo_tuesday")
def test_markdown_shows_the_same_document(ffkpi: Ffkpi, review_env: Path) -> None:
    result = ffkpi("review", *READ, "--output", "review.md")
    assert (result.exit_code, result.stdout) == (0, "review.md\n")
    text = (review_env / "review.md").read_text()
    assert text.startswith("# KPI review 2026-W47 (as of 2026-11-17)\n")
    # Every KPI with last week, the change, the goal and its status; CARR in whole dollars.
    assert (
        "| CARR Closed (this quarter) | 168,000 | 150,000 | +18,000 (12.00 %) | 450,000 | "
        "🔴 37.33 % of goal, 52.17 % of the quarter gone; behind by 66,783 | the CRM |"
    ) in text
    assert "| MRR | 100,266.13 | 99,263.30 | +1,002.83 (1.01 %) | 109,189.63 | 🔴 missed by" in text
    assert "churn and contraction took 64.0 % of new." in text


def test_outside_text_stays_text_in_markdown(ffkpi: Ffkpi, cli_env: Path) -> None:
    hostile = '<img src=x onerror="alert(1)"> | **bold** [link](http://x)'
    (cli_env / "ffkpi.toml").write_text(
        (ROOT / "config.example.toml").read_text()
        + f"\n[kpis.mqls]\nname = {json.dumps(hostile)}\ngoal = 120\n"
    )
    assert ffkpi("record", "mqls=1", "--week", "2026-W47").exit_code == 0
    text = ffkpi("review", "--demo").stdout
    assert not re.search(r"(?<!\\)<img", text)  # every < escaped: Markdown shows it as text
    assert '\\<img src=x onerror="alert(1)"\\> \\| \\*\\*bold\\*\\* \\[link\\](http://x)' in text


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("--week", "2030-W01"), ExitCode.USAGE, "2030-W01 is not among the weeks"),
        (("--week", "2026-W47", "--as-of", "2026-11-17"), ExitCode.USAGE, "both given"),
        (("--format", "png"), ExitCode.USAGE, "--format png writes an image (pass --output"),
    ],
)
def test_bad_input_is_one_line(
    ffkpi: Ffkpi, review_env: Path, args: tuple[str, ...], code: int, says: str
) -> None:
    result = ffkpi("review", *READ, *args)
    assert result.exit_code == code
    assert says in result.stderr
    assert (result.stdout, len(result.stderr.splitlines())) == ("", 1)


@pytest.fixture
def demo_tuesday(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock at 08:30 on the demo's own Tuesday: its week is the running week."""
    monkeypatch.setattr("ffkpi.clock.now", lambda: datetime(2026, 11, 17, 8, 30, tzinfo=UTC))


def test_only_the_running_week_is_posted(
    ffkpi: Ffkpi, review_env: Path, slack: str, clock: datetime
) -> None:
    """review-rules: a post is of the running week; another only when named with --week."""
    result = ffkpi("review", *READ, "--post-to", slack)
    assert (result.exit_code, result.stdout) == (ExitCode.USAGE, "")
    assert result.stderr == (
        "ffkpi: error: the newest week found is 2026-W47 (as of 2026-11-17), not the running "
        f"week {week_name(clock.date())}: a post is of the running week (take this week's "
        "snapshot first (ffkpi weekly), or pass --week 2026-W47 to post that week anyway)\n"
    )
    assert Slack.received == []
    named = ffkpi("review", *READ, "--post-to", slack, "--week", "2026-W47")
    assert (named.exit_code, named.stderr) == (0, "ffkpi: posted the review of 2026-W47 to Slack\n")
    assert len(Slack.received) == 1


@pytest.mark.usefixtures("demo_tuesday")
def test_the_review_is_posted_to_a_slack_webhook(
    ffkpi: Ffkpi, review_env: Path, slack: str
) -> None:
    message = ffkpi("review", *READ, "--format", "slack").stdout
    assert message.startswith("*KPI review 2026-W47* (as of 2026-11-17)\n")
    assert (
        "• *CARR Closed (this quarter)*: 168,000; last week 150,000 (+18,000 (12.00 %)); goal "
        "450,000 · 🔴 37.33 % of goal, 52.17 % of the quarter gone; behind by 66,783\n"
    ) in message
    assert message.splitlines()[1] == (
        "*MRR 100,266.13 USD · ARR 1,203,193.60 USD · grew 1.01 % against the 10.00 % target; "
        "the week needed 109,189.63 · 13 weeks compounded: 2.76 % a week*"
    )
    assert (
        "• Bridge: 99,263.30 + new 2,546.50 + expansion 240.00 + reactivation 0.00 - "
        "contraction 63.00 - churn 1,720.67 = 100,266.13\n"
    ) in message
    assert len(message) <= 3000
    result = ffkpi("review", *READ, env={"FFKPI_SLACK_WEBHOOK": slack})
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "ffkpi: posted the review of 2026-W47 to Slack\n"
    assert [json.loads(body) for body in Slack.received] == [{"text": message}]


@pytest.mark.usefixtures("demo_tuesday")
def test_a_refusing_webhook_is_one_line_without_its_url(
    ffkpi: Ffkpi, review_env: Path, slack: str
) -> None:
    Slack.status = 404
    result = ffkpi("review", *READ, "--post-to", slack)
    assert result.exit_code == ExitCode.STRIPE_UNAVAILABLE
    assert result.stderr == (
        "ffkpi: error: the Slack webhook answered HTTP 404 (check the webhook is still active)\n"
    )
    assert "secret-token" not in result.output
    plain = ffkpi("review", *READ, "--post-to", "http://hooks.example.com/x")
    assert plain.exit_code == ExitCode.USAGE
    assert "must be an https:// URL" in plain.stderr


def test_names_in_slack_are_text(ffkpi: Ffkpi, cli_env: Path) -> None:
    (cli_env / "ffkpi.toml").write_text(
        (ROOT / "config.example.toml").read_text()
        + '\n[kpis.mqls]\nname = "<!channel> & <http://x|click>"\ngoal = 120\n'
    )
    assert ffkpi("record", "mqls=1", "--week", "2026-W47").exit_code == 0
    (cli_env / "bundle.json").write_text(json.dumps(DEMO))
    message = ffkpi("review", "--input", "bundle.json", "--format", "slack").stdout
    assert (
        "• *&lt;!channel&gt; &amp; &lt;http://x|click&gt;*: 1; goal 120 · 🔴 behind by 119\n"
        in (message)
    )
    assert "<!channel>" not in message


def test_the_demo_shows_all_seven_kpis_marked_as_example_data(ffkpi: Ffkpi) -> None:
    document = json.loads(ffkpi("review", "--demo", "--format", "json").stdout)
    assert [k["key"] for k in document["kpis"]] == [*HANDBOOK_KPIS, "mrr"]
    assert document["example_data"] is True
    assert all(k["via"] == "example" for k in document["kpis"][:6])
    assert document["kpis"][4]["behind_by"] == "66782.61"  # the worked case's CARR
    page = ffkpi("review", "--demo").stdout
    assert f"> {EXAMPLE}\n" in page
    assert (
        "| MQLs | 133 (example) | 133 (example) | ±0 (0.00 %) | 120 | ✅ on track | HubSpot, "
        "simulated (example) |"
    ) in page
    slack = ffkpi("review", "--demo", "--format", "slack").stdout
    assert f"_{EXAMPLE}_\n" in slack
    assert "• *MQLs*: 133 _(example)_; last week 133 (±0 (0.00 %)); goal 120 · ✅ on track" in slack


def test_projected_carr_is_judged_against_the_carr_goal(ffkpi: Ffkpi) -> None:
    document = json.loads(ffkpi("review", "--demo", "--format", "json").stdout)
    projected = document["kpis"][3]
    assert (projected["key"], projected["value"], projected["goal"]) == (
        "carr_projected",
        "402000.00",
        "450000.00",
    )
    assert (projected["on_track"], projected["behind_by"]) == (False, "48000.00")


def test_png_without_a_browser_names_the_install_step(
    ffkpi: Ffkpi, review_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FFKPI_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(review_env / "empty"))
    result = ffkpi("review", *READ, "--format", "png", "-o", "review.png")
    assert result.exit_code == ExitCode.RENDERER
    assert result.stderr == (
        "ffkpi: error: --format png needs a headless chromium, and none is installed (install "
        "one (apt-get install -y --no-install-recommends chromium), or set FFKPI_CHROMIUM; "
        "html, markdown and slack need none)\n"
    )
    assert not (review_env / "review.png").exists()


def test_an_output_path_that_is_a_folder_is_one_line(ffkpi: Ffkpi, review_env: Path) -> None:
    (review_env / "out").mkdir()
    result = ffkpi("review", *READ, "--format", "html", "-o", "out")
    assert result.exit_code != 0
    assert result.stderr.count("\n") == 1
    assert "out" in result.stderr
    assert list((review_env / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("values = [", "2026-W46.toml is not a readable file of recorded KPI values"),
        ('schema = "someone.else/3"\n', "2026-W46.toml is not a readable file of recorded KPI"),
    ],
)
def test_a_corrupt_recorded_week_is_one_line_and_no_page(
    ffkpi: Ffkpi, review_env: Path, content: str, says: str
) -> None:
    (review_env / "snapshots" / "kpis" / "2026-W46.toml").write_text(content)
    result = ffkpi("review", *READ, "--format", "html", "-o", "review.html")
    assert result.exit_code == ExitCode.STORAGE
    assert says in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (review_env / "review.html").exists()


def test_a_malformed_kpis_table_is_one_line(ffkpi: Ffkpi, cli_env: Path) -> None:
    (cli_env / "ffkpi.toml").write_text(
        (ROOT / "config.example.toml").read_text() + '\n[kpis.mqls]\nunit = "furlongs"\n'
    )
    result = ffkpi("review", "--demo", "--format", "html", "-o", "review.html")
    assert result.exit_code == ExitCode.INVALID
    assert "kpis.mqls" in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (cli_env / "review.html").exists()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://hooks.slack.com/services/T0/B0/secret-token with-a-space", "holds a space"),
        ("https://hooks.slack.com/services/T0/B0/secret-token\twith-a-tab", "holds a space"),
        ("https://hooks.slack.com:99999/services/T0/B0/secret-token", "broken host or port"),
        ("https://hooks.slack.com:port/services/T0/B0/secret-token", "broken host or port"),
        ("https://[::1/services/T0/B0/secret-token", "broken host or port"),
    ],
)
@pytest.mark.usefixtures("demo_tuesday")
def test_a_malformed_webhook_url_is_one_line_without_the_secret(
    ffkpi: Ffkpi, review_env: Path, url: str, says: str
) -> None:
    result = ffkpi("review", *READ, "--post-to", url)
    assert (result.exit_code, result.stdout) == (ExitCode.USAGE, "")
    assert len(result.stderr.splitlines()) == 1
    assert says in result.stderr
    assert "secret-token" not in result.stderr


@pytest.mark.usefixtures("demo_tuesday")
def test_a_redirecting_webhook_is_not_a_post(ffkpi: Ffkpi, review_env: Path, slack: str) -> None:
    Slack.status = 302
    result = ffkpi("review", *READ, "--post-to", slack)
    assert result.exit_code == ExitCode.STRIPE_UNAVAILABLE
    assert result.stderr == (
        "ffkpi: error: the Slack webhook answered with a redirect (HTTP 302), so nothing was "
        "posted (check the URL is the one Slack gave for the channel)\n"
    )


def test_a_webhook_that_trickles_its_answer_meets_the_deadline(slack: str) -> None:
    Slack.trickle = 0.2  # 100 bytes: 20 s, against a deadline of 1 s
    began = time.monotonic()
    with pytest.raises(WebhookError) as failed:
        webhook.post(slack, "text", timeout=1)
    assert "did not answer within 1 s" in failed.value.what
    assert time.monotonic() - began < 5  # the deadline, not the server, ended it


def test_a_quarters_figure_recorded_in_the_week_before_it_stays_in_its_quarter(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    """2026-W40 runs from Monday 28 September: its as-of Tuesday is in Q3, so a goal
    recorded in it is Q3's, never carried into Q4's first week."""
    (cli_env / "ffkpi.toml").write_text(
        (ROOT / "config.example.toml").read_text()
        + '\n[kpis.carr_goal]\nname = "CARR Goal"\nunit = "money"\nperiod = "quarter"\n'
    )
    assert ffkpi("record", "carr_goal=380000", "--week", "2026-W40").exit_code == 0
    goal_in = {}
    (cli_env / "bundle.json").write_text(json.dumps(DEMO))
    for week in ("2026-W40", "2026-W41"):
        shown = ffkpi("review", "--input", "bundle.json", "--week", week, "-f", "json")
        document = json.loads(shown.stdout)
        goal_in[week] = next(k["value"] for k in document["kpis"] if k["key"] == "carr_goal")
    assert goal_in == {"2026-W40": "380000.00", "2026-W41": None}


def test_the_demo_never_mixes_in_values_recorded_where_it_runs(ffkpi: Ffkpi, cli_env: Path) -> None:
    (cli_env / "ffkpi.toml").write_text(
        (ROOT / "config.example.toml").read_text() + '\n[kpis.mqls]\nname = "MQLs"\ngoal = 120\n'
    )
    assert ffkpi("record", "mqls=999", "--week", "2026-W47").exit_code == 0
    document = json.loads(ffkpi("review", "--demo", "-f", "json").stdout)
    mqls = next(k for k in document["kpis"] if k["key"] == "mqls")
    assert (mqls["value"], mqls["via"]) == ("133", "example")  # the demo's own, marked
    assert [k["key"] for k in document["kpis"]] == ["mqls", "mrr"]  # the config's KPIs
