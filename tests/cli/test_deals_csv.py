"""CARR from a CRM's deals export (kpi-sources.md): the worked case through `record
--run`, to the cent, under two clocks; projected only for the running week; bad rows
and unknown stages named."""

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import ROOT, Ffkpi
from ffkpi.errors import ExitCode

# The worked case's nine deals, as a HubSpot export writes them.
EXPORT = """Record ID,Deal Name,Pipeline,Deal Stage,Close Date,Amount
1,Acme,default,Closed Won,2026-10-05 09:12,"60,000"
2,Birch,default,Closed Won,2026-11-17,48000
3,Cedar,default,Closed Won,2026-09-30,30000
4,Delta,default,Closed Lost,2026-11-02,90000
5,Ember,default,Procurement,2026-12-15,100000
6,Fjord,default,Value Validated,2026-11-30,40000
7,Granite,default,Opportunity,2027-01-20,200000
8,Harbor,default,Value Identified,2026-11-10,50000
9,Iris,renewals,Closed Won,2026-10-20,25000
"""
STAGES = """stages.Opportunity = { probability = 0.1 }
stages."Value Identified" = { probability = 0.3 }
stages."Value Validated" = { probability = 0.5 }
stages.Procurement = { probability = 0.7 }
stages."Closed Won" = { probability = 1, closed = true }
stages."Closed Lost" = { probability = 0, closed = true }
"""


def carr_kpi(measure: str) -> str:
    """A CARR KPI read from the export: `carr_<measure>`."""
    return (
        f'\n[kpis.carr_{measure}]\nname = "CARR {measure.title()}"\nunit = "money"\n'
        f'period = "quarter_to_date"\n[kpis.carr_{measure}.deals_csv]\n'
        f'measure = "{measure}"\npath = "deals.csv"\n{STAGES}'
    )


KPIS = carr_kpi("projected") + carr_kpi("closed")


@pytest.fixture
def crm(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text() + KPIS)
    (cli_env / "deals.csv").write_text(EXPORT)
    return cli_env


def values(folder: Path, week: str) -> dict[str, str]:
    stored = tomllib.loads((folder / "snapshots" / "kpis" / f"{week}.toml").read_text())
    return {key: entry["value"] for key, entry in stored["values"].items()}


def test_the_worked_case_from_a_deals_export(
    ffkpi: Ffkpi, crm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tuesday 2026-11-17 at 06:05: the running week is the worked case's."""
    monkeypatch.setattr("ffkpi.clock.now", lambda: datetime(2026, 11, 17, 6, 5, tzinfo=UTC))
    result = ffkpi("record", "--run")
    assert result.exit_code == 0, result.stderr
    assert values(crm, "2026-W47") == {"carr_projected": "213000.00", "carr_closed": "108000.00"}


def test_past_weeks_get_closed_carr_and_never_a_projection(
    ffkpi: Ffkpi, crm: Path, clock: datetime
) -> None:
    result = ffkpi("record", "--run", "--since", "2026-11-03", "--until", "2026-11-17")
    assert result.exit_code == ExitCode.SOME_FAILED
    assert values(crm, "2026-W45") == {"carr_closed": "60000.00"}  # deal 1, closed 2026-10-05
    assert values(crm, "2026-W47") == {"carr_closed": "108000.00"}
    assert (
        "carr_projected of 3 weeks, 2026-W45 to 2026-W47: projected CARR is a forecast of "
        "its moment: a deals "
        "export tells only the running week's"
    ) in result.stderr


def test_bad_rows_and_unknown_stages_are_named(ffkpi: Ffkpi, crm: Path, clock: datetime) -> None:
    (crm / "deals.csv").write_text(
        EXPORT + "10,Jade,default,Closed Won,soon,100\n11,Kite,default,Closed Won,2026-11-01,lots\n"
    )
    refused = ffkpi("record", "--run", "carr_closed", "--week", "2026-W47")
    assert refused.exit_code == ExitCode.INVALID
    assert "deals.csv: 2 bad rows: row 11: close date 'soon' is not a date (2026-11-17); " in (
        refused.stderr
    )
    assert "row 12: amount 'lots' is not a number" in refused.stderr
    (crm / "deals.csv").write_text(EXPORT + "12,Lime,default,Negotiation,2026-11-01,100\n")
    unknown = ffkpi("record", "--run", "carr_closed", "--week", "2026-W47")
    assert unknown.exit_code == ExitCode.SOME_FAILED
    assert (
        "deal 12 is in stage 'Negotiation' of pipeline 'default', which deals_csv.stages does "
        "not define"
    ) in unknown.stderr


def test_a_kpi_has_one_way_to_its_value(ffkpi: Ffkpi, crm: Path) -> None:
    text = (crm / "ffkpi.toml").read_text()
    (crm / "ffkpi.toml").write_text(
        text.replace(
            'period = "quarter_to_date"\n[kpis.carr_closed.deals_csv]',
            'period = "quarter_to_date"\ncommand = "echo 1"\n[kpis.carr_closed.deals_csv]',
        )
    )
    refused = ffkpi("record", "--list")
    assert refused.exit_code == ExitCode.INVALID
    assert "a KPI has one way to its value, not command and deals_csv" in refused.stderr
