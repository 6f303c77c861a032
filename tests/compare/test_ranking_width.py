"""`drsim compare`'s ranking on the terminal fits the terminal: the table where it is wide enough,
a block per candidate where it is not (a mixed comparison's table was 170 columns at COLUMNS=80)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from comparisons import comparison

from drsim.cli import main

DIFFERENT = [("daily", "daily.yaml", "restore.yaml"), ("asr", "asr.yaml", "asr-failover.yaml")]


@pytest.mark.parametrize("width", [80, 200])
def test_the_ranking_fits_the_terminal_and_says_what_each_candidate_faced(tmp_path: Path, width: int) -> None:
    document = comparison(tmp_path, DIFFERENT, "mixed: true\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compare", str(document), "--workers", "1", "--out", str(out)], env={"COLUMNS": str(width)})
    assert result.exit_code in (0, 1), result.output
    lines = result.output.splitlines()
    shown = lines[: next(i for i, line in enumerate(lines) if line.startswith("3 trials, "))]  # the ranking; prose lines follow
    assert all(len(line) <= width for line in shown), result.output
    text = " ".join(result.output.split())
    assert "accidental-delete of VMs {app: store}" in text and "region-outage of eastus2" in text
    assert "store RTO 2h RPO 15m" in text and "store RTO 4h RPO 6h" in text
    assert any(line.startswith("3 trials, ") and "mixed: the candidates face" in line for line in result.output.splitlines())
    for candidate in ("daily", "asr"):
        assert any(candidate in line and ("USD" in line or ":" in line) for line in shown), result.output
    if width == 80:
        assert "1. " in result.output and "protection USD" in result.output  # a block per candidate
    else:
        assert any(line.startswith("rank ") and line.rstrip().endswith("objectives") for line in shown)  # the table
