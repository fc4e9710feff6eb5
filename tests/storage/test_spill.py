"""A rebuild's changes waiting on disk until summed (storage.spill): the same reports
to the byte as held in memory, in one process or a pool, and nothing left behind."""

from datetime import timedelta
from pathlib import Path

import pytest

from accounts import simulated, streamed
from ffkpi.history.rebuild import in_order, rebuild
from ffkpi.sources.demo import DEMO_AS_OF, demo_config, load_demo
from ffkpi.sources.files import read_input
from ffkpi.storage import spill
from ffkpi.usecases import parallel

WEEKS = [DEMO_AS_OF - timedelta(weeks=k) for k in range(60, -1, -1)]


@pytest.mark.parametrize("parts", [1, 3])
@pytest.mark.parametrize("run", [in_order, parallel._in_pool], ids=["here", "pool"])
@pytest.mark.parametrize("account", ["demo", "simulated, streamed"])
def test_changes_kept_on_disk_give_the_same_reports_to_the_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: int, run: object, account: str
) -> None:
    if account == "demo":
        data = load_demo(history=True)
    else:
        path = tmp_path / "read.jsonl"
        path.write_bytes(streamed(simulated(23, signups=120)))
        data = read_input(path, history=True)
    config = demo_config()
    held = rebuild(data, config, WEEKS, reconcile_at=DEMO_AS_OF)
    monkeypatch.setattr(spill, "BATCH", 7)  # many batches a week, the last one part-full
    with spill.spilled() as keep:
        folder = keep(range(0), 1).folder  # type: ignore[attr-defined]
        kept = rebuild(
            data, config, WEEKS, parts=parts, run=run, reconcile_at=DEMO_AS_OF, keep=keep
        )
        assert list(folder.iterdir()) == []  # each week's file deleted once summed
    assert not folder.exists()
    assert kept == held
    assert repr(kept) == repr(held)
    assert [dict(r.customer_tiers or {}) for r in kept.reports] == [
        dict(r.customer_tiers or {}) for r in held.reports
    ]
