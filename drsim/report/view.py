"""What a report shows, computed once from a recorded run: the templates only lay it out.

The measures themselves (RTO and its split, RPO, verdicts) are the engine's, read from result.json
and the journal's app.measured events; this module selects, groups and words them. Large drills stay
readable: beyond GROUP_ABOVE tasks, tables and the timeline group by step, and per-VM tables show a
summary per application plus the rows that need attention.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from drsim import __version__
from drsim.measure.critical import MeasuredPath
from drsim.measure.events import (
    CheckResult,
    HumanActed,
    HumanWaiting,
    InputFile,
    Performed,
    RunPerformed,
    TaskFailed,
    TaskFinished,
    TaskSkipped,
    iso,
)
from drsim.measure.findings import Finding, Severity, torn_volume
from drsim.measure.result import AppResult, RunKind, RunStatus, TaskStatus, run_kind
from drsim.measure.twin import Held, hold, operation_seconds, step_spans
from drsim.model.types import Action
from drsim.records import quick_init
from drsim.report.controls import Control, EvidenceKind, select_controls
from drsim.report.recorded import RecordedRun, TaskKey, parse_time
from drsim.report.text import plural, usd, utc, verdict
from drsim.times import duration


class PastRun(Protocol):
    """An earlier run of the same series, as the history store records it (drsim.store.RunRecord)."""

    @property
    def seq(self) -> int: ...
    @property
    def run_id(self) -> str: ...
    @property
    def drill(self) -> str: ...
    @property
    def incident_at(self) -> str: ...
    @property
    def status(self) -> RunStatus: ...
    @property
    def worst_rto_s(self) -> float | None: ...
    @property
    def worst_rpo_s(self) -> float | None: ...
    @property
    def leftovers(self) -> int: ...
    @property
    def kind(self) -> RunKind | None: ...


GROUP_ABOVE = 300
"""Above this many tasks, the timeline and the tables show one row per step."""
ATTENTION_ROWS = 50
"""In grouped tables, at most this many individual rows that need attention (missed, inconsistent, failed)."""


def _seconds(delta: timedelta) -> float:
    return delta / timedelta(seconds=1)


# ------------------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class ObjectiveVerdict:
    app: str
    measure: str  # "RTO" | "RPO"
    objective_s: float | None
    measured_s: float | None
    met: bool | None

    @property
    def margin_s(self) -> float | None:
        if self.objective_s is None or self.measured_s is None:
            return None
        return self.objective_s - self.measured_s

    @property
    def shortfall(self) -> str | None:
        """Why a missed objective was missed, in words."""
        if self.met is not False:
            return None
        if self.measured_s is None:
            return "never recovered" if self.measure == "RTO" else "no data loss could be measured"
        if self.margin_s is not None and self.margin_s >= 0:
            return "in time, but the recovered data is inconsistent or corrupted"
        return f"over by {duration(-(self.margin_s or 0.0))}"


@dataclass(frozen=True)
class AppView:
    result: AppResult
    trigger_at: datetime | None
    infra_ready_at: datetime | None
    healthy_at: datetime | None
    rto_from_trigger_s: float | None
    human_wait_s: float | None  # the engine's split of the RTO (app.measured)
    infrastructure_s: float | None
    validation_s: float | None

    @property
    def name(self) -> str:
        return self.result.app


@quick_init  # one a task, VM or recovery point: tens of thousands in a large drill
@dataclass(frozen=True)
class TaskRow:
    step: str
    action: str
    vm: str | None
    status: TaskStatus
    start: datetime | None
    end: datetime | None
    attempts: int
    critical: bool  # on a measured critical path: it held up an application
    planned_critical: bool = False  # on the plan's critical path (an estimate made before the run)

    @property
    def duration_s(self) -> float | None:
        return _seconds(self.end - self.start) if self.start and self.end else None


@dataclass(frozen=True)
class StepGroup:
    """Every task of one step, summarised."""

    step: str
    action: str
    count: int
    succeeded: int
    failed: int
    skipped: int
    start: datetime | None
    end: datetime | None
    median_s: float | None
    max_s: float | None
    retried: int
    critical: bool  # a task of the step is on a measured critical path
    planned_critical: bool = False  # a task of the step is on the plan's critical path (an estimate)


@quick_init  # one a task, VM or recovery point: tens of thousands in a large drill
@dataclass(frozen=True)
class VmRpo:
    vm: str
    app: str | None
    measured_s: float | None
    claimed_s: float | None
    consistent: bool | None
    corrupted: bool | None
    passed: bool

    @property
    def gap_s(self) -> float | None:
        """Data lost beyond what the recovery point's time claims (the canary tells the truth)."""
        if self.measured_s is None or self.claimed_s is None:
            return None
        return self.measured_s - self.claimed_s


