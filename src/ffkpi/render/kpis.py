"""`ffkpi record`: what was recorded (old -> new), and a week's recorded values."""

from ffkpi.config import Config
from ffkpi.storage.kpis import Recorded, Replaced
from ffkpi.text import one_line


def recorded_text(replaced: list[Replaced]) -> str:
    lines = []
    for change in replaced:
        was = "new" if change.old is None else f"was {change.old:f}"
        lines.append(f"{change.week} {change.key}: {change.new:f} ({was})")
    return "".join(f"{line}\n" for line in lines)


def week_text(week: str, values: dict[str, Recorded], config: Config | None) -> str:
    """Every KPI the config defines (and any other recorded), in its order; one not
    recorded says so, never 0."""
    keys = [
        *(config.kpis if config else {}),
        *(k for k in values if not config or k not in config.kpis),
    ]
    if not keys:
        return f"{week}: no KPIs defined or recorded\n"
    lines = [f"{week}:"]
    for key in keys:
        name = config.kpis[key].name if config and key in config.kpis else key
        entry = values.get(key)
        if entry is None:
            lines.append(f"  {one_line(name)}: not recorded")
            continue
        when = entry.recorded_at.strftime("%Y-%m-%d %H:%M UTC")
        note = f" - {one_line(entry.note)}" if entry.note else ""
        lines.append(f"  {one_line(name)}: {entry.value:f} ({entry.via}, {when}){note}")
    return "".join(f"{line}\n" for line in lines)
