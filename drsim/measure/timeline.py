"""From a run's events to what it measured: per application T_trigger, T_infra_ready, T_app_healthy,
RTO (split into human wait, infrastructure and validation), measured and claimed RPO, and verdicts.

Definitions (DESIGN.md, azure-facts.md "How the best tools time a drill"):
- T_trigger: the first recovery action on one of the application's VMs starts.
- T_infra_ready: every VM of the application in the drill's scope (hit by the incident, or recovered
  by the runbook anyway) runs again (its recovery task ended).
- T_app_healthy: the latest, over those VMs, of the first of N consecutive passing canary reads
  (boot checks when the runbook has no canary check); never, if a check failed.
- RTO = T_app_healthy - T_incident. Human wait = the detection delay plus time in manual steps the
  recovery waited on, before T_infra_ready; validation = T_app_healthy - T_infra_ready;
  infrastructure = the rest.
- RPO (measured) = T_incident - newest canary on the recovered data; RPO (claimed) = T_incident -
  the recovery point's time. Both are the worst over the application's VMs.
The same events always give the same result: this module reads no clock and keeps no state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from drsim.measure.events import (
    AppMeasured,
    CheckKind,
    CheckResult,
    CleanupFinished,
    Event,
    FailureCategory,
    PlanMade,
    PlannedTask,
    RunAborted,
    RunStarted,
    TaskFailed,
    TaskFinished,
    TaskSkipped,
    TaskStarted,
    iso,
)
from drsim.measure.result import AppMeasures, AppResult, CleanupResult, DrillResult, InputRef, Leftover, RunStatus, TaskResult, TaskStatus
from drsim.model.documents import AppSpec, Estate, Runbook
from drsim.model.types import Action, IncidentKind


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds(), 3)


def _union_length(intervals: Iterable[tuple[datetime, datetime]], low: datetime, high: datetime) -> float:
    """Seconds covered by the union of intervals, clipped to [low, high]."""
    total = 0.0
    reach = low
    for start, end in sorted(intervals):
        start, end = max(start, reach), min(end, high)
        if end > start:
            total += (end - start).total_seconds()
            reach = end
    return total


class RunTimeline:
    """The events of one run, indexed by task."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.started: RunStarted
        self.plan: PlanMade | None = None
        self.first_start: dict[str, datetime] = {}
        self.finished: dict[str, TaskFinished] = {}
        self.failed: dict[str, TaskFailed] = {}
        self.skipped: dict[str, TaskSkipped] = {}
        self.checks: list[CheckResult] = []
        self.cleanup: CleanupFinished | None = None
        self.aborted: RunAborted | None = None
        started: RunStarted | None = None
        first_start = self.first_start
        # One pass, dispatching on the exact event class (events are final dataclasses): a large run
        # has hundreds of thousands of events.
        for event in events:
            cls = event.__class__
            if cls is TaskStarted:
                first_start.setdefault(event.task, event.at)  # type: ignore[attr-defined]
            elif cls is TaskFinished:
                self.finished[event.task] = event  # type: ignore[attr-defined,assignment]
            elif cls is TaskFailed:
                self.failed[event.task] = event  # type: ignore[attr-defined,assignment]
            elif cls is TaskSkipped:
                self.skipped[event.task] = event  # type: ignore[attr-defined,assignment]
            elif cls is CheckResult:
                self.checks.append(event)  # type: ignore[arg-type]
            elif cls is CleanupFinished:
                self.cleanup = event  # type: ignore[assignment]
            elif cls is RunAborted:
                self.aborted = event  # type: ignore[assignment]
            elif cls is RunStarted and started is None:
                started = event  # type: ignore[assignment]
            elif cls is PlanMade and self.plan is None:
                self.plan = event  # type: ignore[assignment]
        if started is None:
            raise ValueError("the run's events have no run.started")
        self.started = started
        self.last_at: datetime = events[-1].at

    @classmethod
    def of(cls, events: Sequence[Event] | RunTimeline) -> RunTimeline:
        """The timeline of these events (indexed once: pass a timeline to every measure of one run)."""
        return events if isinstance(events, RunTimeline) else cls(events)

    def ended_at(self, task: str) -> datetime | None:
        for table in (self.finished, self.failed, self.skipped):
            if task in table:
                return table[task].at
        return None

    def task_results(self) -> list[TaskResult]:
        results = []
        for planned in self.plan.tasks if self.plan is not None else ():
            finished = self.finished.get(planned.id)
            failed = self.failed.get(planned.id)
            if finished is not None:
                status, attempts = TaskStatus.SUCCEEDED, finished.attempts
            elif failed is not None:
                status, attempts = TaskStatus.FAILED, failed.attempts
            else:
                status, attempts = TaskStatus.SKIPPED, 0
            start = self.first_start.get(planned.id)
            end = self.ended_at(planned.id)
            point = finished.recovery_point if finished is not None else None
            results.append(
                TaskResult(
                    step=planned.step,
                    action=planned.action,
                    vm=planned.vm,
                    status=status,
                    started_at=iso(start) if start else None,
                    ended_at=iso(end) if end else None,
                    attempts=attempts,
                    recovery_point_at=iso(point.time) if point is not None else None,
                )
            )
        return results