@dataclass(frozen=True)
class RpoSummary:
    """Per application, over its VMs: the spread of measured and claimed RPO."""

    app: str
    vms: int
    measured_median_s: float | None
    measured_max_s: float | None
    claimed_median_s: float | None
    claimed_max_s: float | None
    failed: int


@quick_init  # one a task, VM or recovery point: tens of thousands in a large drill
@dataclass(frozen=True)
class PointRow:
    step: str
    vm: str | None
    id: str
    time: datetime
    age_s: float  # incident - point time: the RPO the point claims
    type: str
    tier: str | None
    region: str


@dataclass(frozen=True)
class PointGroup:
    type: str
    tier: str | None
    region: str
    count: int
    oldest: datetime
    newest: datetime


@dataclass(frozen=True)
class ConsistencyRow:
    vm: str
    app: str | None
    volume: str | None
    detail: str


@quick_init  # one a task, VM or recovery point: tens of thousands in a large drill
@dataclass(frozen=True)
class FailureRow:
    step: str
    vm: str | None
    attempt: int
    error: str
    at: datetime
    final: bool
    retried_ok: bool


@dataclass(frozen=True)
class SkippedRow:
    step: str
    vm: str | None
    reason: str


@dataclass(frozen=True)
class LeftoverRow:
    id: str
    kind: str
    name: str
    region: str
    cost_per_day: float


@dataclass(frozen=True)
class CostLine:
    kind: str
    count: int
    resource_hours: float
    cost_usd: float | None


@dataclass(frozen=True)
class CostView:
    lines: tuple[CostLine, ...]
    total_usd: float | None  # None when the journal carries no prices
    leftover_cost_per_day: float


@dataclass(frozen=True)
class EnvironmentView:
    run_id: str
    drsim_version: str | None
    renderer_version: str
    provider: str
    seed: int
    catalog_version: str | None
    estate: str | None
    plan: str | None
    concurrency: int | None
    cleanup_policy: str | None
    detected_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    journal_events: int
    journal_head: str
    journal_intact: bool
    journal_break: str | None
    journal_torn: bool  # a last line cut short (a killed run) was ignored
    result_sha256: str
    forced_reseals: tuple[str, ...]  # each `drsim evidence seal --force`: when, who, and what had changed
    resigned: tuple[str, ...]  # each signature replaced with --re-sign: when, who, the old key and the new
    plan_tasks: int | None
    critical_path_tasks: int | None
    critical_path_s: float | None
    lower_bound_s: float | None
    kind: RunKind  # what the run evidences
    performed: Performed | None = None  # wall clock: when, where and by whom the run was performed
    performed_ended: datetime | None = None
    inputs: tuple[InputFile, ...] = ()  # the documents as run, copied into inputs/ with their SHA-256


@dataclass(frozen=True)
class ControlView:
    control: Control
    evidence: tuple[tuple[EvidenceKind, str], ...]


@dataclass(frozen=True)
class TrendRow:
    run_id: str
    drill: str
    incident_at: str
    status: RunStatus
    worst_rto_s: float | None
    worst_rpo_s: float | None
    leftovers: int
    current: bool
    kind: RunKind | None = None  # None: an Azure run recorded without saying whether it was emulated

    @property
    def kind_label(self) -> str:
        return self.kind.label if self.kind is not None else "unknown"


@dataclass(frozen=True)
class TrendView:
    available: bool  # a history store was given
    rows: tuple[TrendRow, ...]
    rto_objective_s: float | None
    rpo_objective_s: float | None


@dataclass(frozen=True)
class ApprovalRow:
    """A manual step a person answered (human.acted)."""

    step: str
    action: str
    by: str
    role: str | None
    at: datetime
    waited_s: float
    via: str
    note: str | None


@dataclass(frozen=True)
class UnansweredRow:
    """A manual step that waited for a person who did not come (its wait ended otherwise)."""

    step: str
    action: str
    since: datetime
    outcome: str


