"""The built-in sources of `record --run` and the weekly run (kpi-sources.md): GitHub's
merged pull requests, HubSpot's MQLs and deals, a deals export. Each is read once a run,
over the windows of all the run's weeks (the pages of its data, bucketed by week), then
each week's value is computed from that read with where it came from.

A source that fails (a refused token, a service down, a pipeline it does not have) fails
its KPI, with the error's own exit code; the other KPIs are still computed.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from ffkpi.config import DealsCsv, GithubSource, HubspotContacts, HubspotDeals, KpiConfig
from ffkpi.engine.calendar import end_of_day, kpi_window, quarter_of, week_name
from ffkpi.engine.crm import Deal, Stages, UnknownStage, carr_closed, carr_projected, within_days
from ffkpi.errors import ExitCode, FfkpiError
from ffkpi.sources import github, hubspot
from ffkpi.sources.deals import read_deals, stages_of
from ffkpi.sources.web import Api, Service
from ffkpi.usecases.check import Finding, worst

CENT = Decimal("0.01")
PROJECTED_PAST = "projected CARR is a forecast of its moment: {} only the running week's"


@dataclass(frozen=True, slots=True)
class Got:
    """A KPI's value for a week, and where it came from ("HubSpot, 212 deals of 2026-Q4
    read 2026-11-17 06:05 UTC")."""

    value: Decimal
    note: str


@dataclass(frozen=True, slots=True)
class NoValue:
    """Why a source gave a KPI no value for a week, and the exit code that goes with it."""

    why: str
    code: ExitCode = ExitCode.SOME_FAILED


