"""A run's findings, derived from its journal alone: what needs following up, each with a stable id, a
severity and a reason drawn from the events (never typed in).

What is a finding (docs/findings.md):
- an objective missed, and why: for an RPO, the recovery point restored and how old it was at the
  incident, and what the canary measured; for an RTO, the measured critical path and the RTO's split;
- inconsistent data (which VM and volume), corrupted data, a check that failed (an unreadable VM);
- a task that failed for good;
- resources left behind by cleanup, and what they cost a day;
- retries and throttling that cost time (task.retrying, call.failed retried);
- human wait above half of an application's RTO objective;
- a step slower than its predicted p95 (when the run journals a prediction.made event);
- a check that was skipped or never ran;
- an aborted run.

An id is `F-<app>-<kind>-<hash8>`: the hash of the run (drill and run id), the kind and the subject
(the application, VM, volume or step it is about), so rendering a run again, resuming it or recording
it again gives the same ids. `run` stands for the app of a finding that concerns no one application.
The same events always give the same findings: this module reads no clock and keeps no state.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from drsim.measure.critical import MeasuredPath, measured_critical_paths
from drsim.measure.events import (
    AppMeasured,
    CallFailed,
    CheckKind,
    Event,
    PlannedTask,
    RecoveryPointRef,
    TaskRetrying,
    TaskStarted,
    VolumeCheck,
)
from drsim.measure.timeline import RunTimeline
from drsim.model.types import Action
from drsim.times import duration

PREDICTION_EVENT = "prediction.made"
_CHECKS = frozenset({Action.CHECK_BOOT, Action.CHECK_CANARY})
_MANUAL = frozenset({Action.MANUAL_DECLARE, Action.MANUAL_APPROVE})
"""The journal event that carries a run's predicted per-step durations (p5/p50/p95), when it has one."""


class Severity(StrEnum):
    HIGH = "high"  # the recovery did not meet its objective, or its data cannot be trusted
    MEDIUM = "medium"  # it cost money or people's time, or something went unverified
    LOW = "low"  # it cost time without missing an objective

    @property
    def rank(self) -> int:
        return {Severity.HIGH: 0, Severity.MEDIUM: 1, Severity.LOW: 2}[self]