@dataclass(frozen=True)
class AttestationRow:
    """A person's verdict on the run (run.attested)."""

    by: str
    role: str
    verdict: str
    at: datetime
    note: str | None
    result_sha256: str
    journal_head: str
    user: str
    host: str


@dataclass(frozen=True)
class SignOffView:
    """Who took part and who signed: every row comes from the journal (human.acted, run.attested)."""

    people_asked: bool  # the run waited for people (real time); else its manual steps took their configured durations
    expected: tuple[tuple[str, str], ...]  # the drill's participants list (name, role), as its waits journaled it
    participants: tuple[tuple[str, str | None, tuple[str, ...]], ...]  # who acted: name, role, the steps
    approvals: tuple[ApprovalRow, ...]
    unanswered: tuple[UnansweredRow, ...]
    attestations: tuple[AttestationRow, ...]


@dataclass(frozen=True)
class PredictionView:
    """The twin's prediction beside what the run measured: RTO per application, each step's span, and
    the median operation per kind, each flagged when outside the predicted p5-p95."""

    trials: int
    seed: int
    catalog_version: str
    apps: tuple[Held, ...]
    steps: tuple[Held, ...]
    operations: tuple[Held, ...]

    @property
    def flagged(self) -> int:
        return sum(1 for row in (*self.apps, *self.steps, *self.operations) if row.outside)


def _prediction(run: RecordedRun) -> PredictionView | None:
    made = run.prediction
    if made is None:
        return None
    rto = {a.app: a.rto_s for a in run.result.apps}
    return PredictionView(
        made.trials,
        made.seed,
        made.catalog_version,
        hold(made.apps, rto),
        hold(made.steps, step_spans(run.events)),
        hold(made.operations, operation_seconds(run.events), pooled=True),
    )


@dataclass(frozen=True)
class ReportView:
    """Everything both report formats show, in display order."""

    drill: str
    runbook: str
    run_id: str
    status: RunStatus
    incident_at: datetime
    grouped: bool
    objectives: tuple[ObjectiveVerdict, ...]
    apps: tuple[AppView, ...]
    tasks: tuple[TaskRow, ...]
    steps: tuple[StepGroup, ...]
    failures: tuple[FailureRow, ...]
    failures_hidden: int
    skipped: tuple[SkippedRow, ...]
    skipped_hidden: int
    aborted: str | None
    vm_rpo: tuple[VmRpo, ...]
    vm_rpo_hidden: int  # rows left out of a grouped table
    rpo_summary: tuple[RpoSummary, ...]
    points: tuple[PointRow, ...]
    point_groups: tuple[PointGroup, ...]
    consistency: tuple[ConsistencyRow, ...]
    consistency_hidden: int
    volumes_checked: int
    vms_checked: int
    checks_failed: int
    cleanup_status: str
    resources_created: int
    resources_deleted: int
    failover_cleanup_errors: tuple[str, ...]
    leftovers: tuple[LeftoverRow, ...]
    cost: CostView
    environment: EnvironmentView
    controls: tuple[ControlView, ...]
    unknown_controls: tuple[str, ...]
    controls_defaulted: bool
    controls_recorded: bool  # the run says which controls the drill selects (else every control is shown)
    trend: TrendView
    cleanup_done_at: datetime | None
    signoff: SignOffView = SignOffView(False, (), (), (), (), ())
    findings: tuple[Finding, ...] = ()  # derived from the journal (drsim.measure.findings); grouped: the first ATTENTION_ROWS
    findings_total: int = 0
    critical_paths: tuple[MeasuredPath, ...] = ()  # what held up each application, measured
    prediction: PredictionView | None = None

    @property
    def missed(self) -> tuple[ObjectiveVerdict, ...]:
        return tuple(o for o in self.objectives if o.met is False)

    @property
    def consistency_findings(self) -> int:
        return len(self.consistency) + self.consistency_hidden


# ---------------------------------------------------------------------------------------- building


def _time(text: str | None) -> datetime | None:
    return parse_time(text) if text is not None else None


