"""The history store's schema, as an ordered list of migrations. Never edit a released migration: add one.

`schema_version` holds one row: the number of migrations applied. Opening a store applies the
missing ones in order, each in its own transaction, so a store written by any earlier drsim is
upgraded in place and a failed upgrade leaves it at its previous version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _v1_runs_and_apps(db: sqlite3.Connection) -> None:
    """v1: one row per run (in the order recorded) and one per application of the run."""
    db.execute(
        """
        CREATE TABLE runs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL UNIQUE,
            drill TEXT NOT NULL,
            runbook TEXT NOT NULL,
            provider TEXT NOT NULL,
            seed INTEGER NOT NULL,
            incident_at TEXT NOT NULL,
            status TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE app_results (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            app TEXT NOT NULL,
            rto_s REAL,
            rpo_s REAL,
            rpo_claimed_s REAL,
            rto_objective_s REAL,
            rpo_objective_s REAL,
            rto_met INTEGER,
            rpo_met INTEGER,
            consistent INTEGER,
            PRIMARY KEY (run_id, app)
        )
        """
    )


def _v2_environment_and_cost(db: sqlite3.Connection) -> None:
    """v2: the environment of each run (versions, where its files are), its cost and task counts."""
    for column in (
        "drsim_version TEXT",
        "catalog_version TEXT",
        "run_dir TEXT",
        "cost_usd REAL",
        "tasks_total INTEGER NOT NULL DEFAULT 0",
        "tasks_failed INTEGER NOT NULL DEFAULT 0",
        "leftovers INTEGER NOT NULL DEFAULT 0",
    ):
        db.execute(f"ALTER TABLE runs ADD COLUMN {column}")
    db.execute("CREATE INDEX runs_by_drill ON runs (drill, seq)")
    db.execute("CREATE INDEX runs_by_runbook ON runs (runbook, seq)")


APPLICATION_ID = 0x64727369
"""SQLite's application_id of a drsim store ('drsi'): what tells it from another program's database."""

RUN_COLUMNS = (
    "run_id, drill, runbook, provider, seed, incident_at, status, drsim_version, catalog_version, run_dir, cost_usd, "
    "tasks_total, tasks_failed, leftovers"
)
APP_COLUMNS = "app, rto_s, rpo_s, rpo_claimed_s, rto_objective_s, rpo_objective_s, rto_met, rpo_met, consistent"


def _v3_runs_by_drill_and_directory(db: sqlite3.Connection) -> None:
    """v3: a run is its drill, run id and run directory, not the run id alone (drills sharing an incident
    time and seed have one run id); applications hang off the run's seq. Rebuilds both tables, keeping every row."""
    (last_seq,) = db.execute("SELECT ifnull(max(seq), 0) FROM sqlite_sequence WHERE name = 'runs'").fetchone()
    # Renaming runs also points app_results' foreign key at runs_v2, so dropping runs_v2 later cascades nowhere.
    db.execute("ALTER TABLE app_results RENAME TO app_results_v2")
    db.execute("ALTER TABLE runs RENAME TO runs_v2")
    db.execute("DROP INDEX runs_by_drill")
    db.execute("DROP INDEX runs_by_runbook")
    db.execute(
        """
        CREATE TABLE runs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            drill TEXT NOT NULL,
            runbook TEXT NOT NULL,
            provider TEXT NOT NULL,
            seed INTEGER NOT NULL,
            incident_at TEXT NOT NULL,
            status TEXT NOT NULL,
            drsim_version TEXT,
            catalog_version TEXT,
            run_dir TEXT,
            cost_usd REAL,
            tasks_total INTEGER NOT NULL DEFAULT 0,
            tasks_failed INTEGER NOT NULL DEFAULT 0,
            leftovers INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute(
        """
        CREATE TABLE app_results (
            run_seq INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
            app TEXT NOT NULL,
            rto_s REAL,
            rpo_s REAL,
            rpo_claimed_s REAL,
            rto_objective_s REAL,
            rpo_objective_s REAL,
            rto_met INTEGER,
            rpo_met INTEGER,
            consistent INTEGER,
            PRIMARY KEY (run_seq, app)
        )
        """
    )
    db.execute(f"INSERT INTO runs (seq, {RUN_COLUMNS}) SELECT seq, {RUN_COLUMNS} FROM runs_v2 ORDER BY seq")
    db.execute(
        f"""INSERT INTO app_results (run_seq, {APP_COLUMNS})
            SELECT r.seq, {", ".join(f"a.{c.strip()}" for c in APP_COLUMNS.split(","))}
            FROM app_results_v2 a JOIN runs_v2 r ON r.run_id = a.run_id"""
    )
    db.execute("DROP TABLE app_results_v2")
    db.execute("DROP TABLE runs_v2")
    db.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'runs'", (last_seq,))
    db.execute("CREATE UNIQUE INDEX runs_by_identity ON runs (drill, run_id, ifnull(run_dir, ''))")
    db.execute("CREATE INDEX runs_by_drill ON runs (drill, seq)")
    db.execute("CREATE INDEX runs_by_runbook ON runs (runbook, seq)")
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _v4_seals(db: sqlite3.Connection) -> None:
    """v4: what sealed the run when drsim sealed it (its journal's chain head, the SHA-256 of its
    manifest.json, the signing key's SHA-256), so that `drsim evidence verify` can tell a run from one
    edited and sealed again, or swapped for another, after the fact."""
    for column in ("chain_head TEXT", "manifest_sha256 TEXT", "signing_key_sha256 TEXT"):
        db.execute(f"ALTER TABLE runs ADD COLUMN {column}")


def _v5_findings_and_run_kind(db: sqlite3.Connection) -> None:
    """v5: whether an Azure run was against drsim's emulator and when a run was performed (wall clock),
    so listings tell simulated, emulated and real runs apart; each run's findings (derived from its
    journal), their owner, due date, closure and re-verification by a later real drill; and every
    action taken on a finding, with who and when (finding_actions, appended, never rewritten)."""
    db.execute("ALTER TABLE runs ADD COLUMN emulated INTEGER")  # NULL: recorded by an older drsim, unknown
    db.execute("ALTER TABLE runs ADD COLUMN performed_at TEXT")
    db.execute(
        """
        CREATE TABLE findings (
            id TEXT PRIMARY KEY,
            run_seq INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
            app TEXT,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL,
            subject TEXT NOT NULL,
            title TEXT NOT NULL,
            reason TEXT NOT NULL,
            run_at TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            owner TEXT,
            due TEXT,
            closed_at TEXT,
            closed_by TEXT,
            close_note TEXT,
            reverified_at TEXT,
            reverified_by_seq INTEGER REFERENCES runs(seq) ON DELETE SET NULL
        )
        """
    )
    db.execute("CREATE INDEX findings_by_app ON findings (app, opened_at)")
    db.execute("CREATE INDEX findings_by_run ON findings (run_seq)")
    db.execute(
        """
        CREATE TABLE finding_actions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            finding_id TEXT NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
            action TEXT NOT NULL,
            at TEXT NOT NULL,
            by TEXT NOT NULL,
            owner TEXT,
            due TEXT,
            note TEXT,
            run_seq INTEGER REFERENCES runs(seq) ON DELETE SET NULL
        )
        """
    )
    db.execute("CREATE INDEX finding_actions_by_finding ON finding_actions (finding_id, seq)")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _v1_runs_and_apps,
    _v2_environment_and_cost,
    _v3_runs_by_drill_and_directory,
    _v4_seals,
    _v5_findings_and_run_kind,
)
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(db: sqlite3.Connection) -> int:
    """The version of an open store: 0 for an empty database."""
    table = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if table is None:
        return 0
    row = db.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row is not None else 0


def migrate(db: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations after the store's version up to `target`; return the version reached.

    The connection must be in autocommit mode (isolation_level=None): each step is one explicit transaction.
    """
    version = current_version(db)
    for number in range(version + 1, target + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            if current_version(db) >= number:  # another process upgraded it meanwhile
                db.execute("COMMIT")
                continue
            if number == 1:
                db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                db.execute("DELETE FROM schema_version")
                db.execute("INSERT INTO schema_version (version) VALUES (0)")
            MIGRATIONS[number - 1](db)
            db.execute("UPDATE schema_version SET version = ?", (number,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return max(version, target)
