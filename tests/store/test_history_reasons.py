"""`drsim history` never shows a missed measure as within its objective, and says why an RPO that is
within its objective was missed (the reason drsim coverage gives too: AppMeasures.rpo_miss_reason)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from drsim.cli import main
from drsim.measure.result import AppResult, CleanupResult, DrillResult, RunStatus
from drsim.store import HistoryStore


def _result(run: str, *, rpo: float | None, consistent: bool | None, rpo_met: bool, rto: float | None = 3000.0) -> DrillResult:
    return DrillResult(
        drill=run,
        runbook="shop-snapshot-clone",
        provider="sim",
        seed=42,
        incident_at="2026-11-20T14:00:00Z",
        status=RunStatus.FAILED,
        apps=[
            AppResult(
                app="shop",
                rto_s=rto,
                rpo_s=rpo,
                rpo_claimed_s=rpo,
                rto_objective_s=7200.0,
                rpo_objective_s=21600.0,
                rto_met=rto is not None and rto <= 7200.0,
                rpo_met=rpo_met,
                consistent=consistent,
                trigger_at=None,
                infra_ready_at=None,
                healthy_at=None,
            )
        ],
        tasks=[],
        cleanup=CleanupResult(status="done", leftovers=[]),
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.sqlite"
    with HistoryStore(path) as opened:
        # 6h 00m 30s against 6h: a miss by 30 seconds, which two units cut to minutes would show as "6h 00m"
        opened.record("late", _result("late", rpo=21630.0, consistent=True, rpo_met=False))
        # 2h 00m 05s of data lost, well within 6h, but on a striped volume that came back inconsistent
        opened.record("torn", _result("torn", rpo=7205.0, consistent=False, rpo_met=False))
        # nothing read back, and never healthy
        opened.record("lost", _result("lost", rpo=None, consistent=None, rpo_met=False, rto=None))
    return path


def _column(output: str, header: str, next_header: str) -> str:
    """The text of one column of a rich table, its cells joined by spaces (the header lines left out)."""
    lines = output.splitlines()
    rule = next(i for i, line in enumerate(lines) if "───" in line)
    start = max(line.find(header) for line in lines[:rule])
    end = max(line.find(next_header) for line in lines[:rule])
    body = lines[rule + 1 : next(i for i, line in enumerate(lines) if "recorded run(s)" in line)]
    return " ".join(" ".join(line[start:end].strip() for line in body).split())


@pytest.mark.parametrize("width", [80, 100, 140])
def test_a_missed_rpo_never_reads_as_within_its_objective_and_says_why(store: Path, width: int) -> None:
    outcome = CliRunner().invoke(main, ["history", "--store", str(store)], env={"COLUMNS": str(width)})
    assert outcome.exit_code == 0, outcome.output
    rpo = _column(outcome.output, "RPO", "left")
    # 6h 00m 30s is rounded up: never "6h 00m" next to MISSED
    # the reason wraps between its words, never inside one ("inconsisten" / "t)" at 80 columns)
    assert rpo.startswith("6h 01m / 6h 00m MISSED claimed 6h 01m 2h 01m / 6h 00m MISSED (data inconsistent) claimed 2h 01m"), rpo
    assert rpo.endswith("— / 6h 00m MISSED (no data read back) claimed —"), rpo
    rto = _column(outcome.output, "RTO", "RPO")
    assert rto.endswith("— / 2h 00m MISSED (never recovered)"), rto
    assert all(len(line) <= width for line in outcome.output.splitlines()[:-1]), outcome.output