class Sources:
    """The sources of one run, each read at most once for all of its days."""

    def __init__(
        self,
        days: Sequence[date],
        *,
        base: Path,
        env: Mapping[str, str],
        now: datetime,
        running: date | None,
    ) -> None:
        self.days = list(days)
        self.base, self.env, self.now, self.running = base, env, now, running
        self._apis: dict[str, Api] = {}
        self._reads: dict[Any, Any] = {}  # by what was read: shared by closed and projected

    def close(self) -> None:
        for api in self._apis.values():
            api.close()

    @property
    def requests(self) -> dict[str, int]:
        """Requests sent to each service this run."""
        return {name: api.requests for name, api in self._apis.items()}

    def value(self, kpi: KpiConfig, day: date) -> Got | NoValue:
        try:
            if kpi.github is not None:
                return self._throughput(kpi, kpi.github, day)
            if kpi.hubspot_contacts is not None:
                return self._mqls(kpi, kpi.hubspot_contacts, day)
            if kpi.hubspot_deals is not None:
                return self._hubspot_carr(kpi.hubspot_deals, day)
            if kpi.deals_csv is not None:
                return self._csv_carr(kpi.deals_csv, day)
        except FfkpiError as err:
            return NoValue(err.message, err.exit_code)
        return NoValue("it has no source in the config")

    def api(self, name: str, service: Callable[[Mapping[str, str]], Service]) -> Api:
        if name not in self._apis:
            self._apis[name] = Api(service(self.env))
        return self._apis[name]

    def _read(self, key: Any, read: Callable[[], Any]) -> Any:
        """A source's read, once a run; a failed one fails every week that needs it."""
        if key not in self._reads:
            try:
                self._reads[key] = read()
            except FfkpiError as err:
                self._reads[key] = err
        found = self._reads[key]
        if isinstance(found, FfkpiError):
            raise found
        return found

    def _span(self, kpi: KpiConfig) -> tuple[int, int]:
        """The instants [start, end] every window of the run's days covers."""
        windows = [kpi_window(kpi.period, day) for day in self.days]
        since = min(w.since for w in windows)
        until = max(w.until for w in windows)
        return end_of_day(since) - 86_400, end_of_day(until) - 1

    def _at(self) -> str:
        return f"{self.now:%Y-%m-%d %H:%M} UTC"

    def _throughput(self, kpi: KpiConfig, source: GithubSource, day: date) -> Got:
        start, end = self._span(kpi)
        api = self.api("GitHub", github.service)
        found: dict[int, int] = self._read(
            ("github", source.repositories, start, end),
            lambda: github.merged(api, source.repositories, start, end),
        )
        window = kpi_window(kpi.period, day)
        count = within_days(found.values(), window.since, window.until)
        repos = len(source.repositories)
        return Got(
            Decimal(count),
            f"GitHub, {len(found):,} merged pull requests of {repos} "
            f"{'repository' if repos == 1 else 'repositories'} read {self._at()}",
        )

    def _mqls(self, kpi: KpiConfig, source: HubspotContacts, day: date) -> Got:
        start, end = self._span(kpi)
        api = self.api("HubSpot", hubspot.service)

        def read() -> dict[str, int]:
            hubspot.check_property(api, "contacts", source.date_property, ("datetime", "date"))
            return hubspot.mql_dates(api, source.date_property, start, end)

        found: dict[str, int] = self._read(("mqls", source.date_property, start, end), read)
        window = kpi_window(kpi.period, day)
        count = within_days((at // 1000 for at in found.values()), window.since, window.until)
        return Got(Decimal(count), f"HubSpot, {len(found):,} contacts read {self._at()}")

    def _hubspot_carr(self, source: HubspotDeals, day: date) -> Got | NoValue:
        if self._past_projection(source.measure, day):
            return NoValue(PROJECTED_PAST.format("HubSpot's deals as they stand now tell"))
        first = quarter_of(min(self.days)).first_day
        last = quarter_of(max(self.days)).last_day
        api = self.api("HubSpot", hubspot.service)

        def read() -> tuple[Stages, list[Deal]]:
            table = hubspot.stages(api, source.pipelines)
            hubspot.check_property(api, "deals", source.amount_property, ("number",))
            start, end = end_of_day(first) - 86_400, end_of_day(last) - 1
            return table, hubspot.deals(api, source.pipelines, source.amount_property, start, end)

        stages, deals = self._read(
            ("deals", source.pipelines, source.amount_property, first, last), read
        )
        return self._carr(
            source.measure, deals, stages, source.pipelines, day, "HubSpot", "its pipeline"
        )

    def _csv_carr(self, source: DealsCsv, day: date) -> Got | NoValue:
        if self._past_projection(source.measure, day):
            return NoValue(PROJECTED_PAST.format("a deals export tells"))
        path = self.base / source.path
        deals = self._read(("csv", path, source.columns), lambda: read_deals(path, source))
        return self._carr(
            source.measure,
            deals,
            stages_of(source),
            source.pipelines,
            day,
            source.path,
            "deals_csv.stages",
        )

    def _past_projection(self, measure: str, day: date) -> bool:
        return (
            measure == "projected"
            and self.running is not None
            and week_name(day) != week_name(self.running)
        )

    def _carr(
        self,
        measure: str,
        deals: list[Deal],
        stages: Stages,
        pipelines: Sequence[str],
        day: date,
        where: str,
        defined_by: str,
    ) -> Got | NoValue:
        rule = carr_projected if measure == "projected" else carr_closed
        quarter = quarter_of(day)
        try:
            carr = rule(deals, stages, pipelines, quarter, day)
        except UnknownStage as err:
            return NoValue(f"{err}, which {defined_by} does not define")
        read = sum(
            1
            for d in deals
            if d.pipeline in pipelines
            and d.close_date is not None
            and quarter.first_day <= d.close_date <= quarter.last_day
        )
        note = f"{where}, {read:,} deals of {quarter.name} read {self._at()}"
        if self.running is not None and week_name(day) != week_name(self.running):
            note += ", as the deals stood then"
        return Got(carr.quantize(CENT, ROUND_HALF_UP), note)  # money, to the cent


def check_sources(
    kpis: Mapping[str, KpiConfig], day: date, *, base: Path, env: Mapping[str, str], now: datetime
) -> tuple[list[Finding], ExitCode]:
    """`ffkpi check` of each built-in source: the token works, the repositories, the
    pipelines and the properties exist, and the running week's value (as of `day`).
    Its findings, and the exit code the worst of them calls for
    (a refused token 4, a service down 5, anything else wrong 3)."""
    findings: list[Finding] = []
    codes: list[ExitCode] = []
    sources = Sources([day], base=base, env=env, now=now, running=day)
    checked: set[str] = set()
    try:
        for key, kpi in kpis.items():
            if kpi.command is not None or not kpi.runs:
                continue
            topic = f"kpis.{key}"
            try:
                findings += [Finding("ok", topic, line) for line in _reach(sources, kpi, checked)]
            except FfkpiError as err:
                findings.append(Finding("error", topic, err.message))
                codes.append(err.exit_code)
                continue
            got = sources.value(kpi, day)
            if isinstance(got, Got):
                window = kpi_window(kpi.period, day)
                findings.append(
                    Finding(
                        "ok",
                        topic,
                        f"{got.value:,} for {window.week} ({window.since} to {window.until}); "
                        f"{got.note}",
                    )
                )
            else:
                findings.append(Finding("error", topic, got.why))
                codes.append(got.code if got.code != ExitCode.SOME_FAILED else ExitCode.INVALID)
    finally:
        sources.close()
    return findings, worst(*codes)


def _reach(sources: Sources, kpi: KpiConfig, checked: set[str]) -> list[str]:
    """What a source's service says of the token and the KPI's repositories, pipelines
    and properties; each service's token is told once."""
    said: list[str] = []
    if kpi.github is not None:
        api = sources.api("GitHub", github.service)
        limit = github.search_limit(api)
        if "GitHub" not in checked:
            checked.add("GitHub")
            said.append(f"the GitHub token works (searches a minute: {limit or 'unknown'})")
        missing = [r for r in kpi.github.repositories if not github.repository_exists(api, r)]
        if missing:
            raise github.no_access(missing)
        said.append(f"GitHub repositories found: {', '.join(kpi.github.repositories)}")
    elif kpi.hubspot_contacts is not None or kpi.hubspot_deals is not None:
        api = sources.api("HubSpot", hubspot.service)
        if kpi.hubspot_contacts is not None:
            name = kpi.hubspot_contacts.date_property
            label = hubspot.check_property(api, "contacts", name, ("datetime", "date"))
            said.append(f"HubSpot contacts property {name} ({label}) found")
        if kpi.hubspot_deals is not None:
            deals = kpi.hubspot_deals
            stages = hubspot.stages(api, deals.pipelines)
            label = hubspot.check_property(api, "deals", deals.amount_property, ("number",))
            said.append(
                f"HubSpot pipelines {', '.join(deals.pipelines)} found ({len(stages)} stages); "
                f"amount from {deals.amount_property} ({label})"
            )
        if "HubSpot" not in checked:
            checked.add("HubSpot")
            said.insert(0, "the HubSpot token works")
    return said
