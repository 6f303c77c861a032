"""Crash and resume: a journal cut at any line (even mid-line) resumes to the same result.json."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from engine_drillkit import DRILLS, REPO

from drsim.drills import run_drill
from drsim.engine.journal import read_journal
from drsim.engine.run import RunOutcome
from drsim.errors import JournalError
from drsim.measure.events import ResourceCreated, RunPerformed, RunResumed, RunStarted
from drsim.model import load_drill

DRILL = DRILLS / "2026-q4-shop-asr.yaml"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    return run_drill(load_drill(DRILL), out_dir=tmp_path_factory.mktemp("whole"), fsync=False)


def crashed_copy(outcome: RunOutcome, tmp_path: Path, lines: int, torn: bool = False) -> Path:
    """A run directory holding the first `lines` journal lines (and half of the next one when torn)."""
    assert outcome.journal_path is not None
    whole = outcome.journal_path.read_bytes().split(b"\n")
    run_dir = tmp_path / "reports" / outcome.drill / f"cut-{lines}"
    run_dir.mkdir(parents=True)
    text = b"".join(line + b"\n" for line in whole[:lines])
    if torn:
        text += whole[lines][: len(whole[lines]) // 2]
    (run_dir / "journal.jsonl").write_bytes(text)
    return run_dir


def measured(events: Iterable[object]) -> list[object]:
    """A run's events without what is wall-clock fact or bookkeeping of resumes (when it was performed,
    run.resumed): what a resumed run must reproduce exactly."""
    kept = []
    for event in events:
        if isinstance(event, RunResumed | RunPerformed):
            continue
        kept.append(dataclasses.replace(event, performed=None) if isinstance(event, RunStarted) else event)
    return kept


def journal_lines(outcome: RunOutcome) -> int:
    assert outcome.journal_path is not None
    return len(outcome.journal_path.read_bytes().splitlines())


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.33, 0.5, 0.8, 0.97, 1.0])
@pytest.mark.parametrize("torn", [False, True])
def test_resume_after_a_crash_ends_with_the_same_result(uninterrupted: RunOutcome, tmp_path: Path, fraction: float, torn: bool) -> None:
    total = journal_lines(uninterrupted)
    cut = max(1, min(total - (1 if torn else 0), round(total * fraction)))
    run_dir = crashed_copy(uninterrupted, tmp_path, cut, torn=torn)
    resumed = run_drill(load_drill(DRILL), resume=run_dir, fsync=False)
    assert resumed.result is not None and uninterrupted.result is not None
    assert (run_dir / "result.json").read_bytes() == uninterrupted.result_path.read_bytes()  # type: ignore[union-attr]
    contents = read_journal(run_dir / "journal.jsonl")  # the chain still verifies end to end
    assert measured(contents.events) == measured(uninterrupted.events)
    resumes = [e for e in contents.events if isinstance(e, RunResumed)]
    assert [r.replayed for r in resumes] == [cut]  # a whole journal too: the resumed run ends again, at its own wall-clock time
    created = [e.id for e in contents.events if isinstance(e, ResourceCreated)]
    assert len(created) == len(set(created))  # nothing created twice


def test_a_broken_hash_chain_is_refused(uninterrupted: RunOutcome, tmp_path: Path) -> None:
    run_dir = crashed_copy(uninterrupted, tmp_path, 20)
    lines = (run_dir / "journal.jsonl").read_bytes().splitlines()
    event = json.loads(lines[5])
    event["at"] = "2026-11-20T14:00:01Z"  # tampered
    lines[5] = json.dumps(event, separators=(",", ":")).encode()
    (run_dir / "journal.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(JournalError, match=r"journal.jsonl:7: hash chain broken"):
        run_drill(load_drill(DRILL), resume=run_dir, fsync=False)


def test_a_journal_of_other_inputs_does_not_replay(uninterrupted: RunOutcome, tmp_path: Path, make_drill) -> None:  # type: ignore[no-untyped-def]
    run_dir = crashed_copy(uninterrupted, tmp_path, 30)
    first = json.loads((run_dir / "journal.jsonl").read_bytes().splitlines()[0])
    other = load_drill(DRILLS / "2026-q4-shop-backup.yaml")
    with pytest.raises(JournalError, match="is of drill 2026-q4-shop-asr"):
        run_drill(other, resume=run_dir, fsync=False)
    assert first["event"] == "run.started"


def test_kill_9_mid_run_then_resume(uninterrupted: RunOutcome, tmp_path: Path) -> None:
    """A real SIGKILL of the process at the 60th event, journal fsynced line by line, then --resume."""
    out = tmp_path / "reports"
    script = f"""
import os, signal
from drsim.drills import run_drill
from drsim.model import load_drill

class Kill:
    seen = 0
    def on_event(self, event):
        Kill.seen += 1
        if Kill.seen == 60:
            os.kill(os.getpid(), signal.SIGKILL)
    def on_finished(self, outcome):
        pass

