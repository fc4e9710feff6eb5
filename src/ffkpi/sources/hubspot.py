"""MQLs and deals from HubSpot's CRM (kpi-sources.md): contacts by the date they became
marketing-qualified leads, deals with their pipeline stage, close date and amount, and
each pipeline's stages with their probability and closed flag.

Objects are found with the CRM search (`POST /crm/v3/objects/{type}/search`), 200 a page
by its `after` cursor, sorted by the date property. A query pages through at most
10,000 results: past that, the search starts again from the last date it reached (its
objects counted once by id), so any number of objects costs about its pages. Searches
are paced at five a second, HubSpot's limit a token, and a 429 is waited out.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ffkpi.engine.crm import Deal, Stage, Stages
from ffkpi.errors import ConfigError, SourceAuthError, SourceUnavailableError
from ffkpi.sources.web import Api, Refused, Service
from ffkpi.text import one_line

HUBSPOT_API = "https://api.hubapi.com"
ENV_TOKEN = "HUBSPOT_TOKEN"  # a private app's access token
ENV_API = "FFKPI_HUBSPOT_API"  # a test double, or a proxy on this machine
PAGE = 200
CAP = 10_000  # results one search query can page through
SEARCHES_A_SECOND = 5.0  # a token's limit
DEAL_PROPERTIES = ("pipeline", "dealstage", "closedate")
MQL_DATE = "hs_lifecyclestage_marketingqualifiedlead_date"


def service(env: Mapping[str, str]) -> Service:
    token = env.get(ENV_TOKEN, "").strip()
    if not token:
        raise SourceAuthError(
            f"no HubSpot token: {ENV_TOKEN} is not set",
            f"create a private app with the crm.objects.contacts.read, crm.objects.deals.read "
            f"and crm.schemas.deals.read scopes, and set {ENV_TOKEN} to its access token",
        )
    return Service(
        name="HubSpot",
        base=env.get(ENV_API) or HUBSPOT_API,
        token=token,
        token_fix=f"set {ENV_TOKEN} to a private app's access token",
        setting=f"${ENV_API}",
        default_base=HUBSPOT_API,
        max_rate=SEARCHES_A_SECOND,
    )


def millis(instant: int) -> int:
    return instant * 1000


def _millis_of(value: object) -> int | None:
    """A date property's value (ISO 8601 instant, a day, or epoch milliseconds)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Found:
    """One object the search returned: its id, its date and its properties."""

    id: str
    at: int  # the date property, epoch milliseconds
    properties: Mapping[str, Any]


def search(
    api: Api,
    object_type: str,
    date_property: str,
    start: int,
    end: int,
    *,
    properties: Sequence[str] = (),
    filters: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Found]:
    """The objects whose `date_property` is within [start, end] (epoch milliseconds,
    both included) and that pass `filters`: id -> the object."""
    found: dict[str, Found] = {}
    low = start
    wanted = sorted({date_property, *properties})
    while True:
        after: str | None = None
        read = 0
        last = low
        while True:
            request: dict[str, Any] = {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": date_property,
                                "operator": "BETWEEN",
                                "value": str(low),
                                "highValue": str(end),
                            },
                            *filters,
                        ]
                    }
                ],
                "sorts": [{"propertyName": date_property, "direction": "ASCENDING"}],
                "properties": wanted,
                "limit": PAGE,
            }
            if after is not None:
                request["after"] = after
            page = _search_page(api, object_type, request)
            results = page.get("results")
            for result in results if isinstance(results, list) else []:
                props = result.get("properties") if isinstance(result, dict) else None
                if not isinstance(props, dict):
                    continue
                at = _millis_of(props.get(date_property))
                if at is None or not start <= at <= end:
                    continue
                found[str(result.get("id"))] = Found(str(result.get("id")), at, props)
                last = max(last, at)
            read += len(results) if isinstance(results, list) else 0
            paging = page.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            after = following.get("after") if isinstance(following, dict) else None
            if not after or not results:
                return found
            if read >= CAP:
                break  # the query's cap: start again from the last date reached
        if last <= low:
            raise SourceUnavailableError(
                f"HubSpot holds more than {CAP:,} {object_type} with {date_property} at one "
                "instant, past what one search can page through",
                "narrow the KPI's source (another property or pipeline)",
            )
        low = last


