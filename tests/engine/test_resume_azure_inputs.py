"""`drsim drill run --resume` of an Azure run goes on with the documents the run started with, as a
simulated resume does (tests/engine/test_resume_changed_documents.py): a runbook edited after a crash
is refused (exit 2) naming the document, before drsim connects to Azure, and the journal is untouched."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from click.testing import CliRunner

from drsim import __version__
from drsim.cli import main
from drsim.drills import copy_inputs, performed_now
from drsim.engine.journal import JournalWriter
from drsim.engine.run import JOURNAL
from drsim.measure.events import RunStarted
from drsim.model.checks import load_drill
from drsim.model.types import CleanupPolicy

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "http://127.0.0.1:9"  # discard port: a connection would fail, and none must be tried


def test_an_azure_resume_with_a_changed_runbook_is_refused_before_connecting(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "drills", tmp_path / "drills")
    shutil.copytree(ROOT / "runbooks", tmp_path / "runbooks")
    drill_path = tmp_path / "drills" / "2026-q4-web-image.yaml"
    data = yaml.safe_load(drill_path.read_text())
    data["provider"] = "azure"
    data["azure"] = {"subscription_id": "00000000-0000-0000-0000-000000000001", "resource_group": "rg-drsim-drill", "endpoint": UNREACHABLE}
    drill_path.write_text(yaml.safe_dump(data, sort_keys=False))
    bundle = load_drill(drill_path)

    # The run as an Azure drill begins it: run.started names the documents it copied into inputs/.
    run_dir = tmp_path / "out" / "run"
    run_dir.mkdir(parents=True)
    incident = datetime(2026, 11, 20, 14, tzinfo=UTC)
    journal = JournalWriter(run_dir / JOURNAL, fsync=False)
    journal.write(
        RunStarted(
            at=incident + timedelta(minutes=5),
            run_id="run",
            drill=bundle.drill.doc.name,
            runbook=bundle.runbook.doc.name,
            estate=bundle.estate.doc.name,
            plan=bundle.plan.doc.name,
            provider="azure",
            seed=1,
            incident_at=incident,
            detected_at=incident + timedelta(minutes=5),
            drsim_version=__version__,
            catalog_version=None,
            concurrency=50,
            cleanup=CleanupPolicy.ALWAYS,
            drill_file=str(drill_path.resolve()),
            inputs=copy_inputs(bundle, run_dir),
            emulated=True,
            performed=performed_now(),
        )
    )
    journal.close()
    crashed = (run_dir / JOURNAL).read_bytes()

    runbook = tmp_path / "runbooks" / "web-image-redeploy.yaml"
    runbook.write_text(runbook.read_text().replace("rto: 45m", "rto: 50m"))
    refused = CliRunner().invoke(main, ["drill", "run", "--resume", str(run_dir)])
    assert refused.exit_code == 2, refused.output
    assert "the runbook" in refused.output and "inputs/runbook.yaml" in refused.output
    assert "127.0.0.1:9" not in refused.output  # refused before any connection was tried
    assert (run_dir / JOURNAL).read_bytes() == crashed
