"""`drsim drill run --resume` goes on with the documents the run started with: a runbook edited after
a crash used to be taken up silently (result.json then measured against an objective that its own
inputs/runbook.yaml, and its report, do not have). Now it is refused (exit 2) naming the document."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from drsim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_a_document_changed_since_the_run_started_is_refused(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "drills", tmp_path / "drills")
    shutil.copytree(ROOT / "runbooks", tmp_path / "runbooks")
    runner = CliRunner()
    made = runner.invoke(main, ["drill", "run", str(tmp_path / "drills" / "2026-q4-web-image.yaml"), "--out", str(tmp_path / "out"), "-q"])
    assert made.exit_code == 0, made.output
    (run_dir,) = (tmp_path / "out" / "2026-q4-web-image").iterdir()
    whole = (run_dir / "result.json").read_bytes()
    journal = run_dir / "journal.jsonl"
    journal.write_bytes(b"".join(line + b"\n" for line in journal.read_bytes().splitlines()[:20]))  # a crash
    crashed = journal.read_bytes()

    runbook = tmp_path / "runbooks" / "web-image-redeploy.yaml"
    original = runbook.read_text()
    assert "rto: 45m" in original
    runbook.write_text(original.replace("rto: 45m", "rto: 50m"))
    refused = runner.invoke(main, ["drill", "run", "--resume", str(run_dir)])
    assert refused.exit_code == 2, refused.output
    assert "the runbook" in refused.output and "inputs/runbook.yaml" in refused.output
    assert journal.read_bytes() == crashed

    runbook.write_text(original)
    resumed = runner.invoke(main, ["drill", "run", "--resume", str(run_dir), "-q"])
    assert resumed.exit_code == 0, resumed.output
    assert (run_dir / "result.json").read_bytes() == whole
