"""A CRM's deals export (HubSpot, Salesforce, Pipedrive) read as deals, by the columns
the config names (docs/kpi-sources.md). All rows or none: every bad row is named at
once, up to MAX_PROBLEMS."""

import csv
import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from ffkpi.config import DealsCsv
from ffkpi.engine.crm import Deal, Stage, Stages
from ffkpi.errors import InputError
from ffkpi.storage.files import read_own
from ffkpi.text import printable

MAX_FILE = 256 * 1024 * 1024  # a million deals' export is well under this
MAX_PROBLEMS = 20
_AMOUNT = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?", re.ASCII)


def stages_of(source: DealsCsv) -> Stages:
    """Each configured stage, in every configured pipeline."""
    return {
        (pipeline, name): Stage(stage.probability, stage.closed)
        for pipeline in source.pipelines
        for name, stage in source.stages.items()
    }


def read_deals(path: Path, source: DealsCsv) -> list[Deal]:
    """The export's deals; a file that is not one, or bad rows, one line naming them."""
    try:
        text = read_own(path, MAX_FILE).decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"deals export {path} does not exist", "check deals_csv.path") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(
            f"cannot read deals export {path}: {err}", "export the deals again as UTF-8 CSV"
        ) from None
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as err:
        raise InputError(f"{path} is not a CSV file: {err}", "export the deals as CSV") from None
    columns = source.columns
    wanted = [columns.id, columns.pipeline, columns.stage, columns.close_date, columns.amount]
    header = set(rows[0]) if rows else set()
    missing = [name for name in wanted if name not in header]
    if rows and missing:
        raise InputError(
            f"{path} has no column {', '.join(map(repr, missing))}",
            "name the export's columns under deals_csv.columns",
        )
    deals, problems = [], []
    for line, row in enumerate(rows, start=2):
        if None in row:  # more fields than the header
            problems.append(f"row {line} has more fields than the header")
            continue
        try:
            deals.append(
                Deal(
                    id=row[columns.id].strip(),
                    pipeline=row[columns.pipeline].strip(),
                    stage=row[columns.stage].strip(),
                    close_date=_day(row[columns.close_date]),
                    amount=_amount(row[columns.amount]),
                )
            )
        except ValueError as err:
            problems.append(f"row {line}: {err}")
    if problems:
        more = len(problems) - MAX_PROBLEMS
        shown = "; ".join(problems[:MAX_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
        raise InputError(
            f"{path}: {len(problems)} bad row{'s' if len(problems) > 1 else ''}: {shown}",
            "correct them in the CRM or the export, then run again",
        )
    return deals


def _day(text: str) -> date | None:
    """A close date as exports write it: 2026-11-17, or with a time after it."""
    shown = text.strip()
    if not shown:
        return None
    try:
        return date.fromisoformat(shown[:10])
    except ValueError:
        raise ValueError(
            f"close date {printable(shown[:40])!r} is not a date (2026-11-17)"
        ) from None


def _amount(text: str) -> Decimal | None:
    shown = text.strip()
    if not shown:
        return None
    if not _AMOUNT.fullmatch(shown):
        raise ValueError(f"amount {printable(shown[:40])!r} is not a number")
    return Decimal(shown.replace(",", ""))
