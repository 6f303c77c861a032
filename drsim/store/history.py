"""Drill history in SQLite: every run recorded, so reports can show trends across quarters.

A run is its drill, its run id and its run directory: drills that share an incident time and seed
share a run id (`20261120T140000Z-s42`), and the same drill run again into another output directory
(one --store for both) is another run. Recording the same run again updates it in place.

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

from drsim.errors import ExecutionError, StoreError, UsageError
from drsim.measure.result import AppMeasures, DrillResult, RunStatus, TaskStatus
from drsim.store.migrations import APP_COLUMNS, APPLICATION_ID, RUN_COLUMNS, SCHEMA_VERSION, current_version, migrate

STORE_NAME = "history.sqlite"
"""A run directory is <out>/<drill>/<run-id>/; its run is recorded in <out>/history.sqlite."""
DEFAULT_STORE = Path("reports") / STORE_NAME
BUSY_TIMEOUT_S = 30.0
"""How long opening or writing a store waits for another process's lock (a concurrent drill recording) before giving up."""
_LOCKED = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_PLACES = ", ".join("?" for _ in AppMeasures.names())


def store_of_run(run_dir: str | os.PathLike[str]) -> Path:
    """The history store a run directory (`<out>/<drill>/<run-id>`) records into: `<out>/history.sqlite`."""
    return Path(run_dir).resolve().parent.parent / STORE_NAME


"""The store `drsim history` reads unless `--store PATH` says otherwise (relative to the working directory)."""
STORE_TABLES = frozenset({"schema_version", "runs", "app_results"})
"""The tables of a drsim store (besides SQLite's own sqlite_*)."""


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
    apps: tuple[AppMeasures, ...]

    @property
    def worst_rto_s(self) -> float | None:
        values = [a.rto_s for a in self.apps if a.rto_s is not None]
        return max(values) if values else None

    @property
    def worst_rpo_s(self) -> float | None:
        values = [a.rpo_s for a in self.apps if a.rpo_s is not None]
        return max(values) if values else None


