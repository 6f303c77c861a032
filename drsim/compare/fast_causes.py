"""Why the fast model's trials fail: the causes `compare.failures.trial_failures` reads from an engine
run's journal, from the fast model's arrays.

While it walks the task graph, the fast model (drsim.compare.fast) records, per task that fails in
some trials, a code per trial (`Why`): where the engine would raise, and what. This module turns the
codes into the engine's causes only for the trials that failed: per trial and step, one cause per error
kind (the task that failed first), with the error class the engine raises there, its category as the
engine classifies it (drsim.engine.executor.classify) and the engine's wording; then the objectives
missed, as `compare.failures.trial_causes` words them for every back end. Tasks skipped because a
step they need failed are consequences, not causes (the fast model records no code for them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np

from drsim.cloud.sim.incidents import DESTRUCTIVE
from drsim.compare.failures import FailureCause, trial_causes
from drsim.engine.actions import BOOT_POLL_S, BOOT_POLLS
from drsim.engine.executor import CheckFailure, StepTimeout, classify, describe
from drsim.engine.taskgraph import Task
from drsim.errors import CapacityError, NotFoundError
from drsim.measure.events import FailureCategory
from drsim.measure.result import RunStatus
from drsim.measure.timeline import status_of
from drsim.model.checks import protection_of
from drsim.model.documents import AsrStep, BackupStep
from drsim.model.types import IncidentKind, format_duration

if TYPE_CHECKING:
    from drsim.compare.fast import FastRun
    from drsim.compare.trials import AppOutcome, TrialSpec


class Why(IntEnum):
    """Why a task failed in a trial of the fast model: where the engine raises (0: it did not fail)."""

    TIMEOUT = 1  # an attempt ran past its step's timeout, on the last attempt (StepTimeout)
    CAPACITY = 2  # the last test failover job found no capacity (CapacityError)
    NO_REPLICATION_POINT = 3  # no Site Recovery point of the kind chosen (NotFoundError)
    NO_BACKUP_POINT = 4  # no Azure Backup point matches the choice and tier (NotFoundError)
    DISK_GONE = 5  # a snapshot of a disk the incident took (NotFoundError)
    NO_SCHEDULED_SNAPSHOT = 6  # no scheduled snapshot of a disk yet (NotFoundError)
    NOT_RECOVERED = 7  # a check of a VM no step recovered (CheckFailure)
    NOT_BOOTED = 8  # the recovered VM did not boot in time (CheckFailure)
    CORRUPTED = 9  # the recovered data holds the incident's corruption (CheckFailure)
    INCONSISTENT = 10  # a striped volume's disks were captured at different instants (CheckFailure)
    NO_ANSWER = 11  # the recovered VM did not answer the canary check (CheckFailure)
    POINT_PRUNED = 12  # the Site Recovery point found before the slot was pruned when the test failover started (NotFoundError)


RAISES: dict[Why, type[Exception]] = {
    Why.TIMEOUT: StepTimeout,
    Why.CAPACITY: CapacityError,
    Why.NO_REPLICATION_POINT: NotFoundError,
    Why.NO_BACKUP_POINT: NotFoundError,
    Why.DISK_GONE: NotFoundError,
    Why.NO_SCHEDULED_SNAPSHOT: NotFoundError,
    Why.NOT_RECOVERED: CheckFailure,
    Why.NOT_BOOTED: CheckFailure,
    Why.CORRUPTED: CheckFailure,
    Why.INCONSISTENT: CheckFailure,
    Why.NO_ANSWER: CheckFailure,
    Why.POINT_PRUNED: NotFoundError,
}
"""The exception the engine raises for each reason (its class name is the cause's error kind)."""

_KINDS = sorted({cls.__name__ for cls in RAISES.values()})
_KIND_OF = np.zeros(max(Why) + 1, np.int8)  # Why -> index in _KINDS + 1 (0: none)
for _why, _cls in RAISES.items():
    _KIND_OF[_why] = _KINDS.index(_cls.__name__) + 1


@dataclass(frozen=True)
class FastCauses:
    """Per trial: why it failed (compare.failures causes) and its status as the engine's result has it."""

    causes: list[tuple[FailureCause, ...]]
    statuses: list[str]


def fast_causes(model: FastRun, specs: Sequence[TrialSpec], apps: Sequence[Sequence[AppOutcome]]) -> FastCauses:
    """The causes of every trial's failure and its status, from the codes the model recorded."""
    n = len(specs)
    found: list[list[tuple[float, int, FailureCause]]] = [[] for _ in range(n)]
    text = _Texts(model, specs)
    steps: dict[str, list[tuple[Task, np.ndarray]]] = {}
    for task, failing in model.failed:
        steps.setdefault(task.step, []).append((task, failing))
    none = np.zeros(n, np.int8)
    for order, (step, failed) in enumerate(steps.items()):
        tasks = [task for task, _ in failed]
        failing = np.stack([f for _, f in failed])  # [tasks, trials]
        codes = np.where(failing, np.stack([model.why.get(t.id, none) for t in tasks]), np.int8(0))
        # Every failure has its reason recorded where the model decides it (skipped tasks are no failures).
        assert not (failing & (codes == 0)).any(), f"the fast model recorded no reason for a failure of step {step!r}"
        ends = np.stack([model.task_end[t.id] for t in tasks])
        kinds = _KIND_OF[codes]
        for kind in np.unique(kinds[kinds > 0]):
            mine = kinds == kind
            trials = np.flatnonzero(mine.any(axis=0))
            first = np.argmin(np.where(mine, ends, np.inf), axis=0)[trials]  # the task that failed first
            for k, i in zip(trials.tolist(), first.tolist(), strict=True):
                cause = text(tasks[i], Why(int(codes[i, k])), k)
                found[k].append((float(ends[i, k]), order, cause))
    objectives = {
        o.app: (o.rto.total_seconds() if o.rto is not None else None, o.rpo.total_seconds() if o.rpo is not None else None)
        for o in model.runbook.objectives
    }
    causes: list[tuple[FailureCause, ...]] = []
    statuses: list[str] = []
    for k in range(n):
        tasks_failed = [c for _, _, c in sorted(found[k], key=lambda f: (f[0], f[1]))]
        status = _status(tasks_failed, apps[k])
        statuses.append(status)
        if tasks_failed or status != RunStatus.PASSED.value or any(a.rto_s is None for a in apps[k]):
            causes.append(trial_causes(tasks_failed, apps[k], objectives, status))
        else:
            causes.append(())
    return FastCauses(causes, statuses)


def _status(failed: Sequence[FailureCause], apps: Sequence[AppOutcome]) -> str:
    """drsim.measure.timeline.status_of from the trial's failed tasks (a failed task's dependants are
    skipped, so a failure stands for them) and measured objectives."""
    error = any(c.category == FailureCategory.EXECUTION.value for c in failed)
    return status_of(error=error, failed=bool(failed), apps=apps).value


class _Texts:
    """The cause of a task's failure in a trial, in the engine's words (the same for every trial where
    the text does not depend on the trial)."""

    def __init__(self, model: FastRun, specs: Sequence[TrialSpec]) -> None:
        self.model = model
        self.specs = specs
        self._cache: dict[tuple[str, Why], FailureCause] = {}
        self._per_trial: dict[Why, Callable[[Task, int], str]] = {
            Why.DISK_GONE: self._disk_gone,
            Why.NO_SCHEDULED_SNAPSHOT: self._no_scheduled_snapshot,
            Why.INCONSISTENT: self._inconsistent,
            Why.POINT_PRUNED: self._point_pruned,
        }

    def __call__(self, task: Task, why: Why, trial: int) -> FailureCause:
        per_trial = self._per_trial.get(why)
        if per_trial is not None:
            return self._cause(task, why, per_trial(task, trial))
        key = (task.id, why)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._cause(task, why, self._fixed(task, why))
        return found

    @staticmethod
    def _cause(task: Task, why: Why, message: str) -> FailureCause:
        exc = RAISES[why](message)
        return FailureCause(task.step, task.action.value, type(exc).__name__, classify(exc).value, describe(exc))

    def _fixed(self, task: Task, why: Why) -> str:
        model, vm = self.model, task.vm
        step = model.steps[task.step]
        if why is Why.TIMEOUT:
            assert step.timeout is not None
            return f"step '{task.step}' timed out after {format_duration(step.timeout)}"
        if why is Why.CAPACITY:  # drsim.engine.actions.job_failed of the simulated world's capacity failure
            assert vm is not None and isinstance(step, AsrStep)
            spec = model.vms[vm]
            rule = protection_of(model.plan, vm, spec.tags).site_recovery
            assert rule is not None and rule.site_recovery is not None
            target = rule.site_recovery.target_region
            job_error = f"{CapacityError.__name__}: no capacity for {spec.size} in {target} (best effort); retry later"
            return f"test failover of {vm} failed: {job_error}"
        if why is Why.NO_REPLICATION_POINT:
            assert isinstance(step, AsrStep)
            return f"no {step.with_.recovery_point.value} Site Recovery point of {vm}"
        if why is Why.NO_BACKUP_POINT:
            assert vm is not None and isinstance(step, BackupStep)
            w = step.with_
            where = " in the paired region" if w.region is not None and w.region != model.vms[vm].region else ""
            return f"no Azure Backup point of {vm}{where} matches point: {w.point.value}, tier: {w.tier.value}"
        if why is Why.NOT_RECOVERED:
            return f"{vm} was not recovered by any step before this check"
        if why is Why.NOT_BOOTED:
            return f"{vm} did not boot within {BOOT_POLLS * BOOT_POLL_S / 60:g} minutes"
        if why is Why.CORRUPTED:
            return f"the data recovered for {vm} holds the incident's corruption"
        if why is Why.NO_ANSWER:
            return f"{vm}'s recovered VM did not answer the canary check"
        raise AssertionError(f"no text for {why!r}")  # pragma: no cover - the per-trial ones are in _per_trial

    def _disk(self, task: Task, trial: int) -> str:
        assert task.vm is not None
        index = int(self.model.why_disk[task.id][trial])
        return self.model.vms[task.vm].disks[index].name

    def _disk_gone(self, task: Task, trial: int) -> str:
        """The simulated world refuses a snapshot of a disk the incident took (its region down, or deleted)."""
        model = self.model
        assert task.vm is not None
        disk = f"{task.vm}-{self._disk(task, trial)}"  # the production disk's name in the simulated world
        at = self.specs[trial].incident_at.isoformat()
        region = model.vms[task.vm].region
        if model.kind is IncidentKind.REGION_OUTAGE and region == model.outage:
            return f"disk {disk} is unreachable: region {region} is down (region outage since {at})"
        assert model.kind in DESTRUCTIVE
        return f"disk {disk} not found ({model.kind.value} at {at})"

    def _no_scheduled_snapshot(self, task: Task, trial: int) -> str:
        return f"no scheduled snapshot of disk {self._disk(task, trial)} of {task.vm}"

    def _point_pruned(self, task: Task, trial: int) -> str:
        """The simulated world's refusal of a test failover to a point it no longer has (its id shortened to
        the part the fast model knows: recoveryPoints/<the point's Unix time>)."""
        at = self.specs[trial].incident_at + timedelta(seconds=float(self.model.why_point[task.id][trial]))
        return f"recovery point recoveryPoints/{int(at.timestamp())} does not exist (or was pruned) for {task.vm}"

    def _inconsistent(self, task: Task, trial: int) -> str:
        names = ", ".join(name for name, broken in self.model.why_volumes[task.id] if broken[trial])
        return f"volume {names} of {task.vm} is inconsistent (its disks were captured at different instants)"
