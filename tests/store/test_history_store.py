"""The history store: runs survive reopening, re-recording, sharing a run id, and upgrades from the v1 and v2 schemas."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from drsim.cli import main
from drsim.errors import ExecutionError, UsageError
from drsim.measure.result import AppResult, CleanupResult, DrillResult, Leftover, RunStatus, TaskResult, TaskStatus
from drsim.store import HistoryStore, migrations
from drsim.store.export import HistoryFormat, export_history

# The v1 schema exactly as drsim first wrote it: a store from that version must open and upgrade.
V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (1);
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    drill TEXT NOT NULL,
    runbook TEXT NOT NULL,
    provider TEXT NOT NULL,
    seed INTEGER NOT NULL,
    incident_at TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE app_results (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    app TEXT NOT NULL,
    rto_s REAL, rpo_s REAL, rpo_claimed_s REAL, rto_objective_s REAL, rpo_objective_s REAL,
    rto_met INTEGER, rpo_met INTEGER, consistent INTEGER,
    PRIMARY KEY (run_id, app)
);
INSERT INTO runs (run_id, drill, runbook, provider, seed, incident_at, status)
    VALUES ('20260520-q2', '2026-q2-shop-asr', 'shop-asr-region-failover', 'sim', 42, '2026-05-20T14:00:00Z', 'failed');
INSERT INTO app_results VALUES ('20260520-q2', 'shop', 9000.0, 1200.0, 900.0, 7200.0, 900.0, 0, 0, 1);
"""


def result(drill: str, *, rto: float, status: RunStatus = RunStatus.PASSED, leftovers: int = 0) -> DrillResult:
    return DrillResult(
        drill=drill,
        runbook="shop-asr-region-failover",
        provider="sim",
        seed=42,
        incident_at="2026-11-20T14:00:00Z",
        status=status,
        apps=[
            AppResult(
                app="shop",
                rto_s=rto,
                rpo_s=290.0,
                rpo_claimed_s=240.0,
                rto_objective_s=7200.0,
                rpo_objective_s=900.0,
                rto_met=rto <= 7200,
                rpo_met=True,
                consistent=True,
                trigger_at=None,
                infra_ready_at=None,
                healthy_at=None,
            )
        ],
        tasks=[
            TaskResult(
                step="db",
                action="asr.test_failover",
                vm="sql-01",
                status=TaskStatus.FAILED,
                started_at=None,
                ended_at=None,
                attempts=3,
                recovery_point_at=None,
            )
        ],
        cleanup=CleanupResult(
            status="incomplete" if leftovers else "done",
            leftovers=[
                Leftover(id=f"/x/{i}", kind="Microsoft.Compute/disks", name=f"d{i}", region="centralus", cost_per_day=1.0)
                for i in range(leftovers)
            ],
        ),
    )


