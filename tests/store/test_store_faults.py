"""A damaged, cut, foreign or locked history store is one clear line (exit 2), found before a drill
runs, and never written to (issue 13, item 7)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from drsim.cli import main
from drsim.errors import UsageError
from drsim.measure.result import CleanupResult, DrillResult, RunStatus
from drsim.store import HistoryStore, history

DRILL = Path(__file__).resolve().parents[2] / "drills" / "2026-q4-shop-asr.yaml"


def a_result(drill: str = "2026-q4-shop-asr") -> DrillResult:
    return DrillResult(
        drill=drill,
        runbook="shop-asr-region-failover",
        provider="sim",
        seed=42,
        incident_at="2026-11-20T14:00:00Z",
        status=RunStatus.PASSED,
        apps=[],
        tasks=[],
        cleanup=CleanupResult(status="done", leftovers=[]),
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "history.sqlite"
    with HistoryStore(path) as opened:
        opened.record("20261120T140000Z-s42", a_result(), run_dir=str(tmp_path / "2026-q4-shop-asr" / "20261120T140000Z-s42"))
    return path


def invoke(*args: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(main, list(args))
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.exception
    return outcome.exit_code, outcome.output


def one_line_refusal(output: str, path: Path, words: str) -> None:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"drsim: {path}: ") and words in lines[0], output
    assert "Traceback" not in output and "sqlite3." not in output


def bad_utf8(path: Path) -> bytes:
    """One byte of the recorded status made invalid UTF-8 (SQLite's page checks do not look inside values)."""
    raw = path.read_bytes()
    at = raw.rindex(b"passed") + 1
    path.write_bytes(raw[:at] + b"\xff" + raw[at + 1 :])
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    return path.read_bytes()


def test_invalid_utf8_in_a_row_is_a_damaged_store(store: Path) -> None:
    damaged = bad_utf8(store)
    code, output = invoke("history", "--store", str(store))
    assert code == 2
    one_line_refusal(output, store, "the history store is damaged")
    assert store.read_bytes() == damaged


def test_a_drill_into_a_damaged_store_is_refused_before_it_runs(store: Path, tmp_path: Path) -> None:
    damaged = bad_utf8(store)
    code, output = invoke("drill", "run", str(DRILL), "--out", str(tmp_path), "--store", str(store), "-q")
    assert code == 2
    one_line_refusal(output, store, "the history store is damaged")
    assert store.read_bytes() == damaged  # nothing already written is lost
    assert not (tmp_path / "2026-q4-shop-asr").exists()  # no run started


def test_the_default_store_of_out_is_checked_too(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "history.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    code, output = invoke("drill", "run", str(DRILL), "--out", str(out), "-q")
    assert code == 2 and "history.sqlite" in output and "Traceback" not in output
    assert not (out / "2026-q4-shop-asr").exists()


@pytest.mark.parametrize("cut", [0.25, 0.5, 0.9])
def test_a_truncated_store_is_refused(store: Path, cut: float) -> None:
    with HistoryStore(store) as opened:  # more than a few pages, so that cutting it leaves a header
        for number in range(40):
            opened.record(f"run-{number}", a_result(f"drill-{number:02d}-{'x' * 200}"), run_dir=f"/runs/{number}")
    raw = store.read_bytes()
    store.write_bytes(raw[: int(len(raw) * cut)])
    cut_bytes = store.read_bytes()
    code, output = invoke("history", "--store", str(store))
    assert code == 2
    one_line_refusal(output, store, "damaged")
    assert store.read_bytes() == cut_bytes


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    path.write_bytes(b"not a database at all\n" * 300)
    for args in (("history", "--store", str(path)), ("drill", "run", str(DRILL), "--out", str(tmp_path), "--store", str(path), "-q")):
        code, output = invoke(*args)
        assert code == 2
        one_line_refusal(output, path, "not a drsim history store")
    assert path.read_bytes() == b"not a database at all\n" * 300


def test_a_row_drsim_never_writes_is_a_damaged_store(store: Path) -> None:
    with sqlite3.connect(store) as db:
        db.execute("UPDATE runs SET status = 'bogus'")
    code, output = invoke("history", "--store", str(store))
    assert code == 2
    one_line_refusal(output, store, "damaged")


@pytest.fixture
def locked(store: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(history, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield store
    holder.execute("ROLLBACK")
    holder.close()


def test_a_locked_store_is_one_line_after_waiting(locked: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="locked by another process"):
        HistoryStore(locked)
    code, output = invoke("drill", "run", str(DRILL), "--out", str(tmp_path), "--store", str(locked), "-q")
    assert code == 2
    one_line_refusal(output, locked, "locked by another process")
    assert not (tmp_path / "2026-q4-shop-asr").exists()


def test_a_lock_released_in_time_is_waited_for(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A concurrent drill's short write lock is waited for, not reported."""
    monkeypatch.setattr(history, "BUSY_TIMEOUT_S", 10.0)
    holder = sqlite3.connect(store, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.5, lambda: holder.execute("ROLLBACK"))
    release.start()
    started = time.monotonic()
    try:
        with HistoryStore(store) as opened:
            assert [r.run_id for r in opened.runs()] == ["20261120T140000Z-s42"]
    finally:
        release.join()
        holder.close()
    assert time.monotonic() - started >= 0.4


def test_a_store_locked_after_the_check_still_leaves_a_complete_sealed_run(
    locked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store passed the check before the drill, then another process held it past the wait: the run
    gets its reports and manifest all the same, and the message says how to record it."""
    from drsim import preflight
    from drsim.report import verify_bundle

    monkeypatch.setattr(preflight, "check_history_store", lambda path, option: None)  # it was fine when checked
    code, output = invoke("drill", "run", str(DRILL), "--out", str(tmp_path), "--store", str(locked), "-q")
    assert code == 3 and "Traceback" not in output
    assert "locked by another process" in output and "is complete and sealed, but not recorded: `drsim report" in output
    (run_dir,) = (tmp_path / "2026-q4-shop-asr").iterdir()
    assert {"report.md", "report.html", "manifest.json"} <= {p.name for p in run_dir.iterdir()}
    assert verify_bundle(run_dir).intact