def _task_rows(run: RecordedRun, paths: Sequence[MeasuredPath]) -> tuple[TaskRow, ...]:
    planned: set[TaskKey] = set()
    measured: set[TaskKey] = {(link.step, link.vm) for path in paths for link in path.links}
    if run.plan is not None:
        keys = {t.id: (t.step, t.vm) for t in run.plan.tasks}
        planned = {keys[i] for i in run.plan.critical_path if i in keys}
    return tuple(
        TaskRow(
            t.step,
            t.action,
            t.vm,
            t.status,
            _time(t.started_at),
            _time(t.ended_at),
            t.attempts,
            (t.step, t.vm) in measured,
            (t.step, t.vm) in planned,
        )
        for t in run.result.tasks
    )


def _step_groups(tasks: Sequence[TaskRow]) -> tuple[StepGroup, ...]:
    by_step: dict[str, list[TaskRow]] = {}
    for task in tasks:
        by_step.setdefault(task.step, []).append(task)
    groups = []
    for step, rows in by_step.items():
        durations = [d for d in (r.duration_s for r in rows) if d is not None]
        starts = [r.start for r in rows if r.start]
        ends = [r.end for r in rows if r.end]
        statuses = Counter(r.status for r in rows)
        groups.append(
            StepGroup(
                step=step,
                action=rows[0].action,
                count=len(rows),
                succeeded=statuses[TaskStatus.SUCCEEDED],
                failed=statuses[TaskStatus.FAILED],
                skipped=statuses[TaskStatus.SKIPPED],
                start=min(starts) if starts else None,
                end=max(ends) if ends else None,
                median_s=statistics.median(durations) if durations else None,
                max_s=max(durations) if durations else None,
                retried=sum(1 for r in rows if r.attempts > 1),
                critical=any(r.critical for r in rows),
                planned_critical=any(r.planned_critical for r in rows),
            )
        )
    return tuple(sorted(groups, key=lambda g: (g.start is None, g.start.timestamp() if g.start else 0.0, g.step)))


def _app_views(run: RecordedRun) -> tuple[AppView, ...]:
    views = []
    for app in run.result.apps:
        measured = run.measured.get(app.app)
        healthy, trigger = _time(app.healthy_at), _time(app.trigger_at)
        views.append(
            AppView(
                result=app,
                trigger_at=trigger,
                infra_ready_at=_time(app.infra_ready_at),
                healthy_at=healthy,
                rto_from_trigger_s=_seconds(healthy - trigger) if healthy and trigger else None,
                human_wait_s=measured.human_wait_s if measured else None,
                infrastructure_s=measured.infrastructure_s if measured else None,
                validation_s=measured.validation_s if measured else None,
            )
        )
    return tuple(views)


def _objectives(apps: Sequence[AppResult]) -> tuple[ObjectiveVerdict, ...]:
    verdicts = []
    for app in apps:
        if app.rto_objective_s is not None or app.rto_met is not None:
            verdicts.append(ObjectiveVerdict(app.app, "RTO", app.rto_objective_s, app.rto_s, app.rto_met))
        if app.rpo_objective_s is not None or app.rpo_met is not None:
            verdicts.append(ObjectiveVerdict(app.app, "RPO", app.rpo_objective_s, app.rpo_s, app.rpo_met))
    return tuple(verdicts)


def _rpo(run: RecordedRun, grouped: bool) -> tuple[tuple[VmRpo, ...], int, tuple[RpoSummary, ...]]:
    rows = [VmRpo(c.vm, c.app, c.measured_rpo_s, c.claimed_rpo_s, c.consistent, c.corrupted, c.passed) for c in run.canary_checks]
    by_app: dict[str, list[VmRpo]] = {}
    for row in rows:
        by_app.setdefault(row.app or "—", []).append(row)
    summaries = []
    for app, members in by_app.items():
        measured = [r.measured_s for r in members if r.measured_s is not None]
        claimed = [r.claimed_s for r in members if r.claimed_s is not None]
        summaries.append(
            RpoSummary(
                app,
                len(members),
                statistics.median(measured) if measured else None,
                max(measured) if measured else None,
                statistics.median(claimed) if claimed else None,
                max(claimed) if claimed else None,
                sum(1 for r in members if not r.passed),
            )
        )
    if not grouped:
        return tuple(rows), 0, tuple(summaries)
    objective = {a.app: a.rpo_objective_s for a in run.result.apps}

    def needs_attention(row: VmRpo) -> bool:
        limit = objective.get(row.app or "")
        missed = limit is not None and row.measured_s is not None and row.measured_s > limit
        return not row.passed or row.consistent is False or bool(row.corrupted) or missed

    attention = sorted((r for r in rows if needs_attention(r)), key=lambda r: -(r.measured_s or 0.0))
    shown = attention[:ATTENTION_ROWS]
    return tuple(shown), len(rows) - len(shown), tuple(summaries)