class FindingKind(StrEnum):
    RTO_MISSED = "rto-missed"
    RPO_MISSED = "rpo-missed"
    INCONSISTENT_DATA = "inconsistent-data"
    CORRUPTED_DATA = "corrupted-data"
    CHECK_FAILED = "check-failed"
    TASK_FAILED = "task-failed"
    LEFTOVERS = "leftovers"
    RETRIES = "retries"
    HUMAN_WAIT = "human-wait"
    SLOW_STEP = "slow-step"
    SKIPPED_CHECK = "skipped-check"
    ABORTED = "aborted"


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding of one run."""

    id: str
    kind: FindingKind
    severity: Severity
    app: str | None  # the application it concerns (None: the run, or a step on no application's VM)
    subject: str  # what it is about: the app and measure, the VM and volume, the step...
    title: str  # one line
    reason: str  # why, from the journal
    at: datetime  # when in the run it showed (the run's own time: virtual in a simulation)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def finding_id(drill: str, run_id: str, kind: FindingKind, app: str | None, subject: str) -> str:
    """`F-<app>-<kind>-<hash8>`: the same run, kind and subject always give the same id."""
    digest = hashlib.sha256("\n".join((drill, run_id, kind.value, subject)).encode("utf-8")).hexdigest()[:8]
    name = _UNSAFE.sub("-", app).strip("-") if app else ""
    return f"F-{name or 'run'}-{kind.value}-{digest}"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


_MECHANISM = {
    Action.ASR_TEST_FAILOVER: "Site Recovery",
    Action.BACKUP_RESTORE: "Azure Backup",
    Action.SNAPSHOT_CLONE: "snapshot",
    Action.IMAGE_DEPLOY: "image",
}


def _point_words(point: RecoveryPointRef, action: Action, incident: datetime) -> str:
    tier = f", {point.tier} tier" if point.tier else ""
    age = duration((incident - point.time).total_seconds())
    mechanism = _MECHANISM.get(action, action.value)
    return f"the {mechanism} point of {_when(point.time)} ({point.type}{tier}, {point.region}), {age} before the incident"


def _path_words(path: MeasuredPath | None) -> str:
    if path is None or not path.links:
        return ""
    parts = []
    for link in path.links:
        waited = f", after waiting {duration(link.waited_s)}" if link.waited_s >= 1 else ""
        parts.append(f"{link.label} ({duration(link.duration_s)}{waited})")
    return "measured critical path: " + " → ".join(parts)


class _Run:
    """The run's events, indexed for deriving findings."""

    def __init__(
        self,
        events: Sequence[Event],
        timeline: RunTimeline | None,
        paths: Sequence[MeasuredPath] | None,
        app_of_vm: Mapping[str, str] | None,
    ) -> None:
        self.events = events
        self.timeline = timeline if timeline is not None else RunTimeline(events)
        started = self.timeline.started
        self.drill, self.run_id, self.incident = started.drill, started.run_id, started.incident_at
        self.apps = [e for e in events if isinstance(e, AppMeasured)]
        plan = self.timeline.plan
        self.planned = {t.id: t for t in plan.tasks} if plan is not None else {}
        self.app_of_vm: dict[str, str] = {}
        for check in self.timeline.checks:
            if check.app is not None:
                self.app_of_vm.setdefault(check.vm, check.app)
        for vm, app in (app_of_vm or {}).items():  # the VMs no check named: from the estate, when the caller has it
            self.app_of_vm.setdefault(vm, app)
        self.paths = {p.app: p for p in (paths if paths is not None else measured_critical_paths(self.timeline, self.apps))}
        self.found: list[Finding] = []

    def add(self, kind: FindingKind, severity: Severity, app: str | None, subject: str, title: str, reason: str, at: datetime) -> None:
        self.found.append(Finding(finding_id(self.drill, self.run_id, kind, app, subject), kind, severity, app, subject, title, reason, at))

    def app_of(self, vm: str | None) -> str | None:
        return self.app_of_vm.get(vm) if vm is not None else None

    def vms_of(self, app: str) -> set[str]:
        return {vm for vm, owner in self.app_of_vm.items() if owner == app}


def _objectives(run: _Run) -> None:
    for app in run.apps:
        end = app.at
        if app.rpo_met is False:
            run.add(
                FindingKind.RPO_MISSED,
                Severity.HIGH,
                app.app,
                f"{app.app}/RPO",
                f"{app.app} missed its RPO objective",
                _rpo_reason(run, app),
                end,
            )
        if app.rto_met is False:
            run.add(
                FindingKind.RTO_MISSED,
                Severity.HIGH,
                app.app,
                f"{app.app}/RTO",
                f"{app.app} missed its RTO objective",
                _rto_reason(run, app),
                end,
            )


