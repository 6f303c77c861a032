"""Terminal output fits the terminal, and shows durations one way (drsim.times.duration): the drill
summary, the dry-run plan and `drsim history` at 80 and 100 columns."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from drsim import console as terminal
from drsim.cli import main

DRILLS = Path(__file__).resolve().parents[1] / "drills"
TODAY = date(2026, 12, 1)
OLD_FORMAT = re.compile(r"\b\d+h\d+m\d*s?\b|\b\d+m\d+s\b")  # 1h2m3s, 4m50s: the console's old duration format


def run_to(width: int, out: Path, *, dry_run: bool = False, drill: str = "2026-q4-shop-snapshot") -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    terminal.drill_run(
        str(DRILLS / f"{drill}.yaml"),
        out_dir=str(out),
        seed=None,
        incident_at=None,
        dry_run=dry_run,
        resume=None,
        quiet=False,
        today=TODAY,
        console=console,
    )
    return buffer.getvalue()


@pytest.mark.parametrize("width", [80, 100])
def test_the_drill_summary_and_the_plan_fit_the_terminal(tmp_path: Path, width: int) -> None:
    for text in (run_to(width, tmp_path / "a"), run_to(width, tmp_path / "b", dry_run=True)):
        table_lines = [line for line in text.splitlines() if not line.startswith(("wrote ", "planned critical path"))]
        assert all(len(line) <= width for line in table_lines), text
        assert "…" not in text
        assert not OLD_FORMAT.search(text), text
    summary = run_to(width, tmp_path / "c")
    assert any("consistent" in line for line in summary.splitlines()[:5]), "a header word is never broken"
    assert re.search(r"\d+h \d\dm", summary), "durations as drsim.times.duration writes them"


@pytest.mark.parametrize("width", [80, 100])
def test_history_fits_the_terminal(tmp_path: Path, width: int) -> None:
    for drill in ("2026-q4-shop-snapshot", "2026-q4-shop-asr"):
        assert CliRunner().invoke(main, ["drill", "run", str(DRILLS / f"{drill}.yaml"), "--out", str(tmp_path), "-q"]).exit_code in (0, 1)
    outcome = CliRunner().invoke(main, ["history", "--store", str(tmp_path / "history.sqlite")], env={"COLUMNS": str(width)})
    assert outcome.exit_code == 0
    lines = outcome.output.splitlines()
    assert all(len(line) <= width for line in lines[:-1]) and "…" not in outcome.output
    assert "20261120T140000Z-s42" in outcome.output and "simulated" in outcome.output and "MISSED" in outcome.output
    assert not OLD_FORMAT.search(outcome.output)
    assert lines[-1] == "2 recorded run(s): 0 real (0 passed), the only operating evidence; 2 simulated, which are not"


@pytest.mark.parametrize("width", [60, 80, 100])
def test_no_column_of_the_summary_is_cropped(tmp_path: Path, width: int) -> None:
    """rich crops a table whose columns cannot shrink enough: the verdict column vanished at 80 columns."""
    outcome = CliRunner().invoke(
        main, ["drill", "run", str(DRILLS / "2026-q4-shop-asr.yaml"), "--out", str(tmp_path)], env={"COLUMNS": str(width)}
    )
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.output.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("┏"))
    bottom = next(i for i, line in enumerate(lines) if line.startswith("└"))
    table = lines[top : bottom + 1]
    assert all(len(line) <= width for line in table), outcome.output
    assert all(line.rstrip()[-1] in "┓┃┩│┘" for line in table), outcome.output
    assert any("met" in line and "yes" in line for line in table), outcome.output


def test_a_dry_run_plan_keeps_every_column(tmp_path: Path) -> None:
    text = run_to(80, tmp_path, dry_run=True, drill="2026-q4-shop-ransomware")
    table = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and all(line.rstrip()[-1] in "┓┃┩│┘" for line in table), text
