"""Drill history in SQLite: every run recorded, so reports can show trends across quarters.

A *series* is the runs that rehearse the same recovery: the same drill name, or the same runbook
(a quarterly drill is often a new Drill document, `2026-q3-shop-asr`, `2026-q4-shop-asr`, over
one runbook). Runs are ordered by when they were recorded.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from drsim.errors import ExecutionError, UsageError
from drsim.measure.result import DrillResult, RunStatus, TaskStatus
from drsim.store.migrations import SCHEMA_VERSION, current_version, migrate

STORE_NAME = "history.sqlite"
"""A run directory is <out>/<drill>/<run-id>/; its run is recorded in <out>/history.sqlite."""
DEFAULT_STORE = Path("reports") / STORE_NAME
"""The store `drsim history` reads unless `--store PATH` says otherwise (relative to the working directory)."""


@dataclass(frozen=True)
class AppRecord:
    """One application's measures in one recorded run."""

    app: str
    rto_s: float | None
    rpo_s: float | None
    rpo_claimed_s: float | None
    rto_objective_s: float | None
    rpo_objective_s: float | None
    rto_met: bool | None
    rpo_met: bool | None
    consistent: bool | None


@dataclass(frozen=True)
class RunRecord:
    """One recorded drill run."""

    seq: int
    run_id: str
    drill: str
    runbook: str
    provider: str
    seed: int
    incident_at: str
    status: RunStatus
    drsim_version: str | None
    catalog_version: str | None
    run_dir: str | None
    cost_usd: float | None
    tasks_total: int
    tasks_failed: int
    leftovers: int
    apps: tuple[AppRecord, ...]

    @property
    def worst_rto_s(self) -> float | None:
        values = [a.rto_s for a in self.apps if a.rto_s is not None]
        return max(values) if values else None

    @property
    def worst_rpo_s(self) -> float | None:
        values = [a.rpo_s for a in self.apps if a.rpo_s is not None]
        return max(values) if values else None


def _flag(value: object) -> bool | None:
    return None if value is None else bool(value)


