"""Progress and interruption: a bar with drills done, rate and ETA only on a terminal; Ctrl-C keeps the trials
every candidate finished, written and marked partial in every output, also from the process pool."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import drsim.compare.runner as runner
from drsim.cli import main

COMPARISON = Path(__file__).parent / "data" / "store-plans.yaml"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_shows_drills_done_rate_and_eta_on_a_terminal() -> None:
    screen = Terminal()
    with runner.progress_bar(40, enabled=True, stream=screen) as advance:
        assert advance is not None
        for _ in range(10):
            advance(2)
    shown = screen.getvalue()
    assert "simulated drills" in shown
    assert "20/40" in shown
    assert "drills/s" in shown and "ETA" in shown


def test_no_bar_when_not_a_terminal_or_quiet() -> None:
    pipe = io.StringIO()
    with runner.progress_bar(40, enabled=True, stream=pipe) as advance:
        assert advance is None
    with runner.progress_bar(40, enabled=False, stream=Terminal()) as advance:
        assert advance is None
    assert pipe.getvalue() == ""


def test_the_cli_draws_the_bar_on_a_terminal_and_stays_quiet_in_a_pipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["compare", str(COMPARISON), "--trials", "2", "--workers", "1", "--out", str(tmp_path / "out"), "--model", "engine"]
    piped = CliRunner().invoke(main, args)
    assert piped.exit_code in (0, 1), piped.output
    assert "drills/s" not in piped.stderr and "simulated drills" not in piped.stderr
    monkeypatch.setattr(runner, "is_terminal", lambda stream: True)
    on_terminal = CliRunner().invoke(main, args)
    assert on_terminal.exit_code == piped.exit_code
    assert "simulated drills" in on_terminal.stderr and "drills/s" in on_terminal.stderr and "ETA" in on_terminal.stderr
    quiet = CliRunner().invoke(main, [*args, "--quiet"])
    assert "simulated drills" not in quiet.stderr


def test_ctrl_c_in_the_process_pool_keeps_whole_trials_marked_partial_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (a KeyboardInterrupt in the main process) once the pool has returned its first chunk: the
    workers are stopped, the whole trials are written, and every output says it is partial."""

    @contextmanager
    def interrupting_bar(total: int, *, enabled: bool, stream: object = None) -> Iterator[runner.Progress]:
        def advance(done: int) -> None:
            raise KeyboardInterrupt

        yield advance

    monkeypatch.setattr(runner, "progress_bar", interrupting_bar)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["compare", str(COMPARISON), "--trials", "8", "--workers", "2", "--out", str(out), "--quiet", "--model", "engine"]
    )
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert "of 8 trials finished for every candidate; wrote them, marked partial" in result.output
    document = json.loads((out / "comparison.json").read_text())
    assert document["partial"] is True and document["requested_trials"] == 8 and 1 <= document["trials"] < 8
    trials = pd.read_csv(out / "trials.csv.gz")
    assert trials.groupby("trial")["candidate"].nunique().eq(4).all()  # only whole trials
    assert trials["trial"].nunique() == document["trials"]
    assert f"interrupted after {document['trials']} of 8 trials" in (out / "report.md").read_text()
    assert "Partial:" in (out / "report.html").read_text()
    assert "2026-11-01T00:00:00Z" in (out / "PARTIAL.md").read_text()


def test_the_bar_counts_the_fast_models_validation_drills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fast comparison's bar counts its engine validation drills too: it showed the fast trials
    done (8/8) while the engine's validation ran, with nothing moving, however long that took."""
    monkeypatch.setattr(runner, "is_terminal", lambda stream: True)
    args = ["compare", str(COMPARISON), "--trials", "2", "--validate", "2", "--workers", "1", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, [*args, "--model", "fast"])
    assert result.exit_code in (0, 1), result.output
    assert "16/16" in result.stderr  # 4 candidates x (2 fast trials + 2 engine validation trials)
    assert "8/8" not in result.stderr
