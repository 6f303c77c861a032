"""`drsim compare` on an 80-column terminal: nothing wider than the terminal, and a fast comparison
never claims that no trial failed (the fast model records no causes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from drsim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_ranking_fits_80_columns_and_a_fast_comparison_claims_no_causes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    args = ["compare", str(ROOT / "drills" / "shop-plans.yaml"), "--trials", "12", "--workers", "1", "--out", "out"]
    ran = CliRunner().invoke(main, [*args, "--window-end", "2026-11-01T00:00:00Z"], env={"COLUMNS": "80"})
    assert ran.exit_code in (0, 1), ran.output
    assert all(len(line) <= 80 for line in ran.output.splitlines()), ran.output
    assert "1. " in ran.output and "p95 RTO" in ran.output and "checked against 12 engine trials" in " ".join(ran.output.split())
    assert "warning: only" not in ran.output  # 12 trials, all of them validated
    for name in ("report.md", "report.html"):
        text = (out / name).read_text()
        assert "does not record why a trial failed" in text and "No trial failed" not in text
    wide = CliRunner().invoke(main, [*args, "--window-end", "2026-11-01T00:00:00Z"], env={"COLUMNS": "200"})
    assert "rank  candidate" in wide.output  # a table where it fits