def _rpo_reason(run: _Run, app: AppMeasured) -> str:
    objective = duration(app.rpo_objective_s, "exact")
    vms = run.vms_of(app.app)
    if app.rpo_s is not None and app.rpo_objective_s is not None and app.rpo_s <= app.rpo_objective_s:
        untrusted = []
        for check in run.timeline.checks:
            if check.vm not in vms:
                continue
            untrusted += [f"volume {v.name} on {check.vm} is inconsistent" for v in check.volumes if not v.consistent]
            if check.consistent is False and all(v.consistent for v in check.volumes):
                untrusted.append(f"the data on {check.vm} is inconsistent")
            if check.corrupted:
                untrusted.append(f"the data on {check.vm} holds the incident's corrupted writes")
        return (
            f"The data lost ({duration(app.rpo_s)}) is within the objective of {objective}, but the recovered data cannot be "
            f"trusted: {'; '.join(untrusted) or 'it is inconsistent or corrupted'}."
        )
    points = [
        (f.recovery_point, f.action, f.vm)
        for f in run.timeline.finished.values()
        if f.recovery_point is not None and (not vms or f.vm in vms)
    ]
    parts = []
    if points:
        point, action, vm = min(points, key=lambda p: (p[0].time, p[2] or ""))
        on = f" for {vm}" if vm else ""
        parts.append(f"the oldest recovery point restored{on} was {_point_words(point, Action(action), run.incident)}")
    if app.rpo_s is not None:
        lost = f"the canary read back shows {duration(app.rpo_s)} of data lost, against an objective of {objective}"
        if app.rpo_claimed_s is not None and app.rpo_s - app.rpo_claimed_s >= 60:
            lost += f" ({duration(app.rpo_s - app.rpo_claimed_s)} more than the point's time claims)"
        parts.append(lost)
    else:
        unread = [c for c in run.timeline.checks if c.check is CheckKind.CANARY and c.vm in vms and c.measured_rpo_s is None]
        why = "; ".join(f"{c.vm}: {c.reason or 'no canary marker was read'}" for c in unread)
        parts.append(
            f"no data loss could be measured against the objective of {objective}"
            + (f" ({why})" if why else ": the canary check did not read every VM")
        )
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def _rto_reason(run: _Run, app: AppMeasured) -> str:
    objective = duration(app.rto_objective_s)
    path = _path_words(run.paths.get(app.app))
    if app.rto_s is not None:
        over = duration(app.rto_s - (app.rto_objective_s or 0.0))
        split = (
            f"human wait {duration(app.human_wait_s)}, infrastructure {duration(app.infrastructure_s)}, "
            f"validation {duration(app.validation_s)}"
        )
        text = f"Healthy after {duration(app.rto_s)} against an objective of {objective} (over by {over}): {split}"
        return text + (f"; {path}." if path else ".")
    vms = run.vms_of(app.app)
    causes = [
        f"{f.step}{' on ' + f.vm if f.vm else ''} failed: {f.error}"
        for f in run.timeline.failed.values()
        if not f.allowed and not Action(f.action).is_check and (f.vm is None or not vms or f.vm in vms)
    ]
    causes += [
        f"the {c.check.value} check on {c.vm} failed: {c.reason or 'not healthy'}"
        for c in run.timeline.checks
        if c.vm in vms and not c.passed
    ]
    causes += [f"{s.step}{' on ' + s.vm if s.vm else ''} was skipped: {s.reason}" for s in run.timeline.skipped.values() if s.vm in vms]
    if run.timeline.aborted is not None:
        causes.append(f"the run was aborted: {run.timeline.aborted.reason}")
    shown = "; ".join(causes[:3]) + (f"; and {len(causes) - 3} more" if len(causes) > 3 else "")
    return f"Never healthy during the run (objective {objective}): " + (shown or "no check passed") + (f"; {path}." if path else ".")


def torn_volume(volume: VolumeCheck, show: Callable[[datetime], str]) -> str:
    """Why an inconsistent volume is, in words, with the newest canary marker each of its disks holds
    (`show` writes a time). Disks captured at different instants within one canary interval hold the
    same marker: that is said, rather than "different instants (14:00:43Z, 14:00:43Z)"."""
    held = [i for i in volume.disk_instants if i is not None]
    if not held:
        return "its disks were not captured at one instant"
    if len(held) > 1 and len(set(held)) == 1:
        return (
            "its disks were captured at different instants, less than a canary interval apart "
            f"(each holds the canary marker of {show(held[0])})"
        )
    return f"its disks were captured at different instants ({', '.join(show(i) for i in held)})"