def affected_vm_names(runbook: Runbook, estate: Estate) -> set[str]:
    scenario = runbook.scenario
    if scenario.incident is IncidentKind.REGION_OUTAGE:
        return {vm.name for vm in estate.vms if vm.region == scenario.region}
    assert scenario.vms is not None
    return {vm.name for vm in estate.select(scenario.vms)}


def recovered_vm_names(runbook: Runbook, estate: Estate) -> set[str]:
    """The VMs the runbook's recovery steps bring back (their `vms` selectors)."""
    names: set[str] = set()
    for step in runbook.steps:
        selector = getattr(step.with_, "vms", None)
        if Action(step.action).is_recovery and selector is not None:
            names |= {vm.name for vm in estate.select(selector)}
    return names


def in_scope_vm_names(runbook: Runbook, estate: Estate) -> set[str]:
    """The VMs a drill answers for: those the incident hit, and those the runbook recovers anyway."""
    return affected_vm_names(runbook, estate) | recovered_vm_names(runbook, estate)


def _upstream_steps(runbook: Runbook, steps: Iterable[str]) -> set[str]:
    needs = {s.id: s.needs for s in runbook.steps}
    seen: set[str] = set()
    todo = [n for s in steps for n in needs.get(s, ())]
    while todo:
        step = todo.pop()
        if step not in seen:
            seen.add(step)
            todo.extend(needs.get(step, ()))
    return seen


@dataclass(frozen=True)
class _AppRecovery:
    """What one application's own VMs went through, before its dependencies are taken into account."""

    vms: frozenset[str]
    recovery: tuple[PlannedTask, ...]
    affected: frozenset[str]  # its VMs the incident hit (none: it was never down)
    trigger: datetime | None
    infra_ready: datetime | None
    healthy: datetime | None  # its own checks passed (None: they did not, or it had nothing to recover)
    claimed: tuple[float, ...]


def _app_recovery(app: AppSpec, timeline: RunTimeline, planned: Sequence[PlannedTask], hit: set[str], estate: Estate) -> _AppRecovery:
    incident = timeline.started.incident_at
    vms = {vm.name for vm in estate.select(app.vms)}
    affected = vms & hit
    recovery = tuple(t for t in planned if t.action.is_recovery and t.vm in vms)
    starts = [timeline.first_start[t.id] for t in recovery if t.id in timeline.first_start]
    ready_by_vm: dict[str, datetime] = {}
    claimed: list[float] = []
    for task in recovery:
        done = timeline.finished.get(task.id)
        if done is None or task.vm not in affected:
            continue
        assert task.vm is not None
        ready_by_vm[task.vm] = max(ready_by_vm.get(task.vm, done.at), done.at)
        if done.recovery_point is not None:
            claimed.append(max(0.0, (incident - done.recovery_point.time).total_seconds()))
    infra_ready = max(ready_by_vm.values()) if affected and set(ready_by_vm) == affected else None

    check_tasks = [t for t in planned if t.action.is_check and t.vm in affected]
    check_broken = any(t.id not in timeline.finished for t in check_tasks)
    results = [c for c in timeline.checks if c.vm in affected]
    deciding = [c for c in results if c.check is CheckKind.CANARY] or [c for c in results if c.check is CheckKind.BOOT]
    healthy: datetime | None = None
    if infra_ready is not None and deciding and not check_broken and all(c.passed for c in deciding):
        healthy = max(c.healthy_at for c in deciding if c.healthy_at is not None)
    return _AppRecovery(
        frozenset(vms), recovery, frozenset(affected), min(starts) if starts else None, infra_ready, healthy, tuple(claimed)
    )