def test_two_runs_survive_reopening_in_recorded_order(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "history.sqlite"
    with HistoryStore(path) as store:
        store.record(
            "q3", result("2026-q3-shop-asr", rto=3000.0), drsim_version="0.1.0", catalog_version="c1", run_dir="/runs/q3", cost_usd=1.5
        )
        store.record("q4", result("2026-q4-shop-asr", rto=2700.0, status=RunStatus.ERROR, leftovers=2))
    with HistoryStore(path) as store:
        runs = store.runs()
        assert [r.run_id for r in runs] == ["q3", "q4"]
        q3, q4 = runs
        assert (q3.drsim_version, q3.catalog_version, q3.run_dir, q3.cost_usd, q3.tasks_total, q3.tasks_failed) == (
            "0.1.0",
            "c1",
            "/runs/q3",
            1.5,
            1,
            1,
        )
        assert q4.status is RunStatus.ERROR and q4.leftovers == 2 and q4.worst_rto_s == 2700.0
        assert [r.run_id for r in store.series(q4.seq)] == ["q3", "q4"], "same runbook: one series"
        assert [r.run_id for r in store.series(q3.seq)] == ["q3"], "a series holds the runs recorded before"
        assert [r.run_id for r in store.runs(drill="2026-q4-shop-asr")] == ["q4"]


def test_recording_a_run_again_updates_it_in_place(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record("a", result("d", rto=100.0))
        store.record("b", result("d", rto=200.0))
        again = store.record("a", result("d", rto=150.0))
        assert again.seq == 1 and again.apps[0].rto_s == 150.0
        assert [(r.run_id, r.worst_rto_s) for r in store.runs()] == [("a", 150.0), ("b", 200.0)]


def test_a_v1_store_is_upgraded_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
    with HistoryStore(path) as store:
        assert store.schema_version == migrations.SCHEMA_VERSION == 5
        (old,) = store.runs()
        assert (old.run_id, old.status, old.drsim_version, old.tasks_total, old.leftovers) == ("20260520-q2", RunStatus.FAILED, None, 0, 0)
        assert old.apps[0].rto_met is False and old.apps[0].rto_s == 9000.0
        q4 = store.record("20261120-q4", result("2026-q4-shop-asr", rto=2700.0), drsim_version="0.1.0")
        assert [r.run_id for r in store.series(q4.seq)] == ["20260520-q2", "20261120-q4"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(5,)]
        indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"runs_by_drill", "runs_by_runbook"} <= indexes


def test_a_failing_migration_leaves_the_store_at_its_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "h.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)

    def broken(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE runs ADD COLUMN half_done TEXT")
        raise sqlite3.OperationalError("disk full")

    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS[:2], broken))
    with pytest.raises(ExecutionError, match="cannot upgrade the history store from schema v1 to v5: disk full"):
        HistoryStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)], "v2 went through, v3 was rolled back"
        assert "half_done" not in {row[1] for row in db.execute("PRAGMA table_info(runs)")}
        assert db.execute("SELECT count(*) FROM app_results WHERE run_id = '20260520-q2'").fetchone() == (1,)


def test_a_newer_or_foreign_file_is_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as db:
        db.executescript("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (99);")
    with pytest.raises(UsageError, match="newer drsim"):
        HistoryStore(newer)
    foreign = tmp_path / "notes.sqlite"
    foreign.write_text("these are not the droids you are looking for" * 20)
    with pytest.raises(UsageError, match="not a drsim history store"):
        HistoryStore(foreign)
    with pytest.raises(UsageError, match="no history store"):
        HistoryStore(tmp_path / "absent.sqlite", create=False)