def _points(run: RecordedRun) -> tuple[tuple[PointRow, ...], tuple[PointGroup, ...]]:
    incident = run.incident_at
    rows = tuple(PointRow(p.step, p.vm, p.id, p.time, _seconds(incident - p.time), p.type, p.tier, p.region) for p in run.points)
    buckets: dict[tuple[str, str | None, str], list[PointRow]] = {}
    for row in rows:
        buckets.setdefault((row.type, row.tier, row.region), []).append(row)
    groups = tuple(
        PointGroup(kind, tier, region, len(members), min(m.time for m in members), max(m.time for m in members))
        for (kind, tier, region), members in buckets.items()
    )
    return rows, groups


def _findings(check: CheckResult) -> list[ConsistencyRow]:
    rows = []
    for volume in check.volumes:
        if not volume.consistent:
            rows.append(ConsistencyRow(check.vm, check.app, volume.name, torn_volume(volume, utc)))
    if check.corrupted:
        rows.append(ConsistencyRow(check.vm, check.app, None, "the recovered data holds the incident's corrupted writes"))
    if check.consistent is False and not any(not v.consistent for v in check.volumes):
        rows.append(ConsistencyRow(check.vm, check.app, None, check.reason or "the recovered data is not consistent"))
    if not check.reachable:
        rows.append(ConsistencyRow(check.vm, check.app, None, check.reason or "the recovered VM could not be read"))
    return rows


def _consistency(run: RecordedRun, grouped: bool) -> tuple[tuple[ConsistencyRow, ...], int, int]:
    rows = [row for check in run.canary_checks for row in _findings(check)]
    volumes = sum(len(c.volumes) for c in run.canary_checks)
    if grouped and len(rows) > ATTENTION_ROWS:
        return tuple(rows[:ATTENTION_ROWS]), len(rows) - ATTENTION_ROWS, volumes
    return tuple(rows), 0, volumes


def drill_cost(run: RecordedRun) -> CostView:
    """What the drill's own resources cost: list price per day times the time each existed (prices from the journal)."""
    end = run.last_at or run.incident_at
    by_kind: dict[str, list[tuple[float, float | None]]] = {}
    for resource in run.resources:
        hours = max(0.0, _seconds((resource.deleted_at or end) - resource.created_at) / 3600)
        cost = resource.cost_per_day * hours / 24 if resource.cost_per_day is not None else None
        by_kind.setdefault(resource.kind.rsplit("/", 1)[-1] or "resource", []).append((hours, cost))
    lines = tuple(
        CostLine(
            kind, len(items), sum(h for h, _ in items), sum(c or 0.0 for _, c in items) if all(c is not None for _, c in items) else None
        )
        for kind, items in sorted(by_kind.items())
    )
    leftover_per_day = sum(left.cost_per_day for left in run.result.cleanup.leftovers)
    total = sum(line.cost_usd or 0.0 for line in lines) if lines and all(line.cost_usd is not None for line in lines) else None
    return CostView(lines, total, leftover_per_day)


def _environment(run: RecordedRun) -> EnvironmentView:
    plan, started = run.plan, run.started
    return EnvironmentView(
        run_id=run.run_id,
        drsim_version=started.drsim_version if started else None,
        renderer_version=__version__,
        provider=run.result.provider,
        seed=run.result.seed,
        catalog_version=started.catalog_version if started else None,
        estate=started.estate if started else None,
        plan=started.plan if started else None,
        concurrency=started.concurrency if started else None,
        cleanup_policy=started.cleanup if started else None,
        detected_at=started.detected_at if started else None,
        started_at=run.first_at,
        finished_at=run.last_at,
        journal_events=run.chain.lines,
        journal_head=run.chain.head,
        journal_intact=run.chain.intact,
        journal_break=f"line {run.chain.broken.line}: {run.chain.broken.message}" if run.chain.broken else None,
        journal_torn=run.torn_tail,
        result_sha256=run.result_sha256,
        forced_reseals=tuple(
            f"{iso(r.at)} by {r.user} on {r.host} (drsim {r.drsim_version}) over these changes: {'; '.join(r.changes)}" for r in run.reseals
        ),
        resigned=tuple(
            f"{iso(r.at)} by {r.user} on {r.host} (drsim {r.drsim_version}): the signature of the key with SHA-256 "
            f"{r.previous_key_sha256} replaced by one of the key with SHA-256 {r.key_sha256}"
            for r in run.resigns
        ),
        plan_tasks=len(plan.tasks) if plan else None,
        critical_path_tasks=len(plan.critical_path) if plan else None,
        critical_path_s=plan.critical_path_s if plan else None,
        lower_bound_s=plan.lower_bound_s if plan else None,
        kind=run_kind(run.result.provider, bool(started.emulated) if started else False),
        performed=started.performed if started else None,
        performed_ended=performed.ended if (performed := run.by_class.last(RunPerformed)) is not None else None,
        inputs=started.inputs if started else (),
    )


