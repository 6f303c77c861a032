"""`drsim drill run --resume` of a run that finished and was attested or sealed again afterwards is
refused (exit 2) and leaves the run as it was: it used to end in a traceback (the resume replays the
run, never the run.attested / evidence.resealed lines after it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from drsim.cli import main

DRILL = Path(__file__).resolve().parents[2] / "drills" / "2026-q4-web-image.yaml"


@pytest.mark.parametrize("after", ["attest", "reseal"])
def test_a_run_attested_or_resealed_is_not_resumed(tmp_path: Path, after: str) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["drill", "run", str(DRILL), "--out", str(tmp_path), "-q"]).exit_code == 0
    (run_dir,) = (tmp_path / "2026-q4-web-image").iterdir()
    if after == "attest":
        done = runner.invoke(main, ["drill", "attest", str(run_dir), "--by", "Dana Reyes", "--role", "drill owner", "--verdict", "passed"])
    else:
        (run_dir / "report.md").write_text((run_dir / "report.md").read_text() + "\nedited\n")
        done = runner.invoke(main, ["evidence", "seal", str(run_dir), "--force"])
    assert done.exit_code == 0, done.output
    journal = (run_dir / "journal.jsonl").read_bytes()
    resumed = runner.invoke(main, ["drill", "run", "--resume", str(run_dir)])
    assert resumed.exit_code == 2, resumed.output
    assert resumed.exception is None or isinstance(resumed.exception, SystemExit), resumed.exception
    assert "nothing to resume" in resumed.output and ("run.attested" if after == "attest" else "evidence.resealed") in resumed.output
    assert (run_dir / "journal.jsonl").read_bytes() == journal
    assert runner.invoke(main, ["evidence", "verify", str(run_dir)]).exit_code == 0
