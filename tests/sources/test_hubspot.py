"""MQLs and deals from HubSpot's CRM search, against a fake HubSpot on 127.0.0.1: the
worked case's CARR to the cent from the pipelines' own probabilities, paging past the
10,000-result cap, 429s waited out, and each refusal told in one line."""

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from fake_sources import HUBSPOT_TOKEN, SCOPES, FakeHubSpot, HubspotObject, HubspotStage, iso
from ffkpi.engine.calendar import end_of_day, parse_quarter
from ffkpi.engine.crm import carr_closed, carr_projected, within_days
from ffkpi.errors import ConfigError, ExitCode, SourceAuthError
from ffkpi.sources import hubspot
from ffkpi.sources.web import Api

# kpi-sources.md's worked case: stage ids as HubSpot keeps them, labels as users see them
STAGES = [
    HubspotStage("opportunity", "Opportunity", "0.1"),
    HubspotStage("valueidentified", "Value Identified", "0.3"),
    HubspotStage("valuevalidated", "Value Validated", "0.5"),
    HubspotStage("procurement", "Procurement", "0.7"),
    HubspotStage("closedwon", "Closed Won", "1.0", closed=True),
    HubspotStage("closedlost", "Closed Lost", "0.0", closed=True),
]
PIPELINES = {
    "default": ("Sales Pipeline", STAGES),
    "renewals": ("Renewals", [HubspotStage("closedwon", "Closed Won", "1.0", closed=True)]),
}
DEALS = [  # id, pipeline, stage, close instant, amount
    ("1", "default", "closedwon", "2026-10-05T09:12:00Z", "60000"),
    ("2", "default", "closedwon", "2026-11-17T15:00:00Z", "48000.00"),
    ("3", "default", "closedwon", "2026-09-30T23:00:00Z", "30000"),
    ("4", "default", "closedlost", "2026-11-02T10:00:00Z", "90000"),
    ("5", "default", "procurement", "2026-12-15T12:00:00Z", "100000"),
    ("6", "default", "valuevalidated", "2026-11-30T12:00:00Z", "40000"),
    ("7", "default", "opportunity", "2027-01-20T12:00:00Z", "200000"),
    ("8", "default", "valueidentified", "2026-11-10T12:00:00Z", "50000"),
    ("9", "renewals", "closedwon", "2026-10-20T12:00:00Z", "25000"),
]


def deal_objects() -> list[HubspotObject]:
    return [
        HubspotObject(
            key,
            {"pipeline": pipeline, "dealstage": stage, "closedate": closes, "amount": amount},
        )
        for key, pipeline, stage, closes, amount in DEALS
    ]


@pytest.fixture
def serve() -> Iterator[list[FakeHubSpot]]:
    started: list[FakeHubSpot] = []
    yield started
    for fake in started:
        fake.stop()


def connect(fake: FakeHubSpot, started: list[FakeHubSpot], token: str = HUBSPOT_TOKEN) -> Api:
    base = fake.start()
    started.append(fake)
    service = hubspot.service({hubspot.ENV_TOKEN: token, hubspot.ENV_API: base})
    return Api(dataclasses.replace(service, max_rate=None))  # unpaced: the limit is met


def quarter_span(name: str) -> tuple[int, int]:
    quarter = parse_quarter(name)
    return end_of_day(quarter.first_day) - 86_400, end_of_day(quarter.last_day) - 1


def test_the_worked_case_to_the_cent(serve: list[FakeHubSpot]) -> None:
    api = connect(FakeHubSpot(deals=deal_objects(), pipelines=PIPELINES), serve)
    stages = hubspot.stages(api, ["default"])
    hubspot.check_property(api, "deals", "amount", ("number",))
    q4 = parse_quarter("2026-Q4")
    deals = hubspot.deals(api, ["default"], "amount", *quarter_span("2026-Q4"))
    assert sorted(d.id for d in deals) == ["1", "2", "4", "5", "6", "8"]  # closing in Q4
    as_of = date(2026, 11, 17)
    assert carr_closed(deals, stages, ["default"], q4, as_of) == Decimal("108000.00")
    assert carr_projected(deals, stages, ["default"], q4, as_of) == Decimal("213000.000")
    assert carr_closed(deals, stages, ["default"], q4, date(2026, 11, 16)) == Decimal(60000)


