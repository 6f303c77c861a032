"""`drsim compare` on an 80-column terminal: nothing wider than the terminal; and a fast comparison
(the default: auto picks the fast model) gives why its trials failed in failures.csv, both reports
and the ranking's failed column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from drsim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_ranking_fits_80_columns_and_a_fast_comparison_gives_its_causes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    args = ["compare", str(ROOT / "drills" / "shop-plans.yaml"), "--trials", "12", "--workers", "1", "--out", "out"]
    ran = CliRunner().invoke(main, [*args, "--window-end", "2026-11-01T00:00:00Z"], env={"COLUMNS": "80"})
    assert ran.exit_code in (0, 1), ran.output
    assert all(len(line) <= 80 for line in ran.output.splitlines()), ran.output
    assert "1. " in ran.output and "p95 RTO" in ran.output and "checked against 12 engine trials" in " ".join(ran.output.split())
    assert "warning: only" not in ran.output  # 12 trials, all of them validated
    assert "model: fast (auto)" in ran.output
    # The snapshot candidate rebuilds the shop from its scheduled snapshots, one disk at a time: sql-01's
    # striped volume comes back inconsistent in nearly every trial (drills/shop-plans.yaml).
    failures = pd.read_csv(out / "failures.csv")
    snapshots = failures[failures["candidate"] == "snapshots-6h"]
    kinds = set(zip(snapshots["step"].fillna(""), snapshots["error_kind"], snapshots["category"], strict=True))
    assert ("verify", "CheckFailure", "check") in kinds and ("", "rpo-missed", "objective") in kinds, kinds
    assert (snapshots["failed_trials"] >= 10).all()
    assert failures["replay"].str.match(r"drsim drill run \S+/replay/[\w-]+/drill\.yaml --seed \d+ --incident-at \S+Z$").all()
    assert "trials with a failure 100.0 %" in " ".join(ran.output.split())  # the ranking's failed column
    for name in ("report.md", "report.html"):
        text = (out / name).read_text()
        assert "does not record why a trial failed" not in text and "No trial failed" not in text
        assert "volume sqldata of sql-01 is inconsistent" in text and snapshots["replay"].iloc[0] in text
    wide = CliRunner().invoke(main, [*args, "--window-end", "2026-11-01T00:00:00Z"], env={"COLUMNS": "200"})
    assert "rank  candidate" in wide.output  # a table where it fits
