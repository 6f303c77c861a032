"""The auditor's packet for a period (`drsim coverage`): which applications were drilled in which
scenario by which mechanism, for real or in simulation, how they did against their objectives, the
findings and participants of the period, and a checklist per framework naming the run or finding
that provides each expected artifact.

Every cell comes from the runs the history store lists and their own run directories (result.json,
journal.jsonl, inputs/); nothing is typed in. Only executed recoveries count as operating evidence
(docs/compliance.md): a simulation is listed as design evidence, a run against drsim's emulator as
neither, and a run whose evidence no longer verifies does not count at all.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from drsim.errors import DrsimError, UsageError
from drsim.measure.result import AppMeasures, RunStatus
from drsim.model import Estate, Runbook, load
from drsim.model.types import Action, IncidentKind
from drsim.program.runs import performed_at
from drsim.report.evidence import RecordedSeal, journal_lines
from drsim.report.sealing import verify_run
from drsim.report.view import RunKind, run_kind
from drsim.store.history import RunRecord

FORMAT = "drsim-coverage/1"
MECHANISMS = {
    Action.BACKUP_RESTORE: "Azure Backup",
    Action.ASR_TEST_FAILOVER: "Site Recovery",
    Action.SNAPSHOT_CLONE: "disk snapshots",
    Action.IMAGE_DEPLOY: "images",
}
SCENARIOS = tuple(kind.value for kind in IncidentKind)


# ------------------------------------------------------------------------------------------- period


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime  # inclusive
    end: datetime  # exclusive

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from None


def parse_period(text: str, option: str = "--period") -> Period:
    """`2026-Q4`, `2026` or `FROM..TO` (dates, both days included)."""
    value = text.strip()
    quarter = re.fullmatch(r"(\d{4})-[Qq]([1-4])", value)
    if quarter:
        year, q = int(quarter.group(1)), int(quarter.group(2))
        start = date(year, 3 * q - 2, 1)
        end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
        return Period(f"{year}-Q{q}", _midnight(start), _midnight(end))
    if re.fullmatch(r"\d{4}", value):
        year = int(value)
        return Period(value, _midnight(date(year, 1, 1)), _midnight(date(year + 1, 1, 1)))
    if ".." in value:
        first, _, last = value.partition("..")
        start, end = _day(first, option), _day(last, option)
        if end < start:
            raise UsageError(f"{option}: {text!r} ends before it starts")
        return Period(f"{start.isoformat()}..{end.isoformat()}", _midnight(start), _midnight(end + timedelta(days=1)))
    raise UsageError(f"{option}: {text!r} is not a period: give a quarter (2026-Q4), a year (2026) or FROM..TO (2026-10-01..2026-12-31)")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class Participant:
    name: str
    role: str | None
    acted: str  # what they did: "declared (step declare)", "approved (step go)", "attested: passed"


@dataclass(frozen=True)
class CoveredApp:
    measures: AppMeasures
    mechanisms: tuple[str, ...]
    checked: bool  # a data-integrity check (check.canary) ran on the app's VMs and succeeded


@dataclass(frozen=True)
class CoveredRun:
    ref: str  # R1, R2... in the order performed
    drill: str
    run_id: str
    run_dir: Path
    kind: RunKind
    status: RunStatus
    performed: datetime
    scenario: str
    isolated: bool  # recovered into a network.isolate network (separated from production)
    apps: tuple[CoveredApp, ...]
    participants: tuple[Participant, ...]
    findings: tuple[Mapping[str, Any], ...]  # result.json's findings, when the run has them
    verified: bool
    evidence: str  # "verified", or the first problem `drsim evidence verify` finds

    @property
    def counts(self) -> bool:
        """Operating evidence: an executed recovery whose evidence verifies."""
        return self.kind is RunKind.EXECUTED and self.verified

    def app(self, name: str) -> CoveredApp | None:
        return next((a for a in self.apps if a.measures.app == name), None)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _journal(directory: Path) -> list[dict[str, Any]]:
    """The journal's events as plain objects (the chain is checked by verify_run)."""
    try:
        raw = (directory / "journal.jsonl").read_bytes()
    except OSError:
        return []
    events = []
    for line in journal_lines(raw):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _participants(events: Iterable[Mapping[str, Any]]) -> tuple[Participant, ...]:
    """Who acted in the run, from the journal: people who declared or approved a step (human.acted)
    and people who attested the run (run.attested)."""
    found = []
    for event in events:
        if event.get("event") == "human.acted" and isinstance(event.get("by"), str):
            verb = "declared" if event.get("action") == Action.MANUAL_DECLARE.value else "approved"
            found.append(Participant(str(event["by"]), _text(event.get("role")), f"{verb} (step {event.get('step')})"))
        elif event.get("event") == "run.attested" and isinstance(event.get("by"), str):
            found.append(Participant(str(event["by"]), _text(event.get("role")), f"attested: {event.get('verdict')}"))
    return tuple(found)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _apps_of_vms(estate: Estate | None) -> dict[str, str]:
    if estate is None:
        return {}
    owner: dict[str, str] = {}
    for spec in estate.apps:
        for vm in estate.select(spec.vms):
            owner.setdefault(vm.name, spec.name)
    return owner