class HistoryStore:
    """An open history store; creates the file and upgrades its schema on open."""

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_STORE, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise UsageError(f"{self.path}: no history store here (drsim drill run and drsim report record runs into one)")
        if self.path.is_dir():
            raise UsageError(f"{self.path}: is a directory, not a history store")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise UsageError(f"{self.path}: cannot open the history store: {exc}") from None
        try:
            self.schema_version = self._open()
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> int:
        """Check the file is a store this drsim can read, and upgrade its schema; return the version."""
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            version = current_version(self._db)
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"{self.path}: not a drsim history store ({exc})") from None
        if version > SCHEMA_VERSION:
            raise UsageError(f"{self.path}: written by a newer drsim (schema v{version}; this drsim knows up to v{SCHEMA_VERSION})")
        try:
            return migrate(self._db)
        except sqlite3.Error as exc:
            upgrade = f"from schema v{version} to v{SCHEMA_VERSION}"
            raise ExecutionError(f"{self.path}: cannot upgrade the history store {upgrade}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def record(
        self,
        run_id: str,
        result: DrillResult,
        *,
        drsim_version: str | None = None,
        catalog_version: str | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        cost_usd: float | None = None,
    ) -> RunRecord:
        """Record a run, or update it in place (keeping its position) when it is recorded again."""
        leftovers = len(result.cleanup.leftovers)
        failed = sum(1 for t in result.tasks if t.status is TaskStatus.FAILED)
        values = (
            result.drill,
            result.runbook,
            result.provider,
            result.seed,
            result.incident_at,
            result.status.value,
            drsim_version,
            catalog_version,
            str(run_dir) if run_dir is not None else None,
            cost_usd,
            len(result.tasks),
            failed,
            leftovers,
        )
        with self._transaction():
            self._db.execute(
                """
                INSERT INTO runs (run_id, drill, runbook, provider, seed, incident_at, status, drsim_version,
                                  catalog_version, run_dir, cost_usd, tasks_total, tasks_failed, leftovers)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (run_id) DO UPDATE SET
                    drill = excluded.drill, runbook = excluded.runbook, provider = excluded.provider,
                    seed = excluded.seed, incident_at = excluded.incident_at, status = excluded.status,
                    drsim_version = excluded.drsim_version, catalog_version = excluded.catalog_version,
                    run_dir = excluded.run_dir, cost_usd = excluded.cost_usd, tasks_total = excluded.tasks_total,
                    tasks_failed = excluded.tasks_failed, leftovers = excluded.leftovers
                """,
                (run_id, *values),
            )
            self._db.execute("DELETE FROM app_results WHERE run_id = ?", (run_id,))
            self._db.executemany(
                """
                INSERT INTO app_results (run_id, app, rto_s, rpo_s, rpo_claimed_s, rto_objective_s, rpo_objective_s,
                                         rto_met, rpo_met, consistent)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    (
                        run_id,
                        a.app,
                        a.rto_s,
                        a.rpo_s,
                        a.rpo_claimed_s,
                        a.rto_objective_s,
                        a.rpo_objective_s,
                        a.rto_met,
                        a.rpo_met,
                        a.consistent,
                    )
                    for a in result.apps
                ],
            )
        recorded = self.runs(run_ids=[run_id])
        return recorded[0]

    def runs(self, *, drill: str | None = None, runbook: str | None = None, run_ids: Sequence[str] | None = None) -> list[RunRecord]:
        """Recorded runs in the order recorded, filtered by drill name, runbook name or run ids."""
        clauses, params = [], []
        if drill is not None:
            clauses.append("drill = ?")
            params.append(drill)
        if runbook is not None:
            clauses.append("runbook = ?")
            params.append(runbook)
        if run_ids is not None:
            clauses.append(f"run_id IN ({', '.join('?' for _ in run_ids)})")
            params.extend(run_ids)
        return self._select(" AND ".join(clauses), params)

    def series(self, run_id: str) -> list[RunRecord]:
        """The run and every run of its series recorded before it (same drill or same runbook), oldest first."""
        row = self._db.execute("SELECT seq, drill, runbook FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return []
        seq, drill, runbook = row
        return self._select("seq <= ? AND (drill = ? OR runbook = ?)", [seq, drill, runbook])

    def _select(self, where: str, params: Sequence[object]) -> list[RunRecord]:
        query = """
            SELECT seq, run_id, drill, runbook, provider, seed, incident_at, status, drsim_version, catalog_version,
                   run_dir, cost_usd, tasks_total, tasks_failed, leftovers
            FROM runs
        """
        if where:
            query += f" WHERE {where}"
        query += " ORDER BY seq"
        rows = self._db.execute(query, list(params)).fetchall()
        apps: dict[str, list[AppRecord]] = {}
        ids = [row[1] for row in rows]
        for start in range(0, len(ids), 500):  # SQLite limits the number of bound parameters
            chunk = ids[start : start + 500]
            for r in self._db.execute(
                f"""SELECT run_id, app, rto_s, rpo_s, rpo_claimed_s, rto_objective_s, rpo_objective_s, rto_met, rpo_met, consistent
                    FROM app_results WHERE run_id IN ({", ".join("?" for _ in chunk)}) ORDER BY app""",
                chunk,
            ):
                apps.setdefault(r[0], []).append(AppRecord(r[1], r[2], r[3], r[4], r[5], r[6], _flag(r[7]), _flag(r[8]), _flag(r[9])))
        return [
            RunRecord(
                seq=row[0],
                run_id=row[1],
                drill=row[2],
                runbook=row[3],
                provider=row[4],
                seed=row[5],
                incident_at=row[6],
                status=RunStatus(row[7]),
                drsim_version=row[8],
                catalog_version=row[9],
                run_dir=row[10],
                cost_usd=row[11],
                tasks_total=row[12],
                tasks_failed=row[13],
                leftovers=row[14],
                apps=tuple(apps.get(row[1], ())),
            )
            for row in rows
        ]
