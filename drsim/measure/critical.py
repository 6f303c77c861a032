"""The measured critical path: what actually held up each application, read from the tasks' measured
start and end times and the runbook's dependencies.

Every task of a step waits for every task of the steps it needs (PlanMade's step edges), so what a
task waited for is the task of those steps that ended last. From the task that ended an application's
recovery (the last task on its VMs), walking back through what each task waited for gives the chain
that decided when the application was back: its measured critical path. The plan's critical path
(PlanMade.critical_path) is an estimate made before the run from per-operation durations; this one is
measured. The same events always give the same paths: this module reads no clock and keeps no state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from drsim.measure.events import AppMeasured, Event
from drsim.measure.timeline import RunTimeline


@dataclass(frozen=True, slots=True)
class CriticalLink:
    """One task of a measured critical path, with the time it waited after what it waited for ended
    (for a concurrency slot, or a retry's backoff inside it; 0 when it started at once)."""

    task: str
    step: str
    vm: str | None
    start: datetime
    end: datetime
    waited_s: float

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def label(self) -> str:
        return f"{self.step} on {self.vm}" if self.vm else self.step


@dataclass(frozen=True, slots=True)
class MeasuredPath:
    """The chain of tasks that decided when `app` was back (app None: when the run's recovery ended)."""

    app: str | None
    links: tuple[CriticalLink, ...]  # first to last

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(link.task for link in self.links)

    @property
    def length_s(self) -> float:
        if not self.links:
            return 0.0
        return (self.links[-1].end - self.links[0].start).total_seconds()


def _walk(
    end_task: str,
    spans: dict[str, tuple[datetime, datetime]],
    steps: dict[str, str],
    by_step: dict[str, list[str]],
    needs: dict[str, set[str]],
    vms: dict[str, str | None],
    origin: datetime,
) -> tuple[CriticalLink, ...]:
    chain: list[CriticalLink] = []
    current: str | None = end_task
    seen: set[str] = set()
    while current is not None and current not in seen:
        seen.add(current)
        start, end = spans[current]
        waited_for = [t for s in sorted(needs.get(steps[current], ())) for t in by_step.get(s, ()) if spans[t][1] <= start]
        previous = max(waited_for, key=lambda t: (spans[t][1], t), default=None)
        ready = spans[previous][1] if previous is not None else origin
        chain.append(CriticalLink(current, steps[current], vms[current], start, end, max(0.0, round((start - ready).total_seconds(), 3))))
        current = previous
    return tuple(reversed(chain))


def measured_critical_paths(events: Sequence[Event] | RunTimeline, apps: Sequence[AppMeasured] = ()) -> tuple[MeasuredPath, ...]:
    """One measured critical path per application whose VMs a check names (check.result's app), in the
    order of `apps`; when none can be told apart, one for the whole run (app None). Empty without a plan."""
    timeline = RunTimeline.of(events)
    plan = timeline.plan
    if plan is None:
        return ()
    ends = {task: event.at for task, event in timeline.skipped.items()}
    ends.update((task, event.at) for task, event in timeline.failed.items())
    ends.update((task, event.at) for task, event in timeline.finished.items())  # as RunTimeline.ended_at: finished first
    starts = timeline.first_start
    spans: dict[str, tuple[datetime, datetime]] = {}
    steps: dict[str, str] = {}
    vms: dict[str, str | None] = {}
    by_step: dict[str, list[str]] = {}
    for task in plan.tasks:
        start, end = starts.get(task.id), ends.get(task.id)
        if start is None or end is None:
            continue  # never ran (skipped before it started): it held nothing up
        spans[task.id] = (start, end)
        steps[task.id] = task.step
        vms[task.id] = task.vm
        by_step.setdefault(task.step, []).append(task.id)
    if not spans:
        return ()
    needs: dict[str, set[str]] = {}
    for needed, dependant in plan.step_edges:
        needs.setdefault(dependant, set()).add(needed)
    origin = timeline.started.detected_at

    def last_of(tasks: list[str]) -> str:
        return max(tasks, key=lambda t: (spans[t][1], t))

    apps_of_vm: dict[str, set[str]] = {}
    for check in timeline.checks:
        if check.app is not None:
            apps_of_vm.setdefault(check.vm, set()).add(check.app)
    tasks_of_app: dict[str, list[str]] = {}
    for task_id, vm in vms.items():
        for owner in apps_of_vm.get(vm, ()) if vm is not None else ():
            tasks_of_app.setdefault(owner, []).append(task_id)
    paths = []
    for app in apps:
        mine = tasks_of_app.get(app.app)
        if mine:
            paths.append(MeasuredPath(app.app, _walk(last_of(mine), spans, steps, by_step, needs, vms, origin)))
    if not paths:
        paths.append(MeasuredPath(None, _walk(last_of(list(spans)), spans, steps, by_step, needs, vms, origin)))
    return tuple(paths)