def _healthy_with_dependencies(estate: Estate, own: dict[str, _AppRecovery]) -> dict[str, datetime | None]:
    """When each application is healthy: its own checks passed and every application it depends on
    (apps[].depends_on) that the incident hit is healthy too. An app the incident spared was never down."""
    specs = {a.name: a for a in estate.apps}
    healthy: dict[str, datetime | None] = {}

    def resolve(name: str, path: tuple[str, ...]) -> datetime | None:
        if name in healthy:
            return healthy[name]
        mine = own[name].healthy
        for dep in specs[name].depends_on:
            if dep not in specs or dep in path or not own[dep].affected:
                continue  # unknown or cyclic (validation refuses both), or not hit: nothing to wait for
            theirs = resolve(dep, (*path, dep))
            mine = None if mine is None or theirs is None else max(mine, theirs)
        healthy[name] = mine
        return mine

    for app in estate.apps:
        resolve(app.name, (app.name,))
    return healthy


def measure_apps(events: Sequence[Event] | RunTimeline, runbook: Runbook, estate: Estate) -> list[AppMeasured]:
    """Every application the runbook has an objective for or acts on, measured from the events.

    An application is healthy when its own checks have passed and so has every application it depends
    on that the incident hit: the wait for a dependency counts in its validation time."""
    timeline = RunTimeline.of(events)
    planned = timeline.plan.tasks if timeline.plan is not None else ()
    incident, detected = timeline.started.incident_at, timeline.started.detected_at
    hit = in_scope_vm_names(runbook, estate)
    objectives = {o.app: o for o in runbook.objectives}
    touched = {t.vm for t in planned if t.vm}
    own = {app.name: _app_recovery(app, timeline, planned, hit, estate) for app in estate.apps}
    healthy_at = _healthy_with_dependencies(estate, own)
    measured = []
    for app in estate.apps:
        mine = own[app.name]
        if app.name not in objectives and not mine.vms & touched:
            continue
        recovery, affected, trigger, infra_ready, claimed = mine.recovery, mine.affected, mine.trigger, mine.infra_ready, mine.claimed
        healthy = healthy_at[app.name]
        results = [c for c in timeline.checks if c.vm in affected]
        canaries = [c for c in results if c.check is CheckKind.CANARY]

        rto = _seconds(healthy, incident)
        human = infrastructure = validation = None
        if rto is not None and infra_ready is not None and healthy is not None:
            manual_steps = _upstream_steps(runbook, {t.step for t in recovery})
            intervals = [
                (timeline.first_start[t.id], timeline.finished[t.id].at)
                for t in planned
                if t.action.is_manual and t.step in manual_steps and t.id in timeline.finished and t.id in timeline.first_start
            ]
            detection = (detected - incident).total_seconds()
            human = round(detection + _union_length(intervals, detected, infra_ready), 3)
            validation = _seconds(healthy, infra_ready)
            assert validation is not None
            infrastructure = round(rto - human - validation, 3)

        rpo_values = [c.measured_rpo_s for c in canaries if c.measured_rpo_s is not None]
        read = {c.vm for c in canaries if c.measured_rpo_s is not None}
        unread = {t.vm for t in planned if t.action is Action.CHECK_CANARY and t.vm in affected} - read
        # The data lost is known only when every VM the canary checks was read: one unread VM may have lost more.
        rpo = round(max(rpo_values), 3) if rpo_values and not unread else None
        rpo_claimed = round(max(claimed), 3) if claimed else None
        reachable = [c for c in canaries if c.reachable]
        consistent = all(c.consistent is True for c in reachable) if reachable else None
        corrupted = any(c.corrupted for c in reachable)

        objective = objectives.get(app.name)
        rto_objective = objective.rto.total_seconds() if objective is not None and objective.rto is not None else None
        rpo_objective = objective.rpo.total_seconds() if objective is not None and objective.rpo is not None else None
        rto_met = None if rto_objective is None else (rto is not None and rto <= rto_objective)
        # Data that is inconsistent or corrupted meets no RPO, however recent it is.
        rpo_met = (
            None if rpo_objective is None else (rpo is not None and rpo <= rpo_objective and consistent is not False and not corrupted)
        )
        measured.append(
            AppMeasured(
                at=timeline.cleanup.at if timeline.cleanup is not None else timeline.last_at,
                app=app.name,
                incident_at=incident,
                trigger_at=trigger,
                infra_ready_at=infra_ready,
                healthy_at=healthy,
                rto_s=rto,
                human_wait_s=human,
                infrastructure_s=infrastructure,
                validation_s=validation,
                rpo_s=rpo,
                rpo_claimed_s=rpo_claimed,
                consistent=consistent,
                rto_objective_s=rto_objective,
                rpo_objective_s=rpo_objective,
                rto_met=rto_met,
                rpo_met=rpo_met,
            )
        )
    return measured