def _search_page(api: Api, object_type: str, request: Mapping[str, Any]) -> dict[str, Any]:
    try:
        page = api.post(f"/crm/v3/objects/{object_type}/search", request)
    except Refused as err:
        raise SourceUnavailableError(
            f"HubSpot's {object_type} search refused the query: {err.status} {err.message}",
            "check the KPI's properties and pipelines with ffkpi check",
        ) from None
    if not isinstance(page, dict):
        raise SourceUnavailableError(
            f"HubSpot's {object_type} search answered something that is not a page",
            "run again later",
        )
    return page


def mql_dates(api: Api, date_property: str, start: int, end: int) -> dict[str, int]:
    """Contacts that became MQLs within [start, end] (Unix seconds): id -> when (ms)."""
    found = search(api, "contacts", date_property, millis(start), millis(end + 1) - 1)
    return {key: item.at for key, item in found.items()}


def deals(
    api: Api, pipelines: Sequence[str], amount_property: str, start: int, end: int
) -> list[Deal]:
    """The deals of the pipelines whose close date is within [start, end] (Unix seconds),
    as they stand now."""
    found = search(
        api,
        "deals",
        "closedate",
        millis(start),
        millis(end + 1) - 1,
        properties=(*DEAL_PROPERTIES, amount_property),
        filters=[{"propertyName": "pipeline", "operator": "IN", "values": list(pipelines)}],
    )
    return [_deal(item, amount_property) for item in found.values()]


def _deal(item: Found, amount_property: str) -> Deal:
    props = item.properties
    return Deal(
        id=item.id,
        pipeline=str(props.get("pipeline") or ""),
        stage=str(props.get("dealstage") or ""),
        close_date=day_of(item.at),  # the UTC day, as the review's windows
        amount=_amount(props.get(amount_property)),
    )


def _amount(value: object) -> Decimal | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def stages(api: Api, pipelines: Sequence[str]) -> Stages:
    """Each stage of the pipelines, by (pipeline id, stage id), as HubSpot defines it
    (`metadata.probability`, `metadata.isClosed`); a pipeline it does not have is named
    with those it has."""
    body = api.get("/crm/v3/pipelines/deals")
    results = body.get("results") if isinstance(body, dict) else None
    known = {str(p.get("id")): p for p in results or [] if isinstance(p, dict)}
    missing = [p for p in pipelines if p not in known]
    if missing:
        have = ", ".join(f"{key} ({one_line(str(p.get('label', '')))})" for key, p in known.items())
        raise ConfigError(
            f"HubSpot has no deal pipeline {', '.join(missing)} (it has: {have or 'none'})",
            "name pipelines by their id in the KPI's hubspot_deals.pipelines",
        )
    table: dict[tuple[str, str], Stage] = {}
    for pipeline in pipelines:
        for stage in known[pipeline].get("stages") or []:
            if not isinstance(stage, dict):
                continue
            metadata = stage.get("metadata")
            metadata = metadata if isinstance(metadata, dict) else {}
            try:
                probability = Decimal(str(metadata.get("probability")))
            except InvalidOperation:
                probability = Decimal(-1)
            if not (0 <= probability <= 1):
                raise SourceUnavailableError(
                    f"HubSpot's stage {one_line(str(stage.get('label')))} of pipeline "
                    f"{pipeline} has no probability between 0 and 1",
                    "set the stage's win probability in HubSpot's pipeline settings",
                )
            closed = str(metadata.get("isClosed", "false")).lower() == "true"
            table[pipeline, str(stage.get("id"))] = Stage(probability, closed)
    return table


def check_property(api: Api, object_type: str, name: str, kinds: Sequence[str]) -> str:
    """That the object type has the property, of one of `kinds`: its label."""
    try:
        body = api.get(f"/crm/v3/properties/{object_type}/{name}")
    except Refused as err:
        if err.status == 404:
            raise ConfigError(
                f"HubSpot has no {object_type} property {name!r}",
                "give the property's internal name (Settings > Properties > the property)",
            ) from None
        raise SourceUnavailableError(
            f"HubSpot's {object_type} property {name}: {err.status} {err.message}",
            "run again later",
        ) from None
    kind = body.get("type") if isinstance(body, dict) else None
    if kind not in kinds:
        raise ConfigError(
            f"HubSpot's {object_type} property {name!r} is of type {one_line(str(kind))}, "
            f"not {' or '.join(kinds)}",
            "name a property of that type",
        )
    return one_line(str(body.get("label", name)))


def day_of(instant_ms: int) -> date:
    return datetime.fromtimestamp(instant_ms / 1000, UTC).date()
