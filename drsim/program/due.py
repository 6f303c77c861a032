"""What is due: per application and scenario, the last real and the last simulated drill, when the next
real drill is due (`drill_every`), and whether what was drilled has changed since (`drsim due`).

Everything here is read from the history store and the run directories it names: a run's kind and
status from its result.json, when it was performed from its manifest.json (or journal), and the
documents it ran from its own `inputs/` copies. Nothing is typed in.

*Changed since*: an application's fingerprint is the SHA-256 of three canonical parts, each compared
on its own: its **estate entry** (the app's definition and the VMs its selector matches, in the estate
`--estate` names, as it is now), its **plan rules** (the protection rules those VMs fall under) and the
**runbook** the drill ran. The parts as drilled come from the run's inputs/; the parts as they are now
come from `--estate` and from the drill document the run was made from (the path its journal names),
whose runbook and plan are read again. A part that cannot be read now or then is *unknown*, and an
unknown part needs re-verification as much as a changed one: an auditor cannot tell it did not change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from drsim.engine.journal import read_journal
from drsim.errors import DrsimError
from drsim.measure.events import RunStarted
from drsim.measure.result import RunStatus
from drsim.model import Estate, ProtectionPlan, Runbook, load, load_drill, protection_of
from drsim.program.runs import performed_at
from drsim.report.evidence import RecordedSeal
from drsim.report.sealing import verify_run
from drsim.report.view import RunKind, run_kind
from drsim.store.history import RunRecord

RESULT = "result.json"
MANIFEST = "manifest.json"
JOURNAL = "journal.jsonl"
PARTS = ("estate", "plan", "runbook")
"""What an application's fingerprint is made of, in the order `changed since` names them."""


class DueState(StrEnum):
    OK = "ok"  # a passed real drill, next one not yet due, nothing changed since
    OVERDUE = "overdue"  # drill_every has passed since the last passed real drill (or there is none)
    CHANGED = "changed"  # the runbook, plan rule or estate entry differs from the last passed real drill
    NOT_SCHEDULED = "not scheduled"  # the app has no drill_every and nothing to re-verify

    @property
    def needs_action(self) -> bool:
        return self in (DueState.OVERDUE, DueState.CHANGED)


@dataclass(frozen=True)
class DrillRef:
    """One recorded run of an application, as `due` shows it."""

    drill: str
    run_id: str
    run_dir: str
    kind: RunKind
    status: RunStatus
    app_passed: bool  # the application met its objectives (and its data was consistent) in this run
    performed: datetime  # when the run ended on the wall clock (started, when no end was recorded)
    scenario: str

    @property
    def verdict(self) -> str:
        if self.status is RunStatus.ERROR:
            return "error"
        return "passed" if self.app_passed else "failed"


@dataclass(frozen=True)
class DueRow:
    app: str
    scenario: str | None  # None: the app has never been drilled in any scenario
    critical: bool
    drill_every: timedelta | None
    last_real: DrillRef | None
    last_passed_real: DrillRef | None
    last_simulated: DrillRef | None
    due: datetime | None
    changed: tuple[str, ...]  # "estate", "plan", "runbook", or "<part> (unknown: why)"
    state: DueState

    def to_json(self) -> dict[str, Any]:
        def ref(r: DrillRef | None) -> dict[str, Any] | None:
            if r is None:
                return None
            return {
                "drill": r.drill,
                "run_id": r.run_id,
                "run_dir": r.run_dir,
                "performed": _utc(r.performed),
                "status": r.status.value,
                "verdict": r.verdict,
            }

        return {
            "app": self.app,
            "scenario": self.scenario,
            "critical": self.critical,
            "drill_every_s": None if self.drill_every is None else self.drill_every.total_seconds(),
            "last_real": ref(self.last_real),
            "last_passed_real": ref(self.last_passed_real),
            "last_simulated": ref(self.last_simulated),
            "due": None if self.due is None else _utc(self.due),
            "changed_since": list(self.changed),
            "state": self.state.value,
        }