def _data(run: _Run) -> None:
    for check in run.timeline.checks:
        app = check.app
        bad_volumes = [v for v in check.volumes if not v.consistent]
        for volume in bad_volumes:
            captured = torn_volume(volume, lambda i: i.astimezone(UTC).strftime("%H:%M:%SZ"))
            run.add(
                FindingKind.INCONSISTENT_DATA,
                Severity.HIGH,
                app,
                f"{check.vm}/{volume.name}",
                f"volume {volume.name} on {check.vm} came back inconsistent",
                f"The canary check on {check.vm} found volume {volume.name} inconsistent: {captured}.",
                check.at,
            )
        if check.consistent is False and not bad_volumes:
            run.add(
                FindingKind.INCONSISTENT_DATA,
                Severity.HIGH,
                app,
                f"{check.vm}/-",
                f"the data recovered on {check.vm} is inconsistent",
                f"The canary check on {check.vm}: {check.reason or 'the recovered data is not consistent'}.",
                check.at,
            )
        if check.corrupted:
            run.add(
                FindingKind.CORRUPTED_DATA,
                Severity.HIGH,
                app,
                check.vm,
                f"the data recovered on {check.vm} is corrupted",
                f"The canary check on {check.vm} found the incident's corrupted writes on the recovered data: "
                "the recovery point is not older than the corruption.",
                check.at,
            )
        if not check.passed and not bad_volumes and check.consistent is not False and not check.corrupted:
            reach = "" if check.reachable else " (the recovered VM could not be read)"
            run.add(
                FindingKind.CHECK_FAILED,
                Severity.HIGH,
                app,
                f"{check.check.value}/{check.vm}",
                f"the {check.check.value} check on {check.vm} failed",
                f"The {check.check.value} check on {check.vm} failed{reach}: {check.reason or 'it never passed'} ({check.reads} read(s)).",
                check.at,
            )


def _failures(run: _Run) -> None:
    for failed in run.timeline.failed.values():
        if Action(failed.action).is_check:
            continue  # its check.result says why (or it is a skipped check)
        on = f" on {failed.vm}" if failed.vm else ""
        allowed = " (the step allows failure: its dependants went on)" if failed.allowed else ""
        run.add(
            FindingKind.TASK_FAILED,
            Severity.LOW if failed.allowed else Severity.HIGH,
            run.app_of(failed.vm),
            failed.task,
            f"{failed.step}{on} failed",
            f"{failed.action} {failed.step}{on} failed after {failed.attempts} attempt(s), "
            f"{failed.category} failure{allowed}: {failed.error}.",
            failed.at,
        )
    aborted = run.timeline.aborted
    if aborted is not None:
        run.add(
            FindingKind.ABORTED, Severity.HIGH, None, "run", "the run was aborted", f"The run was aborted: {aborted.reason}.", aborted.at
        )


def _leftovers(run: _Run) -> None:
    cleanup = run.timeline.cleanup
    if cleanup is None or not cleanup.leftovers:
        return
    daily = sum(r.cost_per_day for r in cleanup.leftovers)
    names = ", ".join(f"{r.name} ({r.kind.rsplit('/', 1)[-1]}, {r.region}, ${r.cost_per_day:,.2f}/day)" for r in cleanup.leftovers[:5])
    more = f" and {len(cleanup.leftovers) - 5} more" if len(cleanup.leftovers) > 5 else ""
    run.add(
        FindingKind.LEFTOVERS,
        Severity.MEDIUM,
        None,
        "cleanup",
        f"{len(cleanup.leftovers)} resource(s) left behind",
        f"Cleanup ({cleanup.status}) left {len(cleanup.leftovers)} resource(s) tagged with the run, "
        f"costing ${daily:,.2f} a day until deleted: {names}{more}.",
        cleanup.at,
    )


def _throttled(errors: Iterable[str]) -> bool:
    return any("throttl" in e.lower() or "429" in e for e in errors)