def _load_quietly(path: Path, kind: type[Any]) -> Any:
    try:
        return load(path, kind).doc
    except DrsimError:
        return None


def read_covered(record: RunRecord, ref: str, performed: datetime, seal: RecordedSeal | None) -> CoveredRun | str:
    """A recorded run as the packet shows it, or why it cannot be read."""
    assert record.run_dir is not None
    directory = Path(record.run_dir)
    try:
        result = _read_json(directory / "result.json")
    except (OSError, ValueError) as exc:
        return f"run {record.drill} {record.run_id}: {directory / 'result.json'}: cannot read it ({exc}): not counted"
    runbook = _load_quietly(directory / "inputs" / "runbook.yaml", Runbook)
    estate = _load_quietly(directory / "inputs" / "estate.yaml", Estate)
    owner = _apps_of_vms(estate)
    mechanisms: dict[str, set[str]] = {}
    checked: dict[str, bool] = {}
    for task in result.get("tasks", []):
        app = owner.get(str(task.get("vm")))
        if app is None:
            continue
        try:
            action = Action(str(task.get("action")))
        except ValueError:
            continue
        if action in MECHANISMS:
            mechanisms.setdefault(app, set()).add(MECHANISMS[action])
        if action is Action.CHECK_CANARY:
            checked[app] = checked.get(app, True) and task.get("status") == "succeeded"
    apps = []
    for data in result.get("apps", []):
        measures = AppMeasures.model_validate({name: data.get(name) for name in AppMeasures.names()})
        apps.append(CoveredApp(measures, tuple(sorted(mechanisms.get(measures.app, ()))), checked.get(measures.app, False)))
    scenario = runbook.scenario.incident.value if runbook is not None else "unknown"
    isolated = runbook is not None and any(step.action == Action.NETWORK_ISOLATE.value for step in runbook.steps)
    kind = run_kind(str(result.get("provider", record.provider)), result.get("emulated") is True)
    found = verify_run(directory, signature_check=False, recorded=seal)
    evidence = "verified" if found.intact else found.problems[0]
    findings = tuple(f for f in result.get("findings", []) if isinstance(f, dict))
    return CoveredRun(
        ref,
        record.drill,
        record.run_id,
        directory,
        kind,
        RunStatus(str(result.get("status"))),
        performed,
        scenario,
        isolated,
        tuple(apps),
        _participants(_journal(directory)),
        findings,
        found.intact,
        evidence,
    )


# ------------------------------------------------------------------------------------------- matrix


def app_passed(run: CoveredRun, app: str) -> bool:
    covered = run.app(app)
    if covered is None or run.status is RunStatus.ERROR:
        return False
    return covered.measures.passed()


