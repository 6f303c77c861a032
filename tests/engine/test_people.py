"""People in the loop, through the command line: in a real-time run `manual.declare` and `manual.approve`
wait for a person, who answers at the run's terminal or with `drsim drill approve` from another process;
the step's timeout bounds the wait; the journal and the report say who, in what role, when and why."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from people_kit import journal_events, people_drill, wait_until_waiting

from drsim.cli import main
from drsim.drills import approve_step
from drsim.engine.journal import JournalWriter, read_journal
from drsim.engine.people import APPROVALS, Approval, approval_path, check_person, waiting_steps
from drsim.errors import ExecutionError, UsageError
from drsim.measure.events import (
    AppMeasured,
    HumanActed,
    HumanWaiting,
    Person,
    ResourceCreated,
    ResourceDeleted,
    RunFinished,
    TaskFailed,
    TaskFinished,
    TaskStarted,
)
from drsim.measure.result import RunStatus
from drsim.model.types import Action

DRSIM = [sys.executable, "-c", "from drsim.cli import main; main()"]  # a process of its own, as a user runs it
SPEED = "100"  # world seconds per real second: a 2h step timeout is 72 real seconds


def drsim_process(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*DRSIM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)  # type: ignore[call-overload,no-any-return]


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_a_second_process_approves_the_steps_a_real_time_simulated_drill_waits_on(tmp_path: Path) -> None:
    drill = people_drill(tmp_path)
    out = tmp_path / "out"
    run = drsim_process("drill", "run", str(drill), "--out", str(out), "--quiet", "--real-time", "--speed", SPEED, stdin=subprocess.DEVNULL)
    try:
        run_dir = wait_until_waiting(out, "declare")
        # Refused, and the step keeps waiting: a step that does not wait yet, no such step, someone not on the list.
        code, output = cli("drill", "approve", str(run_dir), "approve", "--by", "Bob")
        assert code == 2 and "step 'approve' has not begun to wait for a person" in output and "waiting for a person: declare" in output
        code, output = cli("drill", "approve", str(run_dir), "bubble", "--by", "Bob")
        assert code == 2 and "network.isolate, not a manual step" in output
        code, output = cli("drill", "approve", str(run_dir), "nope", "--by", "Bob")
        assert code == 2 and "no step 'nope'" in output
        code, output = cli("drill", "approve", str(run_dir), "declare", "--by", "Mallory")
        assert code == 2 and "Mallory is not on the drill's participants list" in output and "keeps waiting" in output
        code, output = cli("drill", "approve", str(run_dir), "declare", "--by", "Alice Example", "--role", "CISO")
        assert code == 2 and "as incident commander, not CISO" in output
        assert list(waiting_steps(read_journal(run_dir / "journal.jsonl").events)) == ["declare"]

        approver = drsim_process("drill", "approve", str(run_dir), "declare", "--by", "alice example", "--note", "region down, go")
        stdout, stderr = approver.communicate(timeout=60)
        assert approver.returncode == 0, stderr.decode()
        assert "step 'declare' declared by Alice Example (incident commander)" in stdout.decode()
        code, output = cli("drill", "approve", str(run_dir), "declare", "--by", "Bob")
        assert code == 2 and "was already declared by Alice Example" in output

        wait_until_waiting(out, "approve")
        approver = drsim_process("drill", "approve", str(run_dir), "approve", "--by", "Bob")
        stdout, stderr = approver.communicate(timeout=60)
        assert approver.returncode == 0, stderr.decode()
        _, run_err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, run_err.decode()

    events = read_journal(run_dir / "journal.jsonl").events
    acted = [e for e in events if isinstance(e, HumanActed)]
    assert [(e.step, e.action, e.by, e.role, e.note, e.via) for e in acted] == [
        ("declare", Action.MANUAL_DECLARE, "Alice Example", "incident commander", "region down, go", "drsim drill approve"),
        ("approve", Action.MANUAL_APPROVE, "Bob", "CISO", None, "drsim drill approve"),
    ]
    waits = [e for e in events if isinstance(e, HumanWaiting)]
    assert [(w.step, w.timeout_s, w.who) for w in waits] == [("declare", 7200.0, "incident commander"), ("approve", 7200.0, None)]
    assert waits[0].participants == (Person("Alice Example", "incident commander"), Person("Bob", "CISO"))
    for wait, answer in zip(waits, acted, strict=True):
        assert answer.waited_s == round((answer.at - wait.since).total_seconds(), 3)
    # Human wait is measured from the journal (the manual tasks' own times), not the runbook's 10m + 5m.
    starts = {e.task: e.at for e in events if isinstance(e, TaskStarted)}
    ends = {e.task: e.at for e in events if isinstance(e, TaskFinished)}
    (shop,) = [e for e in events if isinstance(e, AppMeasured)]
    manual = sum((ends[w.task] - starts[w.task]).total_seconds() for w in waits)  # declare, then approve: one after the other
    assert shop.human_wait_s == pytest.approx(manual, abs=0.01)
    assert shop.human_wait_s != 900.0
    assert not (run_dir / APPROVALS / "declare.json").exists() and not (run_dir / APPROVALS / "approve.json").exists()

    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "passed" and result["simulated"] is True
    report = (run_dir / "report.md").read_text()
    signoff = report[report.index("## Sign-off") :]
    assert "| Alice Example | incident commander | declare |" in signoff
    assert "| Bob | CISO | approve |" in signoff
    assert "| declare | manual.declare | Alice Example | incident commander |" in signoff and "region down, go" in signoff
    assert "Nobody has attested this run" in signoff
    code, output = cli("evidence", "verify", str(run_dir))
    assert code == 0, output


def test_a_declared_step_nobody_answers_times_out_and_cleanup_runs(tmp_path: Path) -> None:
    drill = people_drill(tmp_path, timeout="5m")  # 3 real seconds at --speed 100
    code, output = cli("drill", "run", str(drill), "--out", str(tmp_path / "out"), "--quiet", "--real-time", "--speed", SPEED)
    assert code == 1, output
    (run_dir,) = [p.parent for p in (tmp_path / "out").rglob("result.json")]
    events = read_journal(run_dir / "journal.jsonl").events
    (failed,) = [e for e in events if isinstance(e, TaskFailed)]
    assert failed.step == "declare" and failed.error == "step 'declare' timed out after 5m: nobody came to declare it (manual.declare)"
    assert [e.step for e in events if isinstance(e, HumanWaiting)] == ["declare"]
    assert not [e for e in events if isinstance(e, HumanActed)]
    created = {e.id for e in events if isinstance(e, ResourceCreated)}
    assert created and created == {e.id for e in events if isinstance(e, ResourceDeleted)}  # the isolated network, cleaned up
    result = json.loads((run_dir / "result.json").read_text())
    assert result["cleanup"] == {"status": "done", "leftovers": []}
    assert [(t["step"], t["status"]) for t in result["tasks"]] == [
        ("declare", "failed"),
        ("bubble", "succeeded"),
        ("approve", "skipped"),
        ("web", "skipped"),
        ("boot", "skipped"),
    ]
    assert "timed out after 5m: nobody came to declare it" in (run_dir / "report.md").read_text()
    code, output = cli("drill", "approve", str(run_dir), "declare", "--by", "Bob")
    assert code == 2 and "no longer waiting" in output and "timed out" in output and "no step of the run is waiting" in output


def test_the_person_at_the_terminal_is_asked_and_a_stranger_refused(tmp_path: Path) -> None:
    drill = people_drill(tmp_path)
    master, slave = pty.openpty()
    errors = tmp_path / "run.err"
    with errors.open("wb") as err:
        run = subprocess.Popen(
            [*DRSIM, "drill", "run", str(drill), "--out", str(tmp_path / "out"), "--quiet", "--real-time", "--speed", SPEED],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    os.close(slave)

    def asked(times: int) -> None:
        deadline = time.monotonic() + 60
        while errors.read_text().count("Your name") < times:
            assert time.monotonic() < deadline and run.poll() is None, errors.read_text()
            time.sleep(0.05)

    try:
        asked(1)
        assert "step 'declare' (manual.declare) waits for a person to declare it (incident commander)" in errors.read_text()
        os.write(master, b"Mallory\n")
        asked(2)
        os.write(master, b"alice example\n\nall clear\n")  # an empty role: the listed one
        asked(3)
        os.write(master, b"Bob\nCISO\n\n")
        run.communicate(timeout=120)
    finally:
        os.close(master)
        if run.poll() is None:
            run.kill()
    shown = errors.read_text()
    assert run.returncode == 0, shown
    assert "refused: Mallory is not on the drill's participants list (Alice Example (incident commander), Bob (CISO))" in shown
    (run_dir,) = [p.parent for p in (tmp_path / "out").rglob("result.json")]
    acted = [e for e in read_journal(run_dir / "journal.jsonl").events if isinstance(e, HumanActed)]
    assert [(e.step, e.by, e.role, e.note, e.via) for e in acted] == [
        ("declare", "Alice Example", "incident commander", "all clear", "terminal"),
        ("approve", "Bob", "CISO", None, "terminal"),
    ]


def test_in_virtual_time_manual_steps_take_their_duration_and_nobody_is_asked(tmp_path: Path) -> None:
    drill = people_drill(tmp_path)
    code, output = cli("drill", "run", str(drill), "--out", str(tmp_path / "out"), "--quiet")
    assert code == 0, output
    (run_dir,) = [p.parent for p in (tmp_path / "out").rglob("result.json")]
    events = journal_events(run_dir)
    assert not [e for e in events if e["event"].startswith("human.")]
    declare = [e for e in events if e.get("task") == "declare" and e["event"] in ("task.started", "task.finished")]
    started, finished = (datetime.fromisoformat(e["at"]) for e in declare)
    assert finished - started == timedelta(minutes=10)  # the runbook's duration
    assert "Nobody was asked in this run: a simulation in virtual time" in (run_dir / "report.md").read_text()
    code, output = cli("drill", "approve", str(run_dir), "declare", "--by", "Bob")
    assert code == 2 and "in virtual time nobody is asked" in output and "no step of the run is waiting" in output


def test_speed_and_real_time_are_checked(tmp_path: Path) -> None:
    drill = people_drill(tmp_path)
    code, output = cli("drill", "run", str(drill), "--out", str(tmp_path / "out"), "--speed", "10")
    assert code == 2 and "give --real-time too" in output
    (tmp_path / "old").mkdir()
    code, output = cli("drill", "run", str(drill), "--real-time", "--resume", str(tmp_path / "old"))
    assert code == 2


def test_participants_are_listed_once_each(tmp_path: Path) -> None:
    drill = people_drill(tmp_path, participants=[{"name": "Bob", "role": "CISO"}, {"name": " bob", "role": "owner"}])
    code, output = cli("validate", str(drill))
    assert code == 2 and "drill.yaml" in output and "listed twice" in output
    drill = people_drill(tmp_path, participants=[{"name": "Bob"}])
    code, output = cli("validate", str(drill))
    assert code == 2 and "role" in output


# ------------------------------------------------------------------ approve against a journal, races


def waiting_run(tmp_path: Path, *, participants: tuple[Person, ...] = ()) -> tuple[Path, JournalWriter, HumanWaiting]:
    """A run directory whose journal says step 'declare' waits (written as a running drill writes it)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    journal = JournalWriter(run_dir / "journal.jsonl", fsync=False)
    since = datetime(2026, 11, 20, 14, tzinfo=UTC)
    waiting = HumanWaiting(since, "declare", "declare", Action.MANUAL_DECLARE, 1, since, 600.0, participants)
    journal.write(waiting)
    return run_dir, journal, waiting


