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
        assert store.schema_version == migrations.SCHEMA_VERSION == 3
        (old,) = store.runs()
        assert (old.run_id, old.status, old.drsim_version, old.tasks_total, old.leftovers) == ("20260520-q2", RunStatus.FAILED, None, 0, 0)
        assert old.apps[0].rto_met is False and old.apps[0].rto_s == 9000.0
        q4 = store.record("20261120-q4", result("2026-q4-shop-asr", rto=2700.0), drsim_version="0.1.0")
        assert [r.run_id for r in store.series(q4.seq)] == ["20260520-q2", "20261120-q4"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
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
    with pytest.raises(ExecutionError, match="cannot upgrade the history store from schema v1 to v3: disk full"):
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
    assert csv_text[0].startswith("run_id,drill,runbook,provider,seed,incident_at,status,app,rto_s")
    assert csv_text[2].startswith(
        "q4,2026-q4-shop-asr,shop-asr-region-failover,sim,42,2026-11-20T14:00:00Z,passed,shop,9000.0,7200.0,False"
    )
    document = json.loads(export_history(runs, HistoryFormat.JSON))
    assert [r["apps"][0]["rto_met"] for r in document] == [True, False]
    table = export_history(runs, HistoryFormat.TABLE)
    assert "2h 30m MISSED" in table and table.endswith("2 recorded run(s)\n")


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