run_drill(load_drill({str(DRILL)!r}), out_dir={str(out)!r}, observers=(Kill(),))
"""
    child = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, check=False)
    assert child.returncode == -9, child.stderr.decode()
    (run_dir,) = (out / uninterrupted.drill).iterdir()
    assert not (run_dir / "result.json").exists()
    assert len(read_journal(run_dir / "journal.jsonl").lines) == 60  # each line is on disk before observers see it
    resumed = run_drill(load_drill(DRILL), resume=run_dir)
    assert resumed.result_path is not None and uninterrupted.result_path is not None
    assert resumed.result_path.read_bytes() == uninterrupted.result_path.read_bytes()
    assert os.path.getsize(run_dir / "journal.jsonl") > 0


def _kill_at(event_number: int, *, resume: Path | None, out: Path) -> subprocess.CompletedProcess[bytes]:
    """Run (or resume) the drill in a child process that SIGKILLs itself at its `event_number`-th event."""
    script = f"""
import os, signal
from drsim.drills import run_drill
from drsim.model import load_drill

class Kill:
    seen = 0
    def on_event(self, event):
        Kill.seen += 1
        if Kill.seen == {event_number}:
            os.kill(os.getpid(), signal.SIGKILL)
    def on_finished(self, outcome):
        pass

run_drill(load_drill({str(DRILL)!r}), out_dir={str(out)!r}, resume={str(resume) if resume else None!r}, observers=(Kill(),))
"""
    return subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, check=False)


def test_a_resume_killed_in_turn_resumes_again(uninterrupted: RunOutcome, tmp_path: Path) -> None:
    """kill -9 at the 40th event, kill -9 again while resuming (at its 90th event), then resume: the same result."""
    out = tmp_path / "reports"
    assert _kill_at(40, resume=None, out=out).returncode == -9
    (run_dir,) = (out / uninterrupted.drill).iterdir()
    child = _kill_at(90, resume=run_dir, out=out)
    assert child.returncode == -9, child.stderr.decode()
    assert sum(isinstance(e, RunResumed) for e in read_journal(run_dir / "journal.jsonl").events) == 1
    resumed = run_drill(load_drill(DRILL), resume=run_dir, fsync=False)
    assert resumed.result_path is not None and uninterrupted.result_path is not None
    assert resumed.result_path.read_bytes() == uninterrupted.result_path.read_bytes()
    contents = read_journal(run_dir / "journal.jsonl")
    assert measured(contents.events) == measured(uninterrupted.events)
    # the second resume replays the 90 events journaled and steps over the first run.resumed line
    assert [r.replayed for r in contents.events if isinstance(r, RunResumed)] == [40, 90 + 1]


def test_an_interrupted_run_resumes_and_keeps_its_interrupted_ending(uninterrupted: RunOutcome, tmp_path: Path) -> None:
    """SIGINT (Ctrl-C) mid-run: the run aborts and cleans up; --resume RUN_DIR alone (the drill read from
    the journal) continues it to the uninterrupted result; the aborted ending is kept beside the journal."""
    out = tmp_path / "reports"
    script = f"""
import os, signal, sys
from drsim.cli import main

class Interrupt:
    seen = 0
    def on_event(self, event):
        Interrupt.seen += 1
        if Interrupt.seen == 50:
            os.kill(os.getpid(), signal.SIGINT)
    def on_finished(self, outcome):
        pass

import drsim.drills
original = drsim.drills.run_drill
drsim.drills.run_drill = lambda *a, **k: original(*a, **{{**k, "observers": (Interrupt(),)}})
import drsim.console
drsim.console.run_drill = drsim.drills.run_drill
sys.argv = ["drsim", "drill", "run", {str(DRILL)!r}, "--out", {str(out)!r}, "--quiet", "--no-report"]
main()
"""
    child = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, check=False)
    assert child.returncode == 3, child.stderr.decode()
    (run_dir,) = (out / uninterrupted.drill).iterdir()
    interrupted = (run_dir / "journal.jsonl").read_bytes()
    assert b'"event":"run.aborted"' in interrupted
    from click.testing import CliRunner

    from drsim.cli import main

    done = CliRunner().invoke(main, ["drill", "run", "--resume", str(run_dir), "--quiet", "--no-report"])
    assert done.exit_code == uninterrupted.exit_code, done.output
    assert uninterrupted.result_path is not None
    assert (run_dir / "result.json").read_bytes() == uninterrupted.result_path.read_bytes()
    kept = (run_dir / "journal.interrupted-1.jsonl").read_bytes()
    assert kept.startswith(b'{"event":"run.aborted"') and interrupted.endswith(kept)
    contents = read_journal(run_dir / "journal.jsonl")
    assert measured(contents.events) == measured(uninterrupted.events)


def test_resume_without_a_drill_needs_a_journal_that_names_it(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from drsim.cli import main

    done = CliRunner().invoke(main, ["drill", "run", "--quiet"])
    assert done.exit_code == 2 and "DRILL" in done.output
    empty = tmp_path / "run"
    empty.mkdir()
    done = CliRunner().invoke(main, ["drill", "run", "--resume", str(empty)])
    assert done.exit_code == 2 and "no journal.jsonl there" in done.output