@dataclass(frozen=True)
class Cell:
    """One application, scenario and mechanism: its drills of the period, newest last."""

    real: tuple[tuple[str, bool], ...]  # (run ref, passed) of executed recoveries that verify
    simulated: tuple[tuple[str, bool], ...]

    @property
    def state(self) -> str:
        if self.real:
            return "real, passed" if self.real[-1][1] else "real, failed"
        if self.simulated:
            return "simulated only, passed" if self.simulated[-1][1] else "simulated only, failed"
        return "not drilled"

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "real": [{"run": ref, "passed": ok} for ref, ok in self.real],
            "simulated": [{"run": ref, "passed": ok} for ref, ok in self.simulated],
        }


@dataclass(frozen=True)
class MatrixRow:
    app: str
    critical: bool
    mechanism: str  # "-" when the app was not recovered by any mechanism in the period
    cells: Mapping[str, Cell]  # per scenario (SCENARIOS, and "unknown" when a runbook could not be read)


def _matrix(apps: Sequence[tuple[str, bool]], runs: Sequence[CoveredRun]) -> list[MatrixRow]:
    rows = []
    for app, critical in apps:
        mechanisms = sorted({m for run in runs if (c := run.app(app)) is not None for m in c.mechanisms}) or ["-"]
        for mechanism in mechanisms:
            cells = {}
            for scenario in _scenarios(runs):
                hits = [
                    run
                    for run in runs
                    if run.scenario == scenario and (c := run.app(app)) is not None and (mechanism in c.mechanisms or mechanism == "-")
                ]
                real = tuple((r.ref, app_passed(r, app)) for r in hits if r.counts)
                simulated = tuple((r.ref, app_passed(r, app)) for r in hits if r.kind is RunKind.SIMULATION)
                cells[scenario] = Cell(real, simulated)
            rows.append(MatrixRow(app, critical, mechanism, cells))
    return rows


def _scenarios(runs: Sequence[CoveredRun]) -> list[str]:
    extra = sorted({run.scenario for run in runs} - set(SCENARIOS))
    return [*SCENARIOS, *extra]


# ---------------------------------------------------------------------------------------- checklist

PRESENT, PARTIAL, MISSING = "present", "partial", "missing"
SEVERE = frozenset({IncidentKind.REGION_OUTAGE.value, IncidentKind.RANSOMWARE.value, IncidentKind.DATA_CORRUPTION.value})


@dataclass(frozen=True)
class Artifact:
    status: str  # present | partial | missing
    provided_by: tuple[str, ...]  # run refs (R1) and finding ids
    note: str


@dataclass(frozen=True)
class Evidence:
    """What the checklist is judged on: the period's runs and findings, and the estate's applications."""

    runs: tuple[CoveredRun, ...]
    apps: tuple[tuple[str, bool], ...]  # (name, critical)
    findings: tuple[Mapping[str, Any], ...]  # with "run" (ref) and "id"; "owner", "due", "closed" where the store has them

    @property
    def real(self) -> tuple[CoveredRun, ...]:
        return tuple(run for run in self.runs if run.counts)

    def simulated_note(self, wanted: Iterable[CoveredRun]) -> str:
        refs = [run.ref for run in wanted if run.kind is RunKind.SIMULATION]
        return f"; design evidence only (simulated): {', '.join(refs)}" if refs else ""


def _share(wanted: Sequence[str], have: Iterable[str]) -> str:
    got = set(have)
    if wanted and all(w in got for w in wanted):
        return PRESENT
    return PARTIAL if got & set(wanted) else MISSING


def _refs(runs: Iterable[CoveredRun]) -> tuple[str, ...]:
    return tuple(run.ref for run in runs)