def in_thread(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def until(condition, within: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_two_approvers_at_once_one_is_refused_and_the_other_confirmed_once_journaled(tmp_path: Path) -> None:
    run_dir, journal, waiting = waiting_run(tmp_path)
    thread, first = in_thread(approve_step, run_dir, "declare", by="Alice", note="go")
    until(approval_path(run_dir, "declare").exists)
    with pytest.raises(UsageError, match="already has an approval by Alice"):
        approve_step(run_dir, "declare", by="Bob")
    # The run takes it: journals human.acted, then removes the file.
    taken = Approval.from_json(approval_path(run_dir, "declare").read_bytes())
    assert (taken.step, taken.attempt, taken.by) == ("declare", 1, "Alice")
    at = waiting.since + timedelta(minutes=3)
    journal.write(HumanActed(at, "declare", "declare", Action.MANUAL_DECLARE, 1, "Alice", None, "go", 180.0, "drsim drill approve"))
    approval_path(run_dir, "declare").unlink()
    thread.join(10)
    assert isinstance(first.get("value"), HumanActed) and first["value"].by == "Alice"  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="already declared by Alice"):
        approve_step(run_dir, "declare", by="Bob")


def test_an_approval_left_as_the_step_times_out_is_taken_back_and_refused(tmp_path: Path) -> None:
    run_dir, journal, waiting = waiting_run(tmp_path)
    thread, outcome = in_thread(approve_step, run_dir, "declare", by="Alice")
    until(approval_path(run_dir, "declare").exists)
    error = "step 'declare' timed out after 10m: nobody came to declare it (manual.declare)"
    journal.write(
        TaskFailed(
            waiting.since + timedelta(minutes=10),
            "declare",
            "declare",
            Action.MANUAL_DECLARE,
            None,
            1,
            error,
            "StepTimeout",
            "recovery",
            False,
        )
    )  # type: ignore[arg-type]
    thread.join(10)
    assert isinstance(outcome.get("error"), UsageError) and "no longer waiting" in str(outcome["error"])
    assert not approval_path(run_dir, "declare").exists()  # taken back: it answers no wait


def test_a_run_that_does_not_take_the_approval_leaves_it_for_its_resume(tmp_path: Path) -> None:
    run_dir, journal, _ = waiting_run(tmp_path, participants=(Person("Alice", "incident commander"),))
    journal.close()  # the run crashed while waiting: its journal still says the step waits
    with pytest.raises(ExecutionError, match="has not taken the approval"):
        approve_step(run_dir, "declare", by="alice", confirm_within=0.3)
    left = Approval.from_json(approval_path(run_dir, "declare").read_bytes())
    assert (left.by, left.role) == ("Alice", "incident commander")
    with pytest.raises(UsageError, match="already has an approval by Alice"):
        approve_step(run_dir, "declare", by="Alice", confirm_within=0.3)


def test_the_journal_says_what_waits() -> None:
    since = datetime(2026, 11, 20, 14, tzinfo=UTC)

    def waiting(step: str) -> HumanWaiting:
        return HumanWaiting(since, step, step, Action.MANUAL_APPROVE, 1, since, None)

    acted = HumanActed(since, "a", "a", Action.MANUAL_APPROVE, 1, "Bob", None, None, 0.0, "terminal")
    assert list(waiting_steps([waiting("a"), waiting("b")])) == ["a", "b"]
    assert list(waiting_steps([waiting("a"), waiting("b"), acted])) == ["b"]
    assert waiting_steps([waiting("a"), RunFinished(since, RunStatus.FAILED)]) == {}


def test_who_may_answer() -> None:
    listed = (Person("Alice Example", "incident commander"),)
    assert check_person((), "  Carol  ", None) == ("Carol", None)
    assert check_person(listed, "alice  example", None) == ("Alice Example", "incident commander")
    assert check_person(listed, "Alice Example", "Incident Commander") == ("Alice Example", "incident commander")
    for name, role, why in [
        ("", None, "a name is needed"),
        ("Carol", None, "not on the drill's participants list"),
        ("Alice Example", "CISO", "not CISO"),
    ]:
        with pytest.raises(ValueError, match=why):
            check_person(listed, name, role)
