"""An application whose runbook sets only an RTO objective (the image drill) passes when it meets it:
`drsim due` and `drsim coverage` used to count such a run failed (no RPO objective read as a miss),
against its own report, `drsim history` and the coverage packet's own objectives table."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from program_kit import as_if_executed, example_documents, run_drill

from drsim.cli import main


def test_a_run_that_met_its_only_objective_passed(tmp_path: Path) -> None:
    docs = example_documents(tmp_path)
    estate = docs / "drills" / "estates" / "contoso.yaml"
    shop = "  - name: shop\n    vms: {app: shop}\n"
    estate.write_text(estate.read_text().replace(shop, shop + "    drill_every: 90d\n"))
    run = run_drill(docs, "2026-q4-web-image", docs / "out")
    result = json.loads((run / "result.json").read_text())
    (app,) = result["apps"]
    assert (result["status"], app["rto_met"], app["rpo_met"], app["rpo_objective_s"]) == ("passed", True, None, None)
    as_if_executed(run)  # a real drill (CI cannot reach Azure: see program_kit)
    store = str(docs / "out" / "history.sqlite")

    due = CliRunner().invoke(main, ["due", "--estate", str(estate), "--store", store, "--format", "json"])
    (row,) = [r for r in json.loads(due.output)["rows"] if r["app"] == "shop" and r["scenario"] == "vm-loss"]
    assert row["last_real"]["verdict"] == "passed", due.output
    assert row["last_passed_real"] is not None and row["last_passed_real"]["run_id"] == run.name
    assert row["state"] != "overdue" and due.exit_code == 0, due.output

    out = tmp_path / "packet"
    made = CliRunner().invoke(main, ["coverage", "--period", "2000-01-01..2100-01-01", "--store", store, "--out", str(out)])
    assert made.exit_code == 0, made.output
    packet = json.loads((out / "coverage.json").read_text())
    (images,) = [r for r in packet["matrix"] if r["app"] == "shop" and r["mechanism"] == "images"]
    assert images["scenarios"]["vm-loss"]["state"] == "real, passed"
    assert "| real passed (R1) |" in (out / "coverage.md").read_text()