def test_stages_are_judged_by_the_pipelines_own_probability(serve: list[FakeHubSpot]) -> None:
    """A stage labelled "Closed Won" that HubSpot keeps open at 0.9 is open."""
    odd = {"default": ("Sales", [HubspotStage("closedwon", "Closed Won", "0.9")])}
    api = connect(FakeHubSpot(pipelines=odd), serve)
    stage = hubspot.stages(api, ["default"])["default", "closedwon"]
    assert (stage.closed, stage.probability) == (False, Decimal("0.9"))


def test_mqls_past_the_cap_are_each_counted_once(serve: list[FakeHubSpot]) -> None:
    start = datetime(2025, 12, 1, tzinfo=UTC)
    contacts = [
        HubspotObject(
            str(n),
            {
                hubspot.MQL_DATE: iso(start + timedelta(minutes=50 * (n // 2)))
            },  # pairs share an instant
        )
        for n in range(10_450)
    ]
    contacts.append(HubspotObject("no-date", {hubspot.MQL_DATE: None}))
    fake = FakeHubSpot(contacts=contacts, per_second=1000)
    api = connect(fake, serve)
    start_of_year = end_of_day(date(2025, 11, 30))
    found = hubspot.mql_dates(
        api, hubspot.MQL_DATE, start_of_year, end_of_day(date(2026, 12, 6)) - 1
    )
    assert len(found) == 10_450
    pages = -(-10_450 // 200)
    assert pages <= fake.searches() <= pages + 1  # one page read again past the cap
    first_week = within_days(
        (at // 1000 for at in found.values()), date(2025, 12, 1), date(2025, 12, 7)
    )
    assert first_week == 7 * 24 * 60 // 50 * 2 + 2  # every contact whose date falls in it


def test_429s_are_waited_out(serve: list[FakeHubSpot]) -> None:
    contacts = [
        HubspotObject(str(n), {hubspot.MQL_DATE: f"2026-11-{1 + n % 28:02d}T10:00:00Z"})
        for n in range(1_400)
    ]
    fake = FakeHubSpot(contacts=contacts, per_second=3)
    api = connect(fake, serve)
    found = hubspot.mql_dates(api, hubspot.MQL_DATE, *quarter_span("2026-Q4"))
    assert len(found) == 1_400
    assert fake.refused_429 > 0  # unpaced, it met the limit, and waited


def test_refusals_are_named(serve: list[FakeHubSpot]) -> None:
    fake = FakeHubSpot(
        deals=deal_objects(), pipelines=PIPELINES, scopes=SCOPES - {"crm.objects.contacts.read"}
    )
    api = connect(fake, serve)
    with pytest.raises(SourceAuthError) as scope:
        hubspot.mql_dates(api, hubspot.MQL_DATE, *quarter_span("2026-Q4"))
    assert scope.value.what == "HubSpot's token lacks the scope crm.objects.contacts.read"
    assert scope.value.exit_code == ExitCode.STRIPE_AUTH
    with pytest.raises(ConfigError) as pipeline:
        hubspot.stages(api, ["default", "enterprise"])
    assert pipeline.value.what == (
        "HubSpot has no deal pipeline enterprise (it has: default (Sales Pipeline), "
        "renewals (Renewals))"
    )
    with pytest.raises(ConfigError, match="HubSpot has no deals property 'arr'"):
        hubspot.check_property(api, "deals", "arr", ("number",))
    with pytest.raises(ConfigError, match="is of type enumeration, not number"):
        hubspot.check_property(api, "deals", "dealstage", ("number",))
    bad = connect(FakeHubSpot(), serve, token="pat-na1-wrong")
    with pytest.raises(SourceAuthError) as token:
        hubspot.stages(bad, ["default"])
    assert token.value.what.startswith("HubSpot refused the token: Authentication credentials")
    assert "pat-na1-wrong" not in token.value.message


def test_its_pace_is_not_waiting_out_a_limit(serve: list[FakeHubSpot]) -> None:
    """Five searches a second is the pace, never time held against the wait allowed."""
    contacts = [
        HubspotObject(str(n), {hubspot.MQL_DATE: f"2026-11-{1 + n % 28:02d}T10:00:00Z"})
        for n in range(1_000)
    ]
    fake = FakeHubSpot(contacts=contacts)
    base = fake.start()
    serve.append(fake)
    service = hubspot.service({hubspot.ENV_TOKEN: HUBSPOT_TOKEN, hubspot.ENV_API: base})
    api = Api(dataclasses.replace(service, max_wait=0.05))
    found = hubspot.mql_dates(api, hubspot.MQL_DATE, *quarter_span("2026-Q4"))
    assert len(found) == 1_000
    assert (fake.searches(), fake.refused_429, api.waited) == (5, 0, 0.0)