def _signoff(run: RecordedRun) -> SignOffView:
    waits = run.by_class.of(HumanWaiting)
    acted = run.by_class.of(HumanActed)
    answered = {(e.task, e.attempt) for e in acted}
    ended = run.by_class.of_any(TaskFailed, TaskFinished, TaskSkipped)
    ends = {e.task: e for e in ended if isinstance(e, TaskFailed | TaskFinished | TaskSkipped)}
    unanswered = []
    for wait in waits:
        if (wait.task, wait.attempt) in answered:
            continue
        end = ends.get(wait.task)
        outcome = end.error if isinstance(end, TaskFailed) else "the run ended before anyone answered"
        unanswered.append(UnansweredRow(wait.step, wait.action.value, wait.since, outcome))
    people: dict[str, tuple[str, str | None, list[str]]] = {}
    for event in acted:
        key = " ".join(event.by.split()).casefold()
        steps = people.setdefault(key, (event.by, event.role, []))[2]
        if event.step not in steps:
            steps.append(event.step)
    expected = next((tuple((p.name, p.role) for p in w.participants) for w in waits if w.participants), ())
    return SignOffView(
        people_asked=bool(waits),
        expected=expected,
        participants=tuple((name, role, tuple(steps)) for name, role, steps in people.values()),
        approvals=tuple(ApprovalRow(e.step, e.action.value, e.by, e.role, e.at, e.waited_s, e.via, e.note) for e in acted),
        unanswered=tuple(unanswered),
        attestations=tuple(
            AttestationRow(a.by, a.role, a.verdict.value, a.at, a.note, a.result_sha256, a.journal_head, a.user, a.host)
            for a in run.attestations
        ),
    )


def _trend(run: RecordedRun, history: Sequence[PastRun] | None) -> TrendView:
    if history is None:
        return TrendView(False, (), None, None)
    apps = run.result.apps
    rto_objectives = [a.rto_objective_s for a in apps if a.rto_objective_s is not None]
    rpo_objectives = [a.rpo_objective_s for a in apps if a.rpo_objective_s is not None]
    current = history[-1].seq if history else None  # the series ends with this run (other drills may share its run id)
    rows = tuple(
        TrendRow(r.run_id, r.drill, r.incident_at, r.status, r.worst_rto_s, r.worst_rpo_s, r.leftovers, r.seq == current, r.kind)
        for r in history
    )
    return TrendView(True, rows, min(rto_objectives) if rto_objectives else None, min(rpo_objectives) if rpo_objectives else None)


# --------------------------------------------------------------------------------- control evidence