def _each_app_drilled(ev: Evidence) -> Artifact:
    wanted = [name for name, critical in ev.apps if critical] or [name for name, _ in ev.apps]
    drilled = {a.measures.app for run in ev.real for a in run.apps}
    missing = [name for name in wanted if name not in drilled]
    who = "critical application" if any(critical for _, critical in ev.apps) else "application"
    note = f"every {who} recovered for real in the period" if not missing else f"no real drill of: {', '.join(missing)}"
    providers = [run for run in ev.real if any(a.measures.app in wanted for a in run.apps)]
    return Artifact(_share(wanted, drilled), _refs(providers), note + ev.simulated_note(ev.runs))


def _objectives(ev: Evidence) -> Artifact:
    measured = [run for run in ev.real if run.apps and all(a.measures.rto_objective_s is not None for a in run.apps)]
    if not ev.real:
        return Artifact(MISSING, (), "no real drill measured RTO and RPO against objectives" + ev.simulated_note(ev.runs))
    status = PRESENT if len(measured) == len(ev.real) else PARTIAL
    return Artifact(status, _refs(measured), "RTO and RPO measured against the runbook's objectives, per application")


def _records(ev: Evidence) -> Artifact:
    executed = [run for run in ev.runs if run.kind is RunKind.EXECUTED]
    if not executed:
        return Artifact(MISSING, (), "no record of a real drill")
    broken = [run for run in executed if not run.verified]
    note = "hash-chained journal and sealed manifest verified for each real drill"
    if broken:
        note = "evidence does not verify: " + "; ".join(f"{run.ref}: {run.evidence}" for run in broken)
    return Artifact(PRESENT if not broken else PARTIAL if len(broken) < len(executed) else MISSING, _refs(ev.real), note)


def _mechanism_tested(mechanism: str, what: str) -> Any:
    def judge(ev: Evidence) -> Artifact:
        used = [run for run in ev.real if any(mechanism in a.mechanisms for a in run.apps)]
        checked = [run for run in used if all(a.checked for a in run.apps if mechanism in a.mechanisms)]
        sims = [run for run in ev.runs if any(mechanism in a.mechanisms for a in run.apps)]
        if not used:
            return Artifact(MISSING, (), f"no real {what}" + ev.simulated_note(sims))
        if not checked:
            return Artifact(PARTIAL, _refs(used), f"{what} without a data-integrity check of what was restored")
        return Artifact(PRESENT, _refs(checked), f"{what}, restored data checked")

    return judge


def _alternate_region(ev: Evidence) -> Artifact:
    failovers = [
        run for run in ev.real if run.scenario == IncidentKind.REGION_OUTAGE.value or any("Site Recovery" in a.mechanisms for a in run.apps)
    ]
    sims = [run for run in ev.runs if run.scenario == IncidentKind.REGION_OUTAGE.value]
    if not failovers:
        return Artifact(MISSING, (), "no real recovery into the recovery region" + ev.simulated_note(sims))
    passed = [run for run in failovers if all(app_passed(run, a.measures.app) for a in run.apps)]
    if passed:
        return Artifact(PRESENT, _refs(passed), "recovered into the recovery region within objectives")
    return Artifact(PARTIAL, _refs(failovers), "recovered into the recovery region, but an objective was missed")


def _integrity(ev: Evidence) -> Artifact:
    if not ev.real:
        return Artifact(MISSING, (), "no real drill" + ev.simulated_note(ev.runs))
    checked = [run for run in ev.real if run.apps and all(a.checked for a in run.apps)]
    status = PRESENT if len(checked) == len(ev.real) else PARTIAL if checked else MISSING
    return Artifact(
        status, _refs(checked), "data integrity (canary) checked after recovery in " + f"{len(checked)} of {len(ev.real)} real drills"
    )


def _isolation(ev: Evidence) -> Artifact:
    if not ev.real:
        return Artifact(MISSING, (), "no real drill" + ev.simulated_note(ev.runs))
    isolated = [run for run in ev.real if run.isolated]
    status = PRESENT if len(isolated) == len(ev.real) else PARTIAL if isolated else MISSING
    return Artifact(
        status, _refs(isolated), f"restored onto an isolated network, separate from production, in {len(isolated)} of {len(ev.real)}"
    )