def _retries(run: _Run) -> None:
    retrying = [e for e in run.events if e.__class__ is TaskRetrying]
    called = [e for e in run.events if e.__class__ is CallFailed and e.retry_in_s is not None]
    if not retrying and not called:
        return
    retried = {e.task for e in retrying}
    starts = {(e.task, e.attempt): e.at for e in run.events if e.__class__ is TaskStarted and e.task in retried}
    by_step: dict[str, list[tuple[TaskRetrying, float]]] = {}
    calls: dict[str, list[CallFailed]] = {}
    for event in retrying:
        assert isinstance(event, TaskRetrying)
        began = starts.get((event.task, event.attempt), event.at)
        by_step.setdefault(event.step, []).append((event, (event.at - began).total_seconds() + event.retry_in_s))
    for failure in called:
        assert isinstance(failure, CallFailed)
        calls.setdefault(failure.call, []).append(failure)
    for step, retries in by_step.items():
        cost = sum(c for _, c in retries)
        errors = sorted({r.error for r, _ in retries})
        tasks = sorted({r.task for r, _ in retries})
        apps = {run.app_of(r.vm) for r, _ in retries}
        how = "throttled and retried" if _throttled(errors) else "retried"
        run.add(
            FindingKind.RETRIES,
            Severity.LOW,
            apps.pop() if len(apps) == 1 else None,
            f"step/{step}",
            f"step {step}: {len(retries)} attempt(s) {how}",
            f"{len(retries)} failed attempt(s) of step {step} ({len(tasks)} task(s)) were {how}, costing {duration(cost)} "
            f"(the failed attempts and the waits before retrying): {'; '.join(errors[:3])}{' ...' if len(errors) > 3 else ''}.",
            retries[-1][0].at,
        )
    for call, failures in calls.items():
        waited = sum(f.retry_in_s or 0.0 for f in failures)
        errors = sorted({f.error for f in failures})
        how = "throttled and retried" if _throttled(errors) else "retried"
        run.add(
            FindingKind.RETRIES,
            Severity.LOW,
            None,
            f"call/{call}",
            f"{call}: {len(failures)} call(s) {how}",
            f"{len(failures)} {call} call(s) failed and were {how}, waiting {duration(waited)} before retrying: {'; '.join(errors[:3])}.",
            failures[-1].at,
        )


def _human_wait(run: _Run) -> None:
    timeline = run.timeline
    if not any(a.human_wait_s is not None and a.rto_objective_s is not None and a.human_wait_s > a.rto_objective_s / 2 for a in run.apps):
        return
    manual = [
        (t, timeline.first_start[t.id], timeline.finished[t.id].at)
        for t in run.planned.values()
        if t.action in _MANUAL and t.id in timeline.first_start and t.id in timeline.finished
    ]
    for app in run.apps:
        if app.human_wait_s is None or app.rto_objective_s is None or app.human_wait_s <= app.rto_objective_s / 2:
            continue
        detection = (timeline.started.detected_at - run.incident).total_seconds()
        parts = [f"detection {duration(detection)}"] if detection > 0 else []
        parts += [f"{t.step} {duration((end - start).total_seconds())}" for t, start, end in manual]
        run.add(
            FindingKind.HUMAN_WAIT,
            Severity.MEDIUM,
            app.app,
            f"{app.app}/human-wait",
            f"{app.app}: people's time is more than half the RTO objective",
            f"Human wait was {duration(app.human_wait_s)} of {app.app}'s {duration(app.rto_s)} RTO, more than half of its objective of "
            f"{duration(app.rto_objective_s)}: {', '.join(parts) or 'manual steps'}.",
            app.at,
        )


def _predictions(events: Sequence[Event]) -> Mapping[str, tuple[float, float | None]]:
    """Predicted p95 (and p50) seconds of each step's span (its first task's start to its last task's
    end), from the run's prediction.made event when it has one (the twin's prediction of a real drill).

    The event is read by shape, so that a run without one, or a journal from before it, reads the same:
    `steps`, each with its step id as `name` and `p95_s` (and `p50_s`) in seconds; a step without a
    p95 is left out, not guessed at."""
    for event in events:
        if event.kind != PREDICTION_EVENT:
            continue
        steps: Any = getattr(event, "steps", None) or ()
        found: dict[str, tuple[float, float | None]] = {}
        for spread in steps:
            name = getattr(spread, "name", None)
            p95, p50 = getattr(spread, "p95_s", None), getattr(spread, "p50_s", None)
            if isinstance(name, str) and isinstance(p95, int | float):
                found[name] = (float(p95), float(p50) if isinstance(p50, int | float) else None)
        return found
    return {}


