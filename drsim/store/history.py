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
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from drsim.errors import ExecutionError, StoreError, UsageError
from drsim.measure.findings import Finding, FindingKind, Severity
from drsim.measure.result import AppMeasures, DrillResult, RunKind, RunStatus, TaskStatus, run_kind
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
STORE_TABLES = frozenset({"schema_version", "runs", "app_results", "findings", "finding_actions"})
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
    emulated: bool | None = None  # None: recorded by a drsim that did not say (schema before v5)
    performed_at: str | None = None  # wall clock: when the run started (None: not recorded)

    @property
    def kind(self) -> RunKind | None:
        """simulation, emulation or executed recovery; None for an Azure run recorded without saying
        whether it ran against drsim's emulator (it is not counted as operating evidence)."""
        if self.provider != "sim" and self.emulated is None:
            return None
        return run_kind(self.provider, bool(self.emulated))

    @property
    def operating_evidence(self) -> bool:
        """Only a recovery executed against Azure evidences that recovery operates (docs/compliance.md)."""
        return self.kind is RunKind.EXECUTED

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


class FindingStatus(StrEnum):
    OPEN = "open"  # neither closed by a person nor re-verified by a later real drill
    CLOSED = "closed"  # closed by a person (with a note), not yet re-verified
    REVERIFIED = "re-verified"  # a later real drill of its application met the objectives


@dataclass(frozen=True)
class FindingAction:
    """One thing done to a finding: assigned, closed or re-verified; who (a person, or the run) and when."""

    action: str  # assigned | closed | re-verified
    at: str
    by: str
    owner: str | None
    due: str | None
    note: str | None
    run_id: str | None  # the run that re-verified it


@dataclass(frozen=True)
class FindingRecord:
    """A finding as the history store keeps it: what the run found, and what was done about it since."""

    id: str
    run_seq: int
    run_id: str
    drill: str
    run_kind: RunKind | None
    app: str | None
    kind: FindingKind
    severity: Severity
    subject: str
    title: str
    reason: str
    run_at: str  # when in the run it showed (the run's own time)
    opened_at: str  # when the run that found it was performed (wall clock; when it was recorded, if not known)
    owner: str | None
    due: str | None
    closed_at: str | None
    closed_by: str | None
    close_note: str | None
    reverified_at: str | None
    reverified_by: str | None  # the run id of the real drill that re-verified it
    actions: tuple[FindingAction, ...] = ()

    @property
    def status(self) -> FindingStatus:
        if self.reverified_at is not None:
            return FindingStatus.REVERIFIED
        return FindingStatus.CLOSED if self.closed_at is not None else FindingStatus.OPEN

    @property
    def simulated(self) -> bool:
        return self.run_kind is RunKind.SIMULATION