def evidence_statement(kind: EvidenceKind, view: ReportView, run: RecordedRun) -> str:
    """One statement of fact from this run for one kind of evidence (controls.yaml names the kinds)."""
    if kind is EvidenceKind.OBJECTIVES:
        if not view.objectives:
            return "The runbook states no recovery objectives; measured times are recorded without a verdict."
        parts = [
            f"{o.app} {o.measure} objective {duration(o.objective_s, 'exact')}, measured {duration(o.measured_s)}: {verdict(o.met)}"
            for o in view.objectives
        ]
        return "Recovery objectives tested against measurements: " + "; ".join(parts) + "."
    if kind is EvidenceKind.RECOVERY:
        recovered = Counter(t.action for t in view.tasks if Action(t.action).is_recovery and t.status is TaskStatus.SUCCEEDED)
        if not recovered:
            return "No recovery action succeeded in this run."
        done = ", ".join(f"{plural(n, 'VM')} by {action}" for action, n in sorted(recovered.items()))
        return f"Recovered {done}, in a drill on the {view.environment.provider} provider."
    if kind is EvidenceKind.RECOVERY_POINTS:
        if not view.points:
            return "No recovery point was journaled for this run."
        ages = [p.age_s for p in view.points]
        kinds = ", ".join(sorted({f"{p.type}/{p.tier or '-'}/{p.region}" for p in view.points}))
        return (
            f"{plural(len(view.points), 'recovery point')} restored ({kinds}); "
            f"their claimed RPO ranges from {duration(min(ages))} to {duration(max(ages))}."
        )
    if kind is EvidenceKind.DATA_INTEGRITY:
        if not view.vms_checked:
            return "No canary check ran: the recovered data was not verified."
        measured = [c.measured_rpo_s for c in run.canary_checks if c.measured_rpo_s is not None]
        worst = f", worst measured data loss {duration(max(measured))}" if measured else ""
        bad = view.consistency_findings
        outcome = f"{plural(bad, 'finding')} of inconsistency, corruption or unreadable data" if bad else "no inconsistency found"
        checked = f"{plural(view.vms_checked, 'recovered VM')} ({plural(view.volumes_checked, 'volume')} checked{worst})"
        return f"Canary markers read back on {checked}; {outcome}."
    if kind is EvidenceKind.ISOLATION:
        networks = sorted({f"{r.name} ({r.region})" for r in run.resources if r.kind.lower().endswith("/virtualnetworks")})
        if not networks:
            return "No isolated network was created in this run."
        return (
            f"Recovered VMs ran only in networks the drill created and verified isolated before starting any VM "
            f"(no peering, no gateway, outbound denied): {', '.join(networks)}. Production was read-only to the drill."
        )
    if kind is EvidenceKind.ALTERNATE_REGION:
        regions = sorted({r.region for r in run.resources if r.kind.lower().endswith("/virtualmachines")})
        point_regions = sorted({p.region for p in view.points})
        if not regions and not point_regions:
            return "The journal records no region for recovered VMs or recovery points."
        return f"Recovered VMs created in {', '.join(regions) or '—'}; recovery points read in {', '.join(point_regions) or '—'}."
    if kind is EvidenceKind.CLEANUP:
        text = f"Cleanup {view.cleanup_status}: {plural(view.resources_created, 'resource')} created, {view.resources_deleted} deleted"
        if view.leftovers:
            daily = usd(view.cost.leftover_cost_per_day)
            return text + f"; {plural(len(view.leftovers), 'leftover')} costing {daily} a day, listed in this report."
        return text + "; nothing left behind."
    if kind is EvidenceKind.RECORD_INTEGRITY:
        env = view.environment
        chain = "intact" if env.journal_intact else f"BROKEN ({env.journal_break})"
        return (
            f"Journal of {plural(env.journal_events, 'event')}, hash-chained ({chain}, head {env.journal_head[:16]}...); "
            f"result.json SHA-256 {env.result_sha256[:16]}...; manifest.json seals every file of the run (drsim evidence verify)."
        )
    if kind is EvidenceKind.TREND:
        if not view.trend.available:
            return "No history store was given, so no earlier runs are compared."
        earlier = [r for r in view.trend.rows if not r.current]
        if not earlier:
            return "First recorded run of this drill series."
        real = [r for r in earlier if r.kind is RunKind.EXECUTED]
        passed = sum(1 for r in real if r.status is RunStatus.PASSED)
        others = Counter(r.kind_label for r in earlier if r.kind is not RunKind.EXECUTED)
        rest = ", ".join(f"{n} {label}" for label, n in sorted(others.items()))
        last = earlier[-1].incident_at
        return (
            f"{plural(len(earlier), 'earlier run')} of this drill series on record: {len(real)} real ({passed} passed), "
            f"the only operating evidence among them{f'; {rest}, which are not' if rest else ''}; the last for an incident at {last}."
        )
    if not view.findings:
        return "No findings: every objective met, every task and check succeeded, nothing left behind."
    counts = Counter(f.severity for f in view.findings)
    by_severity = ", ".join(f"{counts[s]} {s.value}" for s in Severity if counts[s])
    shown = "; ".join(f"{f.id} ({f.title})" for f in view.findings[:5])
    more = f"; and {view.findings_total - 5} more" if view.findings_total > 5 else ""
    if view.findings_total > len(view.findings):
        by_severity = f"{by_severity} among the {len(view.findings)} shown"
    return f"{plural(view.findings_total, 'finding')} derived from the journal ({by_severity}), listed with their reasons: {shown}{more}."


