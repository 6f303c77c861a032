"""A simulated run made with --real-time (people answered its manual steps) is not resumed from its
seed: `--resume` says why, before it sets any of the journal aside."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from drsim.cli import main
from drsim.engine.journal import encode
from drsim.measure.events import HumanWaiting
from drsim.model.types import Action
from drsim.report.evidence import line_digest

DRILL = Path(__file__).resolve().parents[2] / "drills" / "2026-q4-web-image.yaml"


def test_a_real_time_simulated_run_is_not_resumed(tmp_path: Path) -> None:
    runner = CliRunner()
    outcome = runner.invoke(main, ["drill", "run", str(DRILL), "--out", str(tmp_path), "--quiet", "--no-report"])
    assert outcome.exit_code == 0, outcome.output
    (run_dir,) = [p.parent for p in tmp_path.rglob("result.json")]
    # what a --real-time run crashed while waiting for a person leaves: its start, its plan, then a step that waits
    lines = (run_dir / "journal.jsonl").read_bytes().splitlines()[:2]
    since = datetime(2026, 11, 20, 14, 0, 0, 368376, tzinfo=UTC)
    waiting = HumanWaiting(since, "declare", "declare", Action.MANUAL_DECLARE, 1, since, 600.0, ())
    lines.append(encode(waiting, line_digest(lines[-1])))
    (run_dir / "journal.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    (run_dir / "result.json").unlink()
    before = sorted(p.name for p in run_dir.iterdir())

    outcome = runner.invoke(main, ["drill", "run", "--resume", str(run_dir), "--quiet"])
    assert outcome.exit_code == 2, outcome.output
    assert "this simulated run ran with --real-time" in outcome.output and "run the drill again" in outcome.output
    assert "Traceback" not in outcome.output
    assert sorted(p.name for p in run_dir.iterdir()) == before  # nothing set aside, nothing written