@dataclass(frozen=True)
class DueReport:
    at: datetime
    estate: str
    store: str
    rows: tuple[DueRow, ...]
    notes: tuple[str, ...] = field(default=())  # runs that could not be read, and why

    @property
    def exit_code(self) -> int:
        """1 when anything is overdue or needs re-verification (so CI can gate on it), 0 otherwise."""
        return 1 if any(row.state.needs_action for row in self.rows) else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "at": _utc(self.at),
            "estate": self.estate,
            "store": self.store,
            "rows": [row.to_json() for row in self.rows],
            "notes": list(self.notes),
            "needs_action": self.exit_code == 1,
        }


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _canonical(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def app_fingerprint(app: str, estate: Estate | None, plan: ProtectionPlan | None, runbook: Runbook | None) -> dict[str, str | None]:
    """The SHA-256 of each part of an application's fingerprint (None where the document is missing or
    does not define the app)."""
    spec = None if estate is None else next((a for a in estate.apps if a.name == app), None)
    vms = [] if estate is None or spec is None else estate.select(spec.vms)
    parts: dict[str, str | None] = {"estate": None, "plan": None, "runbook": None}
    if spec is not None and estate is not None:
        parts["estate"] = _canonical(
            {
                "app": spec.model_dump(mode="json", exclude={"drill_every", "critical"}),
                "vms": [vm.model_dump(mode="json") for vm in vms],
            }
        )
    if plan is not None and spec is not None:
        rules = []
        for vm in vms:
            protection = protection_of(plan, vm.name, vm.tags)
            rules.append(
                {
                    "vm": vm.name,
                    **{
                        kind: (None if rule is None else rule.model_dump(mode="json"))
                        for kind, rule in (
                            ("backup", protection.backup),
                            ("site_recovery", protection.site_recovery),
                            ("snapshots", protection.snapshots),
                            ("image", protection.image),
                        )
                    },
                }
            )
        parts["plan"] = _canonical(rules)
    if runbook is not None:
        parts["runbook"] = _canonical(runbook.model_dump(mode="json", exclude={"metadata"}))
    return parts


@dataclass(frozen=True)
class _Run:
    """A recorded run read back from its directory."""

    record: RunRecord
    directory: Path
    kind: RunKind
    status: RunStatus
    performed: datetime
    scenario: str
    drill_file: str | None


def _read_json(path: Path) -> Mapping[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _read_run(record: RunRecord, seals: Mapping[str, RecordedSeal]) -> _Run | str:
    """The run as due needs it, or why it cannot be read."""
    where = f"run {record.drill} {record.run_id}"
    if record.run_dir is None:
        return f"{where}: recorded without a run directory (an older drsim): not counted"
    directory = Path(record.run_dir)
    try:
        result = _read_json(directory / RESULT)
    except OSError as exc:
        return f"{where}: {directory / RESULT}: cannot read it ({exc.strerror or exc}): not counted"
    except ValueError as exc:
        return f"{where}: {directory / RESULT}: not a result ({exc}): not counted"
    started: RunStarted | None = None
    try:
        first = read_journal(directory / JOURNAL).events[:1]
        started = first[0] if first and isinstance(first[0], RunStarted) else None
    except DrsimError as exc:
        return f"{where}: {exc}: not counted"
    performed = performed_at(directory, started)
    if performed is None:
        return f"{where}: {directory}: no record of when it was performed (an older drsim): not counted"
    try:
        status = RunStatus(str(result.get("status")))
    except ValueError:
        return f"{where}: {directory / RESULT}: unknown status {result.get('status')!r}: not counted"
    emulated = result.get("emulated") is True or (started is not None and started.emulated)
    kind = run_kind(str(result.get("provider", record.provider)), emulated)
    if kind is RunKind.EXECUTED:  # a real drill sets the cadence only while its evidence verifies
        found = verify_run(directory, signature_check=False, recorded=seals.get(str(directory.resolve())))
        if not found.intact:
            return f"{where}: {directory}: its evidence does not verify ({found.problems[0]}): not counted"
    scenario = _scenario(directory)
    return _Run(record, directory, kind, status, performed, scenario, None if started is None else started.drill_file)


def _scenario(directory: Path) -> str:
    try:
        return load(directory / "inputs" / "runbook.yaml", Runbook).doc.scenario.incident.value
    except DrsimError:
        return "unknown"


def _app_passed(record: RunRecord, app: str) -> bool | None:
    """Whether the app met its objectives in the run (None: the run did not measure it)."""
    for measures in record.apps:
        if measures.app == app:
            return measures.passed()
    return None


def _ref(run: _Run, app: str, passed: bool) -> DrillRef:
    return DrillRef(run.record.drill, run.record.run_id, str(run.directory), run.kind, run.status, passed, run.performed, run.scenario)


class _Documents:
    """Documents read once each: the parts as drilled (a run's inputs/) and as they are now."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], Any] = {}

    def get(self, path: Path, expected: type[Any]) -> Any:
        key = (str(path), expected.__name__)
        if key not in self._cache:
            try:
                self._cache[key] = load(path, expected).doc
            except DrsimError as exc:
                self._cache[key] = exc
        return self._cache[key]

    def drill(self, path: str) -> Any:
        key = (path, "bundle")
        if key not in self._cache:
            try:
                self._cache[key] = load_drill(path)
            except DrsimError as exc:
                self._cache[key] = exc
        return self._cache[key]


def _short(exc: object) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _changed(app: str, run: _Run, estate_now: Estate, docs: _Documents) -> tuple[str, ...]:
    """Which parts of the app's fingerprint differ between the run's inputs/ and now."""
    then: dict[str, Any] = {
        "estate": docs.get(run.directory / "inputs" / "estate.yaml", Estate),
        "plan": docs.get(run.directory / "inputs" / "plan.yaml", ProtectionPlan),
        "runbook": docs.get(run.directory / "inputs" / "runbook.yaml", Runbook),
    }
    now: dict[str, Any] = {"estate": estate_now, "plan": None, "runbook": None}
    if run.drill_file is None:
        why_now = "the run does not name its drill document"
        now["plan"] = now["runbook"] = DrsimError(why_now)
    else:
        bundle = docs.drill(run.drill_file)
        if isinstance(bundle, Exception):
            now["plan"] = now["runbook"] = DrsimError(f"{run.drill_file}: {_short(bundle)}")
        else:
            now["plan"], now["runbook"] = bundle.plan.doc, bundle.runbook.doc
    problems = {
        side: {part: doc for part, doc in values.items() if isinstance(doc, Exception)} for side, values in (("then", then), ("now", now))
    }

    def usable(values: Mapping[str, Any]) -> dict[str, Any]:
        return {part: (None if isinstance(doc, Exception) else doc) for part, doc in values.items()}

    before = app_fingerprint(app, usable(then)["estate"], usable(then)["plan"], usable(then)["runbook"])
    after = app_fingerprint(app, usable(now)["estate"], usable(now)["plan"], usable(now)["runbook"])
    changed = []
    for part in PARTS:
        # The plan's fingerprint is taken over the app's VMs: it needs the estate on that side too.
        needs = (part, "estate") if part == "plan" else (part,)
        unknown = [
            f"{'as drilled' if side == 'then' else 'now'}: {_short(problems[side][p])}"
            for side in ("then", "now")
            for p in needs
            if p in problems[side]
        ]
        if unknown:
            changed.append(f"{part} (unknown: {unknown[0]})")
        elif before[part] != after[part]:
            changed.append(part)
    return tuple(changed)


def due_report(
    estate_path: str | Path,
    runs: Sequence[RunRecord],
    at: datetime,
    *,
    store: str | Path,
    estate: Estate | None = None,
    seals: Mapping[str, RecordedSeal] | None = None,
) -> DueReport:
    """What is due at `at` for every application of the estate, from the recorded runs."""
    estate_doc = estate if estate is not None else load(estate_path, Estate).doc
    notes: list[str] = []
    read: list[_Run] = []
    for record in runs:
        got = _read_run(record, seals or {})
        if isinstance(got, str):
            notes.append(got)
        elif got.performed <= at:  # a run performed after `--at` had not happened yet then
            read.append(got)
    read.sort(key=lambda run: (run.performed, run.record.seq))
    docs = _Documents()
    rows: list[DueRow] = []
    for spec in estate_doc.apps:
        by_scenario: dict[str, list[tuple[_Run, bool]]] = {}
        for run in read:
            passed = _app_passed(run.record, spec.name)
            if passed is not None:
                by_scenario.setdefault(run.scenario, []).append((run, passed))
        scenarios: Iterable[str | None] = sorted(by_scenario) or [None]
        for scenario in scenarios:
            drilled = by_scenario.get(scenario, []) if scenario is not None else []
            rows.append(_row(spec.name, scenario, spec.drill_every, spec.critical, drilled, at, estate_doc, docs))
    return DueReport(at, str(estate_path), str(store), tuple(rows), tuple(notes))


def _row(
    app: str,
    scenario: str | None,
    every: timedelta | None,
    critical: bool,
    drilled: Sequence[tuple[_Run, bool]],
    at: datetime,
    estate_now: Estate,
    docs: _Documents,
) -> DueRow:
    real = [(run, passed) for run, passed in drilled if run.kind is RunKind.EXECUTED]
    simulated = [(run, passed) for run, passed in drilled if run.kind is RunKind.SIMULATION]
    last_real = _ref(real[-1][0], app, real[-1][1]) if real else None
    passed_real = [(run, passed) for run, passed in real if passed and run.status is not RunStatus.ERROR]
    last_passed = passed_real[-1][0] if passed_real else None
    last_passed_ref = None if last_passed is None else _ref(last_passed, app, True)
    last_simulated = _ref(simulated[-1][0], app, simulated[-1][1]) if simulated else None
    changed = () if last_passed is None else _changed(app, last_passed, estate_now, docs)
    if every is None:
        due = None
    elif last_passed is None:
        due = at  # never passed a real drill: due now
    else:
        due = last_passed.performed + every
    if every is not None and due is not None and (last_passed is None or due <= at):
        state = DueState.OVERDUE
    elif changed:
        state = DueState.CHANGED
    elif every is None:
        state = DueState.NOT_SCHEDULED if last_passed is None else DueState.OK
    else:
        state = DueState.OK
    return DueRow(app, scenario, critical, every, last_real, last_passed_ref, last_simulated, due, changed, state)