def test_exports(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record("q3", result("2026-q3-shop-asr", rto=3000.0))
        store.record("q4", result("2026-q4-shop-asr", rto=9000.0))
        runs = store.runs()
    csv_text = export_history(runs, HistoryFormat.CSV).splitlines()
    assert csv_text[0].startswith("run_id,kind,drill,runbook,provider,seed,incident_at,status,app,rto_s")
    assert csv_text[2].startswith(
        "q4,simulated,2026-q4-shop-asr,shop-asr-region-failover,sim,42,2026-11-20T14:00:00Z,passed,shop,9000.0,7200.0,False"
    )
    document = json.loads(export_history(runs, HistoryFormat.JSON))
    assert [r["apps"][0]["rto_met"] for r in document] == [True, False]
    assert [r["kind"] for r in document] == ["simulated", "simulated"]
    table = export_history(runs, HistoryFormat.TABLE)
    assert "2h 30m" in table and "MISSED" in table
    assert table.endswith("2 recorded run(s): 0 real (0 passed), the only operating evidence; 2 simulated, which are not\n")


def test_cli_history(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as store:
        store.record("q3", result("2026-q3-shop-asr", rto=3000.0))
        store.record("q4", result("2026-q4-shop-asr", rto=9000.0))
    runner = CliRunner()
    listed = runner.invoke(main, ["history", "--store", str(path), "--drill", "2026-q4-shop-asr", "--format", "json"])
    assert listed.exit_code == 0 and [r["run_id"] for r in json.loads(listed.output)] == ["q4"]
    assert runner.invoke(main, ["history", "--store", str(path), "--format", "csv"]).output.count("\n") == 3
    missing = runner.invoke(main, ["history", "--store", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 2 and "no history store" in missing.output and not (tmp_path / "none.sqlite").exists()


# The v2 schema as drsim wrote it (v1 plus the v2 migration): runs keyed by run id alone.
V2_SCHEMA = (
    V1_SCHEMA.replace("VALUES (1);", "VALUES (2);")
    + """
ALTER TABLE runs ADD COLUMN drsim_version TEXT;
ALTER TABLE runs ADD COLUMN catalog_version TEXT;
ALTER TABLE runs ADD COLUMN run_dir TEXT;
ALTER TABLE runs ADD COLUMN cost_usd REAL;
ALTER TABLE runs ADD COLUMN tasks_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN tasks_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN leftovers INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_by_drill ON runs (drill, seq);
CREATE INDEX runs_by_runbook ON runs (runbook, seq);
INSERT INTO runs (run_id, drill, runbook, provider, seed, incident_at, status, drsim_version, run_dir, cost_usd, tasks_total)
    VALUES ('20261120T140000Z-s42', '2026-q4-shop-backup', 'shop-backup-restore', 'sim', 42, '2026-11-20T14:00:00Z', 'failed',
            '0.1.0', '/out/2026-q4-shop-backup/20261120T140000Z-s42', 2.5, 7);
INSERT INTO app_results VALUES ('20261120T140000Z-s42', 'shop', 3056.0, 43193.0, 43193.0, 14400.0, 21600.0, 1, 0, 1);
"""
)


def test_drills_sharing_a_run_id_are_two_runs(tmp_path: Path) -> None:
    """The shipped drills share incident time and seed, so their run ids are equal: both runs stay."""
    with HistoryStore(tmp_path / "h.sqlite") as store:
        asr = store.record("20261120T140000Z-s42", result("2026-q4-shop-asr", rto=2124.0), run_dir="/out/asr/20261120T140000Z-s42")
        backup = store.record("20261120T140000Z-s42", result("2026-q4-shop-backup", rto=3056.0), run_dir="/out/backup/20261120T140000Z-s42")
        assert asr.seq != backup.seq
        assert [(r.drill, r.worst_rto_s) for r in store.runs()] == [("2026-q4-shop-asr", 2124.0), ("2026-q4-shop-backup", 3056.0)]
        assert [r.drill for r in store.runs(drill="2026-q4-shop-asr")] == ["2026-q4-shop-asr"]
        assert [r.drill for r in store.runs(run_ids=["20261120T140000Z-s42"])] == ["2026-q4-shop-asr", "2026-q4-shop-backup"]


def test_the_same_drill_run_again_into_another_directory_is_another_run(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        first = store.record("r-s42", result("d", rto=100.0), run_dir="/out1/d/r-s42")
        second = store.record("r-s42", result("d", rto=100.0), run_dir="/out2/d/r-s42")
        again = store.record("r-s42", result("d", rto=120.0), run_dir="/out1/d/r-s42")
        assert again.seq == first.seq != second.seq, "re-recording one directory updates it in place"
        assert [(r.run_dir, r.worst_rto_s) for r in store.runs()] == [("/out1/d/r-s42", 120.0), ("/out2/d/r-s42", 100.0)]
        assert [r.seq for r in store.series(second.seq)] == [first.seq, second.seq]


def test_a_v1_run_without_a_directory_is_adopted_when_recorded_again(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
    with HistoryStore(path) as store:
        again = store.record("20260520-q2", result("2026-q2-shop-asr", rto=7000.0), run_dir="/out/2026-q2-shop-asr/20260520-q2")
        (only,) = store.runs()
        assert (again.seq, only.run_dir, only.worst_rto_s) == (1, "/out/2026-q2-shop-asr/20260520-q2", 7000.0)


def test_a_v2_store_is_upgraded_keeping_every_row_and_position(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(V2_SCHEMA)
    with HistoryStore(path) as store:
        assert store.schema_version == 5
        old_q2, backup = store.runs()
        assert (old_q2.seq, old_q2.run_id, old_q2.apps[0].rto_s) == (1, "20260520-q2", 9000.0)
        assert (backup.seq, backup.drill, backup.run_dir, backup.cost_usd, backup.tasks_total) == (
            2,
            "2026-q4-shop-backup",
            "/out/2026-q4-shop-backup/20261120T140000Z-s42",
            2.5,
            7,
        )
        assert (backup.apps[0].rpo_s, backup.apps[0].rto_met, backup.apps[0].rpo_met) == (43193.0, True, False)
        # v2 held one row per run id: the asr drill of the same run id would have replaced the backup run
        asr = store.record(
            "20261120T140000Z-s42", result("2026-q4-shop-asr", rto=2124.0), run_dir="/out/2026-q4-shop-asr/20261120T140000Z-s42"
        )
        assert asr.seq == 3 and [r.drill for r in store.runs()] == ["2026-q2-shop-asr", "2026-q4-shop-backup", "2026-q4-shop-asr"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA application_id").fetchone() == (migrations.APPLICATION_ID,)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"schema_version", "runs", "app_results", "findings", "finding_actions", "sqlite_sequence"}
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_deleting_a_run_deletes_its_applications(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as store:
        store.record("a", result("d", rto=1.0))
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("DELETE FROM runs")
    db.commit()
    assert db.execute("SELECT count(*) FROM app_results").fetchone() == (0,)
    db.close()


def _foreign_database(path: Path) -> bytes:
    with sqlite3.connect(path) as db:
        db.executescript("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('keep me');")
    return path.read_bytes()


def test_another_programs_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    notes = tmp_path / "notes.sqlite"
    before = _foreign_database(notes)
    with pytest.raises(UsageError, match=r"notes\.sqlite: not a drsim history store: it holds tables drsim does not write \(notes\)"):
        HistoryStore(notes)
    with pytest.raises(UsageError, match="not a drsim history store"):
        HistoryStore(notes, create=False)
    assert notes.read_bytes() == before

    # drsim's table names alone do not make a store: one written by drsim has nothing else
    mixed = tmp_path / "mixed.sqlite"
    with sqlite3.connect(mixed) as db:
        db.executescript(V2_SCHEMA + "CREATE TABLE t (x);")
    with pytest.raises(UsageError, match=r"tables drsim does not write \(t\)"):
        HistoryStore(mixed)

    tagged = tmp_path / "tagged.sqlite"
    with sqlite3.connect(tagged) as db:
        db.executescript("PRAGMA application_id = 123; CREATE TABLE runs (x);")
    with pytest.raises(UsageError, match="another program's database, SQLite application id 0x7b"):
        HistoryStore(tagged)


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with HistoryStore(empty, create=False) as store:
        assert store.schema_version == 5 and store.runs() == []
    with HistoryStore(empty) as store:
        assert store.record("a", result("d", rto=1.0)).seq == 1


def test_cli_history_refuses_a_foreign_database(tmp_path: Path) -> None:
    notes = tmp_path / "notes.sqlite"
    before = _foreign_database(notes)
    refused = CliRunner().invoke(main, ["history", "--store", str(notes)])
    assert refused.exit_code == 2 and isinstance(refused.exception, SystemExit)
    assert f"drsim: {notes}: not a drsim history store" in refused.output
    assert notes.read_bytes() == before


def test_the_table_tells_runs_of_one_id_apart_by_directory(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record("r-s42", result("d", rto=100.0), run_dir=str(tmp_path / "d" / "r-s42"))
        store.record("r-s42", result("d", rto=100.0), run_dir="/elsewhere/d/r-s42")
        store.record("old", result("d", rto=100.0))
        runs = store.runs()
    table = export_history(runs, HistoryFormat.TABLE, base=tmp_path, width=240).splitlines()
    first_cells = [
        line.strip().split("  ")[0] for line in table[table.index(next(x for x in table if "───" in x)) + 1 : -2]
    ]  # each run's drill, run id and directory, one a line
    assert first_cells == ["d", "r-s42", "d/r-s42", "d", "r-s42", "/elsewhere/d/r-s42", "d", "old", "—"]