def _met(app: AppMeasures) -> bool:
    """The application met every objective the run measured it against (and had at least one)."""
    verdicts = [v for v in (app.rto_met, app.rpo_met) if v is not None]
    return bool(verdicts) and all(verdicts)


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
        self.schema_version = version  # what _select reads, until the upgrade below
        with self._faults():
            self._check_whole(version)
        if self.read_only:
            return version
        try:
            version = migrate(self._db)
            self.schema_version = version
            return version
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
            if version >= 5:
                self._select_findings("", [])
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
        emulated: bool | None = None,
        performed_at: str | None = None,
        findings: Sequence[Finding] = (),
        recorded_at: str | None = None,
    ) -> RunRecord:
        """Record a run, or update it in place (keeping its position) when it is recorded again.

        The run is its drill, `run_id` and `run_dir`; a run recorded before run directories were
        (schema v1: none) is adopted by the same drill and run id when it is recorded with one.

        Its `findings` (drsim.measure.findings, derived from its journal) are kept by id: recording
        the run again updates what it found and keeps what was done about it. A real run (against
        Azure, not the emulator) that met every objective of an application re-verifies the findings of
        that application that earlier runs opened. `recorded_at` (wall clock, UTC text) dates what has
        no time of its own: findings of a run that does not say when it was performed.
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
            emulation = emulated if emulated is not None else result.emulated
            if emulation is None and result.provider == "sim":
                emulation = False
            self._db.execute(
                "UPDATE runs SET emulated = ?, performed_at = ? WHERE seq = ?",
                (None if emulation is None else int(emulation), performed_at, seq),
            )
            opened = performed_at or recorded_at or result.incident_at
            self._record_findings(seq, findings, opened)
            if result.provider != "sim" and emulation is False:
                self._reverify(seq, run_id, [a.app for a in result.apps if _met(a)], opened)
        with self._faults():
            return self._select("seq = ?", [seq])[0]

    def _record_findings(self, seq: int, findings: Sequence[Finding], opened_at: str) -> None:
        from drsim.measure.events import iso

        self._db.executemany(
            """INSERT INTO findings (id, run_seq, app, kind, severity, subject, title, reason, run_at, opened_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET app = excluded.app, kind = excluded.kind, severity = excluded.severity,
                   subject = excluded.subject, title = excluded.title, reason = excluded.reason, run_at = excluded.run_at
               WHERE findings.run_seq = excluded.run_seq""",
            [(f.id, seq, f.app, f.kind.value, f.severity.value, f.subject, f.title, f.reason, iso(f.at), opened_at) for f in findings],
        )

    def _reverify(self, seq: int, run_id: str, apps: Sequence[str], at: str) -> None:
        """Mark re-verified, by the real run `seq`, the findings of `apps` that runs recorded before it opened."""
        for app in apps:
            found = self._db.execute(
                "SELECT id FROM findings WHERE app = ? AND reverified_at IS NULL AND run_seq < ? ORDER BY id", (app, seq)
            ).fetchall()
            for (finding,) in found:
                self._db.execute("UPDATE findings SET reverified_at = ?, reverified_by_seq = ? WHERE id = ?", (at, seq, finding))
                self._db.execute(
                    "INSERT INTO finding_actions (finding_id, action, at, by, run_seq) VALUES (?, 're-verified', ?, ?, ?)",
                    (finding, at, f"run {run_id}", seq),
                )

    def _finding_exists(self, finding: str) -> tuple[str | None, str | None, str | None]:
        row = self._db.execute("SELECT closed_at, closed_by, reverified_at FROM findings WHERE id = ?", (finding,)).fetchone()
        if row is None:
            raise UsageError(f"{self.path}: no finding {finding} in this history store (`drsim findings` lists them)")
        return row[0], row[1], row[2]

    def assign_finding(self, finding: str, *, owner: str, due: str, by: str, at: str) -> FindingRecord:
        """Give a finding an owner and a due date (again: replacing them); the assignment is recorded with who and when."""
        self._writable()
        with self._faults(), self._transaction():
            self._finding_exists(finding)
            self._db.execute("UPDATE findings SET owner = ?, due = ? WHERE id = ?", (owner, due, finding))
            self._db.execute(
                "INSERT INTO finding_actions (finding_id, action, at, by, owner, due) VALUES (?, 'assigned', ?, ?, ?, ?)",
                (finding, at, by, owner, due),
            )
        return self._one_finding(finding)

    def close_finding(self, finding: str, *, note: str, by: str, at: str) -> FindingRecord:
        """Close a finding with a note; recorded with who and when. A finding is closed once."""
        self._writable()
        with self._faults(), self._transaction():
            closed_at, closed_by, _ = self._finding_exists(finding)
            if closed_at is not None:
                raise UsageError(f"{self.path}: finding {finding} was closed already, at {closed_at} by {closed_by}")
            self._db.execute("UPDATE findings SET closed_at = ?, closed_by = ?, close_note = ? WHERE id = ?", (at, by, note, finding))
            self._db.execute(
                "INSERT INTO finding_actions (finding_id, action, at, by, note) VALUES (?, 'closed', ?, ?, ?)", (finding, at, by, note)
            )
        return self._one_finding(finding)

    def _writable(self) -> None:
        if self.read_only:
            raise UsageError(f"{self.path}: the history store was opened read-only")

    def _one_finding(self, finding: str) -> FindingRecord:
        with self._faults():
            return self._select_findings("f.id = ?", [finding])[0]

    def findings(
        self,
        *,
        app: str | None = None,
        open_only: bool = False,
        since: str | None = None,
        until: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[FindingRecord]:
        """Recorded findings, in the order their runs were recorded (most severe first within a run),
        each with every action taken on it. `open_only`: neither closed nor re-verified. `since` and
        `until` (UTC text, `until` excluded) select by when the finding was opened; a period's closures
        and re-verifications are in each record's closed_at / reverified_at and actions."""
        if self.schema_version < 5:
            return []
        clauses: list[str] = []
        params: list[object] = []
        if app is not None:
            clauses.append("f.app = ?")
            params.append(app)
        if open_only:
            clauses.append("f.closed_at IS NULL AND f.reverified_at IS NULL")
        if since is not None:
            clauses.append("f.opened_at >= ?")
            params.append(since)
        if until is not None:
            clauses.append("f.opened_at < ?")
            params.append(until)
        if ids is not None:
            clauses.append(f"f.id IN ({', '.join('?' for _ in ids)})")
            params.extend(ids)
        with self._faults():
            return self._select_findings(" AND ".join(clauses), params)

    def _select_findings(self, where: str, params: Sequence[object]) -> list[FindingRecord]:
        query = """
            SELECT f.id, f.run_seq, r.run_id, r.drill, r.provider, r.emulated, f.app, f.kind, f.severity, f.subject, f.title,
                   f.reason, f.run_at, f.opened_at, f.owner, f.due, f.closed_at, f.closed_by, f.close_note, f.reverified_at,
                   v.run_id
            FROM findings f JOIN runs r ON r.seq = f.run_seq LEFT JOIN runs v ON v.seq = f.reverified_by_seq
        """
        if where:
            query += f" WHERE {where}"
        query += " ORDER BY f.run_seq, CASE f.severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, f.run_at, f.id"
        rows = self._db.execute(query, list(params)).fetchall()
        actions: dict[str, list[FindingAction]] = {}
        ids = [row[0] for row in rows]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for r in self._db.execute(
                f"""SELECT a.finding_id, a.action, a.at, a.by, a.owner, a.due, a.note, v.run_id
                    FROM finding_actions a LEFT JOIN runs v ON v.seq = a.run_seq
                    WHERE a.finding_id IN ({", ".join("?" for _ in chunk)}) ORDER BY a.seq""",
                chunk,
            ):
                actions.setdefault(r[0], []).append(FindingAction(*r[1:]))
        found = []
        for row in rows:
            provider, emulated = row[4], row[5]
            kind = None if provider != "sim" and emulated is None else run_kind(provider, bool(emulated))
            found.append(
                FindingRecord(
                    id=row[0],
                    run_seq=row[1],
                    run_id=row[2],
                    drill=row[3],
                    run_kind=kind,
                    app=row[6],
                    kind=FindingKind(row[7]),
                    severity=Severity(row[8]),
                    subject=row[9],
                    title=row[10],
                    reason=row[11],
                    run_at=row[12],
                    opened_at=row[13],
                    owner=row[14],
                    due=row[15],
                    closed_at=row[16],
                    closed_by=row[17],
                    close_note=row[18],
                    reverified_at=row[19],
                    reverified_by=row[20],
                    actions=tuple(actions.get(row[0], ())),
                )
            )
        return found

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
        kind_columns = "emulated, performed_at" if self.schema_version >= 5 else "NULL, NULL"
        query = f"""
            SELECT seq, run_id, drill, runbook, provider, seed, incident_at, status, drsim_version, catalog_version,
                   run_dir, cost_usd, tasks_total, tasks_failed, leftovers, {kind_columns}
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
                emulated=_flag(row[15]),
                performed_at=row[16],
            )
            for row in rows
        ]
