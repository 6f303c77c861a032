"""The summary `drsim drill run` prints for a simulated run says it is a simulation, as the top of
its reports does: "status passed" alone read like an executed recovery."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from drsim.cli import main

DRILLS = Path(__file__).resolve().parents[2] / "drills"


def test_the_terminal_summary_of_a_simulation_says_so(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(main, ["drill", "run", str(DRILLS / "2026-q4-shop-backup.yaml"), "--out", str(tmp_path)])
    assert outcome.exit_code == 1, outcome.output  # the daily backup misses the RPO by design
    lines = outcome.output.splitlines()
    status = next(i for i, line in enumerate(lines) if line.startswith("status failed"))
    assert lines[status + 1] == "Simulation: this evidences the recovery design, not an executed recovery."
    (run_dir,) = (tmp_path / "2026-q4-shop-backup").iterdir()
    assert lines[status + 1] in (run_dir / "report.md").read_text()  # the same words as the report's banner