def _severe(ev: Evidence) -> Artifact:
    scenarios = sorted({run.scenario for run in ev.real if run.scenario in SEVERE})
    providers = [run for run in ev.real if run.scenario in SEVERE]
    sims = [run for run in ev.runs if run.scenario in SEVERE]
    if not scenarios:
        return Artifact(
            MISSING, (), "no real drill of a severe scenario (region outage, ransomware, data corruption)" + ev.simulated_note(sims)
        )
    status = PRESENT if len(scenarios) >= 2 else PARTIAL
    return Artifact(status, _refs(providers), f"severe scenarios drilled for real: {', '.join(scenarios)}")


def _participants_recorded(ev: Evidence) -> Artifact:
    if not ev.real:
        return Artifact(MISSING, (), "no real drill")
    with_people = [run for run in ev.real if run.participants]
    status = PRESENT if len(with_people) == len(ev.real) else PARTIAL if with_people else MISSING
    return Artifact(
        status, _refs(with_people), f"participants recorded (declarations, approvals, attestations) in {len(with_people)} of {len(ev.real)}"
    )


def _real_findings(ev: Evidence) -> list[Mapping[str, Any]]:
    real = set(_refs(ev.real))
    return [f for f in ev.findings if f.get("run") in real]


def _observations(ev: Evidence) -> Artifact:
    if not ev.real:
        return Artifact(MISSING, (), "no real drill")
    failed = [run for run in ev.real if run.status is not RunStatus.PASSED]
    found = _real_findings(ev)
    unexplained = [run for run in failed if not any(f.get("run") == run.ref for f in found)]
    if unexplained:
        return Artifact(
            PARTIAL, tuple(str(f["id"]) for f in found), "failed real drills without findings: " + ", ".join(_refs(unexplained))
        )
    note = "each deficiency a finding with its reason" if found else "no deficiency found in the real drills"
    return Artifact(PRESENT, tuple(str(f["id"]) for f in found) or _refs(ev.real), note)


def _action_items(ev: Evidence) -> Artifact:
    found = _real_findings(ev)
    if not ev.real:
        return Artifact(MISSING, (), "no real drill")
    if not found:
        return Artifact(PRESENT, _refs(ev.real), "no finding to act on")
    owned = [f for f in found if f.get("owner") and f.get("due")]
    status = PRESENT if len(owned) == len(found) else PARTIAL if owned else MISSING
    return Artifact(status, tuple(str(f["id"]) for f in owned), f"{len(owned)} of {len(found)} findings assigned an owner and a due date")


def _lessons(ev: Evidence) -> Artifact:
    found = _real_findings(ev)
    if not ev.real:
        return Artifact(MISSING, (), "no real drill")
    if not found:
        return Artifact(PRESENT, _refs(ev.real), "no finding to close")
    done = [f for f in found if f.get("closed") or f.get("reverified")]
    status = PRESENT if len(done) == len(found) else PARTIAL if done else MISSING
    return Artifact(status, tuple(str(f["id"]) for f in done), f"{len(done)} of {len(found)} findings closed or re-verified")


def _attested(ev: Evidence) -> Artifact:
    if not ev.real:
        return Artifact(MISSING, (), "no real drill")
    signed = [run for run in ev.real if any(p.acted.startswith("attested") for p in run.participants)]
    status = PRESENT if len(signed) == len(ev.real) else PARTIAL if signed else MISSING
    return Artifact(status, _refs(signed), f"{len(signed)} of {len(ev.real)} real drills attested by a named person")


def _tested_in_period(ev: Evidence) -> Artifact:
    if not ev.real:
        return Artifact(MISSING, (), "no real drill in the period" + ev.simulated_note(ev.runs))
    return Artifact(PRESENT, _refs(ev.real), f"{len(ev.real)} real drill(s) in the period")