def _slow_steps(run: _Run) -> None:
    predicted = _predictions(run.events)
    if not predicted:
        return
    timeline = run.timeline
    spans: dict[str, list[tuple[datetime, datetime, str | None]]] = {}
    for task in run.planned.values():
        start, end = timeline.first_start.get(task.id), timeline.ended_at(task.id)
        if start is not None and end is not None:
            spans.setdefault(task.step, []).append((start, end, task.vm))
    for step, tasks in spans.items():
        if step not in predicted:
            continue
        p95, p50 = predicted[step]
        took = (max(e for _, e, _ in tasks) - min(s for s, _, _ in tasks)).total_seconds()
        if took <= p95:
            continue
        apps = {run.app_of(vm) for _, _, vm in tasks}
        median = f", p50 {duration(p50)}" if p50 is not None else ""
        run.add(
            FindingKind.SLOW_STEP,
            Severity.LOW,
            apps.pop() if len(apps) == 1 else None,
            f"step/{step}",
            f"step {step} was slower than predicted",
            f"Step {step} took {duration(took)} from its first start to its last end, over its predicted p95 of {duration(p95)}{median} "
            f"(by {duration(took - p95)}).",
            max(e for _, e, _ in tasks),
        )


def _skipped_checks(run: _Run) -> None:
    """One finding per check step with tasks that never ran: on which VMs, and why."""
    timeline = run.timeline
    by_step: dict[str, list[tuple[PlannedTask, str, datetime]]] = {}
    for task in run.planned.values():
        if task.action not in _CHECKS or task.id in timeline.finished or task.id in timeline.failed:
            continue
        skipped = timeline.skipped.get(task.id)
        reason = skipped.reason if skipped is not None else "the run ended before it ran"
        by_step.setdefault(task.step, []).append((task, reason, skipped.at if skipped is not None else timeline.last_at))
    for step, tasks in by_step.items():
        action = tasks[0][0].action
        vms = [t.vm for t, _, _ in tasks if t.vm is not None]
        apps = {run.app_of(vm) for vm in vms}
        reasons = sorted({reason for _, reason, _ in tasks})
        on = f" on {len(vms)} VM(s): {', '.join(vms[:10])}{' ...' if len(vms) > 10 else ''}" if vms else ""
        run.add(
            FindingKind.SKIPPED_CHECK,
            Severity.MEDIUM,
            apps.pop() if len(apps) == 1 else None,
            f"step/{step}",
            f"check {step} did not run" + (f" on {len(vms)} VM(s)" if vms else ""),
            f"The {action} check {step} did not run{on} ({'; '.join(reasons[:3])}): what it checks was not verified.",
            max(at for _, _, at in tasks),
        )


def derive_findings(
    events: Sequence[Event],
    *,
    timeline: RunTimeline | None = None,
    paths: Sequence[MeasuredPath] | None = None,
    app_of_vm: Mapping[str, str] | None = None,
) -> tuple[Finding, ...]:
    """Every finding of a run, from its journal's events: most severe first, then in the run's order.
    `timeline` and `paths` (the measured critical paths), when the caller has them, are those of `events`.
    A finding's application is the one a check of its VM names (check.result's app); `app_of_vm` gives
    it for VMs no check named (a failed restore whose checks were skipped), from the run's estate."""
    run = _Run(events, timeline, paths, app_of_vm)
    _objectives(run)
    _data(run)
    _failures(run)
    _skipped_checks(run)
    _leftovers(run)
    _human_wait(run)
    _retries(run)
    _slow_steps(run)
    unique: dict[str, Finding] = {}
    for finding in run.found:
        unique.setdefault(finding.id, finding)
    return tuple(sorted(unique.values(), key=lambda f: (f.severity.rank, f.at, f.id)))