def _code(exc: sqlite3.Error) -> int | None:
    """SQLite's primary result code of an error (SQLITE_BUSY for SQLITE_BUSY_SNAPSHOT...)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


@dataclass(frozen=True)
class SealRecord:
    """What the store recorded when drsim last sealed a run (None where an older drsim recorded the run)."""

    run_id: str
    drill: str
    run_dir: str
    chain_head: str | None
    manifest_sha256: str | None
    signing_key_sha256: str | None


def _is_locked(exc: sqlite3.Error) -> bool:
    return _code(exc) in _LOCKED


def _flag(value: object) -> bool | None:
    return None if value is None else bool(value)


class HistoryStore:
    """An open history store; creates the file and upgrades its schema on open."""

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_STORE, *, create: bool = True, read_only: bool = False) -> None:
        """Open (or create) a store. `read_only`: an existing store, opened for reading only and never
        upgraded (what an auditor's `drsim evidence verify` does to a copy)."""
        self.path = Path(path)
        self.read_only = read_only
        if (read_only or not create) and not self.path.is_file():
            raise UsageError(f"{self.path}: no history store here (drsim drill run and drsim report record runs into one)")
        if self.path.is_dir():
            raise UsageError(f"{self.path}: is a directory, not a history store")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if read_only:
                self._db = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S
                )
            else:
                self._db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise UsageError(f"{self.path}: cannot open the history store: {exc}") from None
        try:
            self.schema_version = self._open()
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> int:
        """Check the file is a whole store this drsim can read, and upgrade its schema; return the version."""
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            self._check_is_store()
            version = current_version(self._db)
        except sqlite3.DatabaseError as exc:
            if _is_locked(exc):
                raise self._locked(exc) from None
            if _code(exc) == sqlite3.SQLITE_CORRUPT:  # SQLite's own file, damaged or cut short
                raise self._damaged(exc) from None
            raise StoreError(f"{self.path}: not a drsim history store ({exc})") from None
        if version > SCHEMA_VERSION:
            raise UsageError(f"{self.path}: written by a newer drsim (schema v{version}; this drsim knows up to v{SCHEMA_VERSION})")
        with self._faults():
            self._check_whole(version)
        if self.read_only:
            return version
        try:
            return migrate(self._db)
        except sqlite3.Error as exc:
            if _is_locked(exc):
                raise self._locked(exc) from None
            upgrade = f"from schema v{version} to v{SCHEMA_VERSION}"
            raise ExecutionError(f"{self.path}: cannot upgrade the history store {upgrade}: {exc}") from None

    def _check_whole(self, version: int) -> None:
        """Refuse a damaged store before anything is written to it: SQLite's own check of its pages and
        indexes, then every row read back as drsim reads it (integrity_check does not look inside
        values, so a byte that is not UTF-8, or a status drsim never writes, is found only by reading)."""
        found = [str(row[0]) for row in self._db.execute("PRAGMA integrity_check(3)")]
        if found != ["ok"]:
            raise sqlite3.DatabaseError("; ".join(found))
        if version == SCHEMA_VERSION or (self.read_only and version >= 3):
            self._select("", [])
        elif version > 0:  # an older schema: its rows are read once it is upgraded (the upgrade rolls back on a bad one)
            self._db.execute("SELECT * FROM runs").fetchall()

    @contextmanager
    def _faults(self) -> Iterator[None]:
        """SQLite's errors as one line naming the store: locked by another process, or damaged."""
        try:
            yield
        except sqlite3.Error as exc:
            if _is_locked(exc):
                raise self._locked(exc) from None
            raise self._damaged(exc) from None
        except ValueError as exc:  # a value drsim never writes (the status of an edited row)
            raise self._damaged(exc) from None

    def _damaged(self, exc: Exception) -> StoreError:
        return StoreError(
            f"{self.path}: the history store is damaged ({exc}); nothing was written to it: "
            "restore it from a backup, or give --store a new file"
        )

    def _locked(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(
            f"{self.path}: the history store is locked by another process ({exc}, waited {BUSY_TIMEOUT_S:g} s); "
            "try again when it has finished"
        )

    def _check_is_store(self) -> None:
        """Refuse another program's SQLite database: drsim must not add its tables to it.

        An empty file is a new store. Stores from schema v3 on carry drsim's application_id; older ones
        are known by their tables (schema_version, runs, app_results and nothing else).
        """
        listed = self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!'")
        tables = {name for (name,) in listed}
        if not tables:
            return
        (application_id,) = self._db.execute("PRAGMA application_id").fetchone()
        if application_id == APPLICATION_ID:
            return
        foreign = sorted(tables - STORE_TABLES)
        if application_id != 0:
            theirs = f"another program's database, SQLite application id {application_id:#x}"
            raise UsageError(f"{self.path}: not a drsim history store ({theirs})")
        if foreign or "schema_version" not in tables:
            shown = ", ".join(foreign or sorted(tables))
            raise UsageError(
                f"{self.path}: not a drsim history store: it holds tables drsim does not write ({shown}); "
                "give --store a new file or an existing drsim store"
            )

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
        """Record a run, or update it in place (keeping its position) when it is recorded again.

        The run is its drill, `run_id` and `run_dir`; a run recorded before run directories were
        (schema v1: none) is adopted by the same drill and run id when it is recorded with one.
        """
        leftovers = len(result.cleanup.leftovers)
        failed = sum(1 for t in result.tasks if t.status is TaskStatus.FAILED)
        directory = str(run_dir) if run_dir is not None else None
        values = (
            run_id,
            result.drill,
            result.runbook,
            result.provider,
            result.seed,
            result.incident_at,
            result.status.value,
            drsim_version,
            catalog_version,
            directory,
            cost_usd,
            len(result.tasks),
            failed,
            leftovers,
        )
        with self._faults(), self._transaction():
            seq = self._find(result.drill, run_id, directory)
            if seq is None:
                placeholders = ", ".join("?" for _ in values)
                cursor = self._db.execute(f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({placeholders})", values)
                assert cursor.lastrowid is not None
                seq = cursor.lastrowid
            else:
                assignments = ", ".join(f"{column.strip()} = ?" for column in RUN_COLUMNS.split(","))
                self._db.execute(f"UPDATE runs SET {assignments} WHERE seq = ?", (*values, seq))
            self._db.execute("DELETE FROM app_results WHERE run_seq = ?", (seq,))
            self._db.executemany(
                f"INSERT INTO app_results (run_seq, {APP_COLUMNS}) VALUES (?, {', '.join('?' for _ in AppMeasures.names())})",
                [(seq, *AppMeasures.of(a).model_dump().values()) for a in result.apps],
            )
        with self._faults():
            return self._select("seq = ?", [seq])[0]

    def record_seal(
        self, drill: str, run_id: str, run_dir: str, *, chain_head: str, manifest_sha256: str, signing_key_sha256: str | None
    ) -> bool:
        """Record how a recorded run was sealed (again: replacing what was recorded); False when the
        store holds no such run (it was never recorded here)."""
        with self._faults(), self._transaction():
            seq = self._find(drill, run_id, run_dir)
            if seq is None:
                return False
            self._db.execute(
                "UPDATE runs SET chain_head = ?, manifest_sha256 = ?, signing_key_sha256 = ? WHERE seq = ?",
                (chain_head, manifest_sha256, signing_key_sha256, seq),
            )
        return True

    def seal_of(self, run_dir: str) -> SealRecord | None:
        """The seal recorded for the run in `run_dir` (its resolved path, as drsim records it), whatever
        the files there now say about their drill and run id; None when no run was recorded there."""
        if self.schema_version < 3:  # no runs table yet (an empty file), or runs without their directory
            return None
        if self.schema_version < 4:
            columns = "run_id, drill, run_dir, NULL, NULL, NULL"
        else:
            columns = "run_id, drill, run_dir, chain_head, manifest_sha256, signing_key_sha256"
        with self._faults():
            row = self._db.execute(f"SELECT {columns} FROM runs WHERE run_dir = ? ORDER BY seq DESC LIMIT 1", (run_dir,)).fetchone()
        return SealRecord(*row) if row is not None else None

    def _find(self, drill: str, run_id: str, run_dir: str | None) -> int | None:
        """The seq of the recorded run with this identity: the same directory, else one recorded without any."""
        row = self._db.execute(
            """SELECT seq FROM runs WHERE drill = ? AND run_id = ? AND (run_dir IS ? OR run_dir IS NULL)
               ORDER BY run_dir IS NULL, seq LIMIT 1""",
            (drill, run_id, run_dir),
        ).fetchone()
        return int(row[0]) if row is not None else None

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
        with self._faults():
            return self._select(" AND ".join(clauses), params)

    def series(self, seq: int) -> list[RunRecord]:
        """The run recorded as `seq` and every run of its series recorded before it (same drill or same runbook), oldest first."""
        with self._faults():
            row = self._db.execute("SELECT drill, runbook FROM runs WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                return []
            drill, runbook = row
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
        apps: dict[int, list[AppMeasures]] = {}
        seqs = [row[0] for row in rows]
        for start in range(0, len(seqs), 500):  # SQLite limits the number of bound parameters
            chunk = seqs[start : start + 500]
            for r in self._db.execute(
                f"""SELECT run_seq, {APP_COLUMNS}
                    FROM app_results WHERE run_seq IN ({", ".join("?" for _ in chunk)}) ORDER BY app""",
                chunk,
            ):
                values = dict(zip(AppMeasures.names(), r[1:], strict=True))
                for flag in ("rto_met", "rpo_met", "consistent"):  # SQLite keeps booleans as 0/1
                    values[flag] = _flag(values[flag])
                apps.setdefault(r[0], []).append(AppMeasures(**values))
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
                apps=tuple(apps.get(row[0], ())),
            )
            for row in rows
        ]