ARTIFACTS = {
    "tested": ("Recovery tested for real in the period", _tested_in_period),
    "each-app": ("Each (critical) application recovered for real", _each_app_drilled),
    "objectives": ("Readiness measured against RTO/RPO objectives", _objectives),
    "records": ("Drill records intact (sealed, verified)", _records),
    "backup-restore": ("Backups restored and the data checked", _mechanism_tested("Azure Backup", "backup restore")),
    "alternate-region": ("Failover to the recovery region", _alternate_region),
    "integrity": ("Integrity checks after recovery", _integrity),
    "isolation": ("Restored onto separated systems", _isolation),
    "severe": ("Severe but plausible scenarios", _severe),
    "participants": ("Participants recorded", _participants_recorded),
    "observations": ("Observations and deficiencies analysed", _observations),
    "action-items": ("Action items with owners and due dates", _action_items),
    "lessons": ("Plan updated from lessons learned (findings closed)", _lessons),
    "sign-off": ("Results signed off", _attested),
}

FRAMEWORKS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    # (framework, clause, what it asks, paraphrased, artifacts)
    (
        "ISO/IEC 27001:2022",
        "A.5.30",
        "ICT readiness tested against the continuity objectives",
        ("each-app", "objectives", "records", "observations"),
    ),
    ("ISO/IEC 27001:2022", "A.8.13", "backups tested regularly", ("backup-restore", "integrity", "records")),
    ("ISO/IEC 27001:2022", "A.8.14", "redundant facilities meet availability requirements", ("alternate-region", "objectives")),
    ("SOC 2", "A1.3", "recovery plan procedures tested periodically", ("tested", "each-app", "records", "lessons")),
    (
        "NIST SP 800-53 / SP 800-84",
        "CP-4",
        "contingency plan tested; after-action report: scope, objectives, participants, observations, recommendations, action items",
        ("tested", "objectives", "participants", "observations", "action-items", "sign-off"),
    ),
    (
        "DORA RTS 2024/1774",
        "Art. 25",
        "severe but plausible scenarios, restore onto separated systems, integrity checks, deficiencies analysed and fixed",
        ("severe", "isolation", "integrity", "observations", "lessons"),
    ),
    ("PCI DSS v4.0", "12.10.2", "incident response plan tested at least once every 12 months and updated", ("tested", "lessons")),
    ("HIPAA", "164.308(a)(7)(ii)(D)", "testing and revision of contingency plans", ("tested", "lessons")),
)


@dataclass(frozen=True)
class ChecklistLine:
    framework: str
    clause: str
    asks: str
    artifact: str
    title: str
    found: Artifact

    def to_json(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "clause": self.clause,
            "asks": self.asks,
            "artifact": self.artifact,
            "title": self.title,
            "status": self.found.status,
            "provided_by": list(self.found.provided_by),
            "note": self.found.note,
        }


def checklist(ev: Evidence) -> list[ChecklistLine]:
    judged = {key: judge(ev) for key, (_, judge) in ARTIFACTS.items()}
    return [
        ChecklistLine(framework, clause, asks, key, ARTIFACTS[key][0], judged[key])
        for framework, clause, asks, keys in FRAMEWORKS
        for key in keys
    ]


# ------------------------------------------------------------------------------------------- packet