def run_status(events: Sequence[Event] | RunTimeline, apps: Sequence[AppMeasured]) -> RunStatus:
    """error: aborted, not carried out, or cleanup incomplete; failed: a check, recovery or objective failed."""
    timeline = RunTimeline.of(events)
    failures = [f for f in timeline.failed.values() if not f.allowed]
    error = (
        timeline.aborted is not None
        or any(f.category is FailureCategory.EXECUTION for f in failures)
        or timeline.cleanup is None
        or timeline.cleanup.status == "incomplete"
    )
    return status_of(error=error, failed=bool(failures or timeline.skipped), apps=apps)


class _ObjectivesMet(Protocol):
    @property
    def rto_met(self) -> bool | None: ...
    @property
    def rpo_met(self) -> bool | None: ...


def status_of(*, error: bool, failed: bool, apps: Iterable[_ObjectivesMet]) -> RunStatus:
    """The run's status from what every back end knows (the engine's journal, the fast model's arrays):
    error when the drill could not be carried out, failed when a task failed or was skipped or an
    objective was missed, else passed."""
    if error:
        return RunStatus.ERROR
    if failed or any(a.rto_met is False or a.rpo_met is False for a in apps):
        return RunStatus.FAILED
    return RunStatus.PASSED


def drill_result(
    events: Sequence[Event] | RunTimeline, runbook: Runbook, estate: Estate, apps: Sequence[AppMeasured] | None = None
) -> DrillResult:
    """result.json of a run, from its events alone (plus the documents that define its apps)."""
    timeline = RunTimeline.of(events)
    return _result(timeline, list(apps) if apps is not None else measure_apps(timeline, runbook, estate))


def result_from_journal(events: Sequence[Event]) -> DrillResult:
    """result.json recomputed from a run's journal alone: its app.measured events stand for the
    documents, so the same journal always gives the same bytes (what `drsim evidence verify` compares)."""
    return _result(RunTimeline(events), [e for e in events if isinstance(e, AppMeasured)])


def _provenance(started: RunStarted) -> dict[str, object]:
    """result.json's `simulated`, `emulated` and `inputs`, when the journal says them."""
    if not started.inputs:
        return {}
    return {
        "simulated": started.provider == "sim",
        "emulated": started.emulated,
        "inputs": {f.role: InputRef(path=f.path, sha256=f.sha256) for f in started.inputs},
    }


def _result(timeline: RunTimeline, measured: Sequence[AppMeasured]) -> DrillResult:
    started = timeline.started
    cleanup = timeline.cleanup
    return DrillResult(
        drill=started.drill,
        runbook=started.runbook,
        provider=started.provider,
        seed=started.seed,
        incident_at=iso(started.incident_at),
        status=run_status(timeline, measured),
        apps=[
            AppResult(
                **AppMeasures.of(a).model_dump(),
                trigger_at=iso(a.trigger_at) if a.trigger_at else None,
                infra_ready_at=iso(a.infra_ready_at) if a.infra_ready_at else None,
                healthy_at=iso(a.healthy_at) if a.healthy_at else None,
            )
            for a in measured
        ],
        tasks=timeline.task_results(),
        **_provenance(started),
        cleanup=CleanupResult(
            status=cleanup.status if cleanup is not None else "incomplete",
            leftovers=[
                Leftover(id=r.id, kind=r.kind, name=r.name, region=r.region, cost_per_day=round(r.cost_per_day, 4))
                for r in (cleanup.leftovers if cleanup is not None else ())
            ],
        ),
    )