def build_view(run: RecordedRun, history: Sequence[PastRun] | None = None, controls: Sequence[str] | None = None) -> ReportView:
    """Compute the report of a recorded run; `history` is its series from the store, ending with this run (None: no store)."""
    paths, findings = run.critical_paths, run.findings
    tasks = _task_rows(run, paths)
    grouped = len(tasks) > GROUP_ABOVE
    failures = tuple(FailureRow(f.step, f.vm, f.attempt, f.error, f.at, f.final, f.retried_ok) for f in run.failures)
    skipped = tuple(SkippedRow(s.step, s.vm, s.reason) for s in run.skipped)
    limit = ATTENTION_ROWS if grouped else len(failures) + len(skipped)
    failures_shown = tuple(sorted(failures, key=lambda f: (not f.final, f.retried_ok)))[:limit]  # failures that stuck first
    vm_rpo, vm_rpo_hidden, rpo_summary = _rpo(run, grouped)
    points, point_groups = _points(run)
    consistency, consistency_hidden, volumes = _consistency(run, grouped)
    chosen = controls if controls is not None else run.controls
    selection = select_controls(chosen)
    cleanup = run.result.cleanup
    view = ReportView(
        drill=run.result.drill,
        runbook=run.result.runbook,
        run_id=run.run_id,
        status=run.result.status,
        incident_at=run.incident_at,
        grouped=grouped,
        objectives=_objectives(run.result.apps),
        apps=_app_views(run),
        tasks=tasks,
        steps=_step_groups(tasks),
        failures=failures_shown,
        failures_hidden=len(failures) - len(failures_shown),
        skipped=skipped[:limit],
        skipped_hidden=len(skipped) - len(skipped[:limit]),
        aborted=run.aborted.reason if run.aborted else None,
        vm_rpo=vm_rpo,
        vm_rpo_hidden=vm_rpo_hidden,
        rpo_summary=rpo_summary,
        points=points,
        point_groups=point_groups,
        consistency=consistency,
        consistency_hidden=consistency_hidden,
        volumes_checked=volumes,
        vms_checked=len({c.vm for c in run.canary_checks}),
        checks_failed=sum(1 for c in run.checks if not c.passed),
        cleanup_status=cleanup.status,
        resources_created=len(run.resources),
        resources_deleted=sum(1 for r in run.resources if r.deleted_at is not None),
        failover_cleanup_errors=tuple(f"{c.vm}: {c.error or 'failed'}" for c in run.failover_cleanups if not c.succeeded),
        leftovers=tuple(LeftoverRow(x.id, x.kind, x.name, x.region, x.cost_per_day) for x in cleanup.leftovers),
        cost=run.cost,
        environment=_environment(run),
        controls=(),
        unknown_controls=selection.unknown,
        controls_defaulted=selection.all_by_default,
        controls_recorded=chosen is not None,
        trend=_trend(run, history),
        cleanup_done_at=run.cleanup.at if run.cleanup is not None else None,
        signoff=_signoff(run),
        findings=findings[:ATTENTION_ROWS] if grouped else findings,
        findings_total=len(findings),
        critical_paths=paths,
        prediction=_prediction(run),
    )
    statements: dict[EvidenceKind, str] = {}  # one statement per kind of evidence, however many controls cite it
    for control in selection.controls:
        for kind in control.evidenced_by:
            if kind not in statements:
                statements[kind] = evidence_statement(kind, view, run)
    control_views = tuple(
        ControlView(control, tuple((kind, statements[kind]) for kind in control.evidenced_by)) for control in selection.controls
    )
    return replace(view, controls=control_views)


def timeline_span(view: ReportView) -> tuple[datetime, datetime]:
    """The first and last instants the timeline must show: the incident, every task, healthy and cleanup."""
    moments = [view.incident_at]
    moments += [t.start for t in view.tasks if t.start is not None] + [t.end for t in view.tasks if t.end is not None]
    moments += [a.healthy_at for a in view.apps if a.healthy_at is not None]
    if view.cleanup_done_at is not None:
        moments.append(view.cleanup_done_at)
    return min(moments), max(moments)