@dataclass(frozen=True)
class Coverage:
    period: Period
    store: str
    estate: str | None
    runs: tuple[CoveredRun, ...]
    apps: tuple[tuple[str, bool], ...]
    matrix: tuple[MatrixRow, ...]
    findings: tuple[Mapping[str, Any], ...]
    checklist: tuple[ChecklistLine, ...]
    notes: tuple[str, ...] = field(default=())

    def link(self, run: CoveredRun, out_dir: Path) -> str:
        """Where the run's report is, relative to the packet (forward slashes, for md and html links)."""
        target = run.run_dir / "report.html"
        if not target.exists():
            target = run.run_dir
        return Path(os.path.relpath(target.resolve(), out_dir.resolve())).as_posix()

    def to_json(self, out_dir: Path) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "period": {"label": self.period.label, "from": _utc(self.period.start), "to": _utc(self.period.end)},
            "store": self.store,
            "estate": self.estate,
            "runs": [
                {
                    "ref": run.ref,
                    "drill": run.drill,
                    "run_id": run.run_id,
                    "report": self.link(run, out_dir),
                    "kind": run.kind.value,
                    "counts_as_operating_evidence": run.counts,
                    "status": run.status.value,
                    "performed": _utc(run.performed),
                    "scenario": run.scenario,
                    "evidence": run.evidence,
                    "apps": [
                        {**a.measures.model_dump(mode="json"), "mechanisms": list(a.mechanisms), "integrity_checked": a.checked}
                        for a in run.apps
                    ],
                    "participants": [{"name": p.name, "role": p.role, "acted": p.acted} for p in run.participants],
                }
                for run in self.runs
            ],
            "scenarios": _scenarios(self.runs),
            "matrix": [
                {
                    "app": row.app,
                    "critical": row.critical,
                    "mechanism": row.mechanism,
                    "scenarios": {scenario: cell.to_json() for scenario, cell in row.cells.items()},
                }
                for row in self.matrix
            ],
            "findings": [dict(f) for f in self.findings],
            "checklist": [line.to_json() for line in self.checklist],
            "notes": list(self.notes),
        }


def build_coverage(
    period: Period,
    records: Sequence[RunRecord],
    *,
    store: str,
    seals: Mapping[str, RecordedSeal],
    estate: Estate | None = None,
    estate_path: str | None = None,
    store_findings: Mapping[str, Mapping[str, Any]] | None = None,
    run_findings: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Coverage:
    """The packet's content from the store's runs performed in the period (`seals`: the store's record
    of each run directory's seal; `store_findings`: the store's state of each finding by id;
    `run_findings`: the findings the store recorded for each run, by its resolved run directory, for
    runs whose result.json lists none: drsim.program.runs.recorded_findings)."""
    notes: list[str] = []
    dated: list[tuple[datetime, RunRecord]] = []
    for record in records:
        if record.run_dir is None:
            notes.append(f"run {record.drill} {record.run_id}: recorded without a run directory: not counted")
            continue
        performed = performed_at(Path(record.run_dir))
        if performed is None:
            notes.append(f"run {record.drill} {record.run_id}: {record.run_dir}: no record of when it was performed: not counted")
        elif period.holds(performed):
            dated.append((performed, record))
    dated.sort(key=lambda pair: (pair[0], pair[1].seq))
    runs: list[CoveredRun] = []
    for number, (performed, record) in enumerate(dated, start=1):
        got = read_covered(record, f"R{number}", performed, seals.get(str(Path(str(record.run_dir)).resolve())))
        if isinstance(got, str):
            notes.append(got)
        else:
            runs.append(got)
    if estate is not None:
        apps = tuple((spec.name, spec.critical) for spec in estate.apps)
    else:
        apps = tuple((name, False) for name in sorted({a.measures.app for run in runs for a in run.apps}))
    findings = []
    for run in runs:
        listed = run.findings or tuple((run_findings or {}).get(str(Path(run.run_dir).resolve()), ()))
        for finding in listed:
            state = (store_findings or {}).get(str(finding.get("id")), {})
            findings.append({**finding, **state, "run": run.ref, "simulated": run.kind is RunKind.SIMULATION})
    evidence = Evidence(tuple(runs), apps, tuple(findings))
    return Coverage(
        period,
        store,
        estate_path,
        tuple(runs),
        apps,
        tuple(_matrix(apps, runs)),
        tuple(findings),
        tuple(checklist(evidence)),
        tuple(notes),
    )
