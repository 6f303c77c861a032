"""journal.jsonl: hash chain, torn last line, replay verification."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drsim.engine.journal import GENESIS, JournalWriter, line_hash, read_journal
from drsim.errors import JournalError
from drsim.measure.events import CheckKind, CheckResult, Event, RunResumed, TaskStarted, VolumeCheck, event_from_dict, event_to_dict

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def started(i: int) -> TaskStarted:
    return TaskStarted(at=T0 + timedelta(seconds=i), task=f"db/vm{i}", step="db", action="backup.restore", vm=f"vm{i}", attempt=1)


def write(path: Path, events: list[Event]) -> None:
    journal = JournalWriter(path, fsync=False)
    for event in events:
        journal.write(event)
    journal.close()


def test_each_line_names_the_hash_of_the_line_before(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    write(path, [started(i) for i in range(3)])
    lines = path.read_bytes().splitlines()
    prevs = [json.loads(line)["prev"] for line in lines]
    assert prevs == [GENESIS, line_hash(lines[0]), line_hash(lines[1])]
    assert json.loads(lines[0])["event"] == "task.started"
    assert read_journal(path).events == tuple(started(i) for i in range(3))


def test_events_round_trip_exactly() -> None:
    check = CheckResult(
        at=T0,
        task="verify/sql-01",
        check=CheckKind.CANARY,
        vm="sql-01",
        app="shop",
        passed=False,
        reachable=True,
        healthy_at=None,
        reads=1,
        last_marker_at=T0 - timedelta(seconds=0.5),
        measured_rpo_s=0.5,
        claimed_rpo_s=1 / 3,
        consistent=False,
        corrupted=False,
        volumes=(VolumeCheck("sqldata", False, (T0, None)),),
        reason="inconsistent",
    )
    assert event_from_dict(json.loads(json.dumps(event_to_dict(check)))) == check


def test_a_torn_last_line_is_dropped_and_overwritten_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    write(path, [started(i) for i in range(3)])
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"event":"task.sta')
    contents = read_journal(path)
    assert contents.torn and len(contents.lines) == 3 and contents.valid_bytes == len(whole)
    journal = JournalWriter(path, fsync=False, replay=contents)
    for i in range(4):
        journal.write(started(i))
    journal.close()
    again = read_journal(path)
    assert not again.torn
    assert again.events == (*(started(i) for i in range(3)), RunResumed(at=started(3).at, replayed=3), started(3))


def test_replay_refuses_an_event_that_differs_from_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    write(path, [started(i) for i in range(3)])
    journal = JournalWriter(path, fsync=False, replay=read_journal(path))
    journal.write(started(0))
    with pytest.raises(JournalError, match=r"journal.jsonl:2: the resumed run does not replay the journal"):
        journal.write(started(5))
    journal.close()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"not json", "journal.jsonl:2: "),
        (b'{"event":"task.started"}', "journal.jsonl:2: hash chain broken"),
        (b"[1, 2]", "journal.jsonl:2: a journal line is a JSON object"),
    ],
)
def test_a_bad_line_is_reported_with_its_number(tmp_path: Path, line: bytes, message: str) -> None:
    path = tmp_path / "journal.jsonl"
    write(path, [started(0)])
    path.write_bytes(path.read_bytes() + line + b"\n")
    with pytest.raises(JournalError, match=message):
        read_journal(path)


def test_an_unknown_event_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text(json.dumps({"event": "task.exploded", "at": "2026-11-20T14:00:00Z", "prev": GENESIS}) + "\n")
    with pytest.raises(JournalError, match=r"unknown event 'task\.exploded'"):
        read_journal(path)


def test_a_new_journal_never_overwrites_an_existing_one(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    write(path, [started(0)])
    with pytest.raises(FileExistsError):
        JournalWriter(path, fsync=False)
