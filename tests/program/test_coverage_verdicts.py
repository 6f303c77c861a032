"""`drsim coverage`'s objectives table says why an objective was missed when the figures alone would
not: the snapshot drill's RPO (2h 00m against 6h 00m) is missed because its data came back
inconsistent, and its RTO because it never recovered (as the run's report says)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from program_kit import example_documents, run_drill

from drsim.cli import main


def test_a_miss_the_figures_do_not_explain_says_why(tmp_path: Path) -> None:
    docs = example_documents(tmp_path)
    run = run_drill(docs, "2026-q4-shop-snapshot", docs / "out")
    (app,) = json.loads((run / "result.json").read_text())["apps"]
    assert app["rpo_s"] < app["rpo_objective_s"] and app["rpo_met"] is False and app["consistent"] is False
    assert app["rto_s"] is None and app["rto_met"] is False
    out = tmp_path / "packet"
    store = str(docs / "out" / "history.sqlite")
    made = CliRunner().invoke(main, ["coverage", "--period", "2000-01-01..2100-01-01", "--store", store, "--out", str(out)])
    assert made.exit_code == 0, made.output
    verdict = "RTO missed (never recovered), RPO missed (data inconsistent)"
    row = next(line for line in (out / "coverage.md").read_text().splitlines() if line.startswith("| shop | R1 | simulation |"))
    assert row.endswith(f"| {verdict} |"), row
    assert f"<td>{verdict}</td>" in (out / "coverage.html").read_text()
