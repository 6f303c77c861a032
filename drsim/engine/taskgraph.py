"""Planning: a runbook + estate + plan become a task graph with explicit per-VM sub-steps.

A step whose `with` has a `vms` selector expands to one task per matched VM; `needs` make every task
of a step wait for every task of the steps it needs (a barrier, kept as step-to-step edges so that a
10,000-VM step does not grow 10^8 task edges). Inside a task the per-mechanism order is explicit as
operations (snapshot each disk -> a disk from each snapshot -> the VM), so the critical path and a
lower bound of the drill's duration follow from per-operation duration estimates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from drsim.measure.timeline import in_scope_vm_names
from drsim.model.checks import protection_of
from drsim.model.documents import (
    AsrStep,
    BackupStep,
    CheckBootStep,
    CheckCanaryStep,
    Estate,
    ImageDeployStep,
    IsolateStep,
    ManualApproveStep,
    ManualDeclareStep,
    ProtectionPlan,
    Runbook,
    SnapshotCloneStep,
    Step,
    VmSpec,
    WaitStep,
)
from drsim.model.types import Action, ReplicationPointChoice, SnapshotSource
from drsim.records import quick_init


class OpKind(StrEnum):
    """One provider interaction (or one deliberate wait) inside a task."""

    HUMAN = "human"  # a person declares or approves (a duration in the simulated world)
    WAIT = "wait"
    CREATE_NETWORK = "create-network"
    VERIFY_ISOLATION = "verify-isolation"
    FIND_POINT = "find-point"  # list recovery points and choose one
    TEST_FAILOVER = "test-failover"  # start the Site Recovery job and follow it to its end
    RESTORE = "restore"  # start the Azure Backup restore job and follow it to its end
    SNAPSHOT = "snapshot"  # a fresh snapshot of one production disk
    FIND_SNAPSHOT = "find-snapshot"  # the newest scheduled snapshot of one disk
    COPY_SNAPSHOT = "copy-snapshot"  # copy a snapshot to the recovery region
    CREATE_DISK = "create-disk"
    CREATE_VM = "create-vm"
    FIND_IMAGE = "find-image"
    DEPLOY_IMAGE = "deploy-image"
    WAIT_BOOT = "wait-boot"
    READ_CANARY = "read-canary"

    @property
    def holds_slot(self) -> bool:
        """Long-running cloud operations count against the drill's concurrency limit; reads and waits do not."""
        return self in SLOT_OPS


SLOT_OPS = frozenset(
    {
        OpKind.CREATE_NETWORK,
        OpKind.TEST_FAILOVER,
        OpKind.RESTORE,
        OpKind.SNAPSHOT,
        OpKind.COPY_SNAPSHOT,
        OpKind.CREATE_DISK,
        OpKind.CREATE_VM,
        OpKind.DEPLOY_IMAGE,
    }
)

# Expected seconds per operation when no catalog is given: the medians/modes of the simulated world's
# catalog (drsim/cloud/sim/catalog.yaml), which cites azure-facts.md for each.
DEFAULT_ESTIMATES: Mapping[OpKind, float] = {
    OpKind.HUMAN: 0.0,  # the step's own duration is used
    OpKind.WAIT: 0.0,  # idem
    OpKind.CREATE_NETWORK: 25.0,
    OpKind.VERIFY_ISOLATION: 0.2,
    OpKind.FIND_POINT: 0.2,
    OpKind.TEST_FAILOVER: 6 * 60.0,  # A2A FAQ example: ~9 min for a recovery plan, boot included
    OpKind.RESTORE: 25 * 60.0,  # snapshot-tier restore, ~25 min for 'create new' (issues 23790, 94078)
    OpKind.SNAPSHOT: 17.5,
    OpKind.FIND_SNAPSHOT: 0.2,
    OpKind.COPY_SNAPSHOT: 3 * 60.0,
    OpKind.CREATE_DISK: 17.5,
    OpKind.CREATE_VM: 120.0,  # Linux lognormal around 1-3 min; Windows 3-6 min (see estimate_op)
    OpKind.FIND_IMAGE: 0.2,
    OpKind.DEPLOY_IMAGE: 120.0,
    OpKind.WAIT_BOOT: 45.0,
    OpKind.READ_CANARY: 30.0,
}
WINDOWS_VM_CREATE_S = 255.0
CANARY_READ_INTERVAL_S = 30.0
"""Seconds between two canary reads of a check.canary with `consecutive` > 1."""


@quick_init
@dataclass(frozen=True, slots=True)
class Op:
    """One operation of a task; `needs` are ids of operations of the same task."""

    id: str
    kind: OpKind
    needs: tuple[str, ...] = ()
    disk: str | None = None  # the estate disk it concerns, for per-disk operations
    seconds: float | None = None  # a fixed duration (manual steps, wait)


@quick_init
@dataclass(frozen=True, slots=True)
class Task:
    """One step applied to one VM (or the step itself when it has no VMs)."""

    id: str
    step: str
    action: Action
    vm: str | None
    ops: tuple[Op, ...]
    index: int  # position in the graph, the order tasks start in when several are ready

    @property
    def label(self) -> str:
        return f"{self.step}/{self.vm}" if self.vm else self.step


Estimator = Callable[[Task, Op], float]
"""Expected seconds of one operation of one task."""


@dataclass(frozen=True)
class TaskGraph:
    """Tasks grouped by step, with step-to-step barrier edges (every task of a needed step first)."""

    tasks: tuple[Task, ...]
    steps: tuple[str, ...]  # runbook order
    step_needs: Mapping[str, tuple[str, ...]]
    step_tasks: Mapping[str, tuple[Task, ...]]
    allow_failure: frozenset[str]  # steps whose failure does not stop their dependants

    def step_edges(self) -> list[tuple[str, str]]:
        return [(need, step) for step in self.steps for need in self.step_needs[step]]

    def task(self, task_id: str) -> Task:
        return self._by_id[task_id]

    @property
    def _by_id(self) -> dict[str, Task]:
        cache: dict[str, Task] | None = self.__dict__.get("_by_id_cache")
        if cache is None:
            cache = {t.id: t for t in self.tasks}
            object.__setattr__(self, "_by_id_cache", cache)
        return cache


@dataclass(frozen=True)
class CriticalPath:
    """The longest chain of tasks through the step barriers, and what bounds the drill's duration."""

    tasks: tuple[str, ...]  # task ids, first to last
    length_s: float
    slot_work_s: float  # total seconds of slot-holding operations
    concurrency: int

    @property
    def lower_bound_s(self) -> float:
        """No schedule can be shorter than the critical path, nor than the slot work spread over every slot."""
        return max(self.length_s, self.slot_work_s / self.concurrency)


def task_chain(task: Task, duration: Callable[[Op], float]) -> float:
    """The duration of a task with unlimited slots: the longest path through its operations."""
    return _chain_of(task.ops, [duration(op) for op in task.ops])


def _chain_of(ops: Sequence[Op], seconds: Sequence[float]) -> float:
    """The longest path through `ops` (listed after the ops they need) taking seconds[i] each."""
    finish: dict[str, float] = {}
    for op, took in zip(ops, seconds, strict=True):
        start = 0.0
        for need in op.needs:  # the latest finish of what it needs (no call per operation)
            if finish[need] > start:
                start = finish[need]
        finish[op.id] = start + took
    return max(finish.values(), default=0.0)


def critical_path(graph: TaskGraph, duration: Estimator, concurrency: int) -> CriticalPath:
    """Earliest finish of every step with unlimited slots, and the chain of tasks that sets it."""
    step_finish: dict[str, float] = {}
    chain_of: dict[str, tuple[str, ...]] = {}
    slot_work = 0.0
    for step in graph.steps:
        ready: float = 0.0
        before: tuple[str, ...] = ()
        needs = graph.step_needs[step]
        if needs:
            latest = max(needs, key=lambda n: step_finish[n])  # the first of equals, for a stable answer
            ready, before = step_finish[latest], chain_of[latest]
        longest, last = 0.0, None
        for task in graph.step_tasks[step]:
            ops = task.ops
            seconds = [duration(task, op) for op in ops]
            length = _chain_of(ops, seconds)
            slot_work += sum([took for op, took in zip(ops, seconds, strict=True) if op.kind in SLOT_OPS])
            if last is None or length > longest:
                longest, last = length, task
        step_finish[step] = ready + longest
        chain_of[step] = before + ((last.id,) if last is not None else ())
    if not graph.steps:
        return CriticalPath((), 0.0, 0.0, concurrency)
    end = max(graph.steps, key=lambda s: (step_finish[s], -graph.steps.index(s)))
    return CriticalPath(chain_of[end], step_finish[end], slot_work, concurrency)


def estimate_op(vms: Mapping[str, VmSpec], table: Mapping[OpKind, float] = DEFAULT_ESTIMATES) -> Estimator:
    """An estimator from a table of expected seconds per operation kind (OS-aware for VM creation)."""

    def estimate(task: Task, op: Op) -> float:
        if op.seconds is not None:
            return op.seconds
        if (
            op.kind in (OpKind.CREATE_VM, OpKind.DEPLOY_IMAGE)
            and task.vm is not None
            and task.vm in vms
            and vms[task.vm].os.value == "windows"
        ):
            return max(table[op.kind], WINDOWS_VM_CREATE_S)
        return table[op.kind]

    return estimate


# ------------------------------------------------------------------------------------- building


def _step_vms(step: Step, runbook: Runbook, estate: Estate) -> list[VmSpec]:
    if isinstance(step, CheckCanaryStep) and step.with_.app is not None:
        # An app's check covers its VMs in the drill's scope: hit by the incident or recovered anyway.
        app = estate.app(step.with_.app)
        scope = in_scope_vm_names(runbook, estate)
        return [vm for vm in estate.select(app.vms) if vm.name in scope]
    selector = getattr(step.with_, "vms", None)
    return estate.select(selector) if selector is not None else []


def _network_region(runbook: Runbook, step: Step) -> str | None:
    network = getattr(step.with_, "network", None)
    if network is None:
        return None
    target = runbook.step(network)
    return target.with_.region if isinstance(target, IsolateStep) else None


def _snapshot_ops(vm: VmSpec, step: SnapshotCloneStep, target_region: str | None, plan: ProtectionPlan) -> tuple[Op, ...]:
    fresh = step.with_.source is SnapshotSource.FRESH
    rule = protection_of(plan, vm.name, vm.tags).snapshots
    copies_there = rule is not None and rule.snapshots is not None and rule.snapshots.copy_to_region == target_region
    cross_region = target_region is not None and target_region != vm.region
    return _disk_clone_ops(tuple(disk.name for disk in vm.disks), fresh, cross_region and (fresh or not copies_there))


@lru_cache(maxsize=256)
def _disk_clone_ops(disks: tuple[str, ...], fresh: bool, copy: bool) -> tuple[Op, ...]:
    """The operations of a snapshot clone of a VM with these disks (the same, frozen, for every VM alike)."""
    ops: list[Op] = []
    previous: str | None = None
    for disk in disks:
        if fresh:
            # A snapshot covers one disk and knows of no other: fresh ones are taken disk by disk
            # (azure-facts.md, managed disk snapshots).
            source = Op(f"snapshot:{disk}", OpKind.SNAPSHOT, (previous,) if previous else (), disk)
            previous = source.id
        else:
            source = Op(f"find-snapshot:{disk}", OpKind.FIND_SNAPSHOT, (), disk)
        ops.append(source)
        if copy:
            # Only incremental snapshots copy across regions (disks-copy-incremental-snapshot-across-regions).
            source = Op(f"copy-snapshot:{disk}", OpKind.COPY_SNAPSHOT, (source.id,), disk)
            ops.append(source)
        ops.append(Op(f"create-disk:{disk}", OpKind.CREATE_DISK, (source.id,), disk))
    ops.append(Op("create-vm", OpKind.CREATE_VM, tuple(f"create-disk:{d}" for d in disks)))
    return tuple(ops)


def _ops_for(step: Step, vm: VmSpec | None, runbook: Runbook, plan: ProtectionPlan) -> tuple[Op, ...]:
    if isinstance(step, ManualDeclareStep | ManualApproveStep):
        return (Op("human", OpKind.HUMAN, seconds=step.with_.duration.total_seconds()),)
    if isinstance(step, WaitStep):
        return (Op("wait", OpKind.WAIT, seconds=step.with_.duration.total_seconds()),)
    if isinstance(step, IsolateStep):
        return (Op("create-network", OpKind.CREATE_NETWORK), Op("verify-isolation", OpKind.VERIFY_ISOLATION, ("create-network",)))
    if isinstance(step, ImageDeployStep):  # one new VM per task, with or without an estate VM it replaces
        return (Op("find-image", OpKind.FIND_IMAGE), Op("deploy-image", OpKind.DEPLOY_IMAGE, ("find-image",)))
    assert vm is not None
    if isinstance(step, AsrStep):
        if step.with_.recovery_point is ReplicationPointChoice.LATEST:
            # 'latest' has no point yet: Site Recovery processes the pending data first (A2A FAQ).
            return (Op("test-failover", OpKind.TEST_FAILOVER),)
        return (Op("find-point", OpKind.FIND_POINT), Op("test-failover", OpKind.TEST_FAILOVER, ("find-point",)))
    if isinstance(step, BackupStep):
        # `as: disks` restores managed disks only (RESTORE_DISKS): there is no VM to start or check.
        return (Op("find-point", OpKind.FIND_POINT), Op("restore", OpKind.RESTORE, ("find-point",)))
    if isinstance(step, SnapshotCloneStep):
        return _snapshot_ops(vm, step, _network_region(runbook, step), plan)
    if isinstance(step, CheckBootStep):
        return (Op("wait-boot", OpKind.WAIT_BOOT),)
    if isinstance(step, CheckCanaryStep):
        reads = step.with_.consecutive
        return (Op("read-canary", OpKind.READ_CANARY, seconds=30.0 + CANARY_READ_INTERVAL_S * (reads - 1)),)
    raise AssertionError(f"no operations for action {step.action}")  # pragma: no cover - the Step union is closed


def build_task_graph(runbook: Runbook, estate: Estate, plan: ProtectionPlan) -> TaskGraph:
    """Expand every step to its tasks (one per VM for steps with VMs) with their operations."""
    tasks: list[Task] = []
    step_tasks: dict[str, tuple[Task, ...]] = {}
    for step in runbook.steps:
        action = Action(step.action)
        own: list[Task] = []
        if isinstance(step, ImageDeployStep) and step.with_.count is not None:
            for i in range(1, step.with_.count + 1):
                target = f"{step.with_.image_of}#{i}"
                own.append(Task(f"{step.id}/{target}", step.id, action, target, _ops_for(step, None, runbook, plan), len(tasks) + len(own)))
        elif isinstance(step, ManualDeclareStep | ManualApproveStep | WaitStep | IsolateStep):
            own.append(Task(step.id, step.id, action, None, _ops_for(step, None, runbook, plan), len(tasks)))
        else:
            for vm in _step_vms(step, runbook, estate):
                ops = _ops_for(step, vm, runbook, plan)
                own.append(Task(f"{step.id}/{vm.name}", step.id, action, vm.name, ops, len(tasks) + len(own)))
        tasks.extend(own)
        step_tasks[step.id] = tuple(own)
    steps = tuple(s.id for s in runbook.steps)
    return TaskGraph(
        tasks=tuple(tasks),
        steps=_topological(steps, {s.id: tuple(s.needs) for s in runbook.steps}),
        step_needs={s.id: tuple(s.needs) for s in runbook.steps},
        step_tasks=step_tasks,
        allow_failure=frozenset(s.id for s in runbook.steps if s.allow_failure),
    )


def _topological(steps: Sequence[str], needs: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
    """Steps ordered so that each comes after what it needs, otherwise in runbook order (validated acyclic)."""
    done: list[str] = []
    placed: set[str] = set()
    remaining = list(steps)
    while remaining:
        for step in remaining:
            if all(n in placed for n in needs[step]):
                done.append(step)
                placed.add(step)
                remaining.remove(step)
                break
        else:
            raise ValueError(f"steps {remaining} form a dependency cycle")
    return tuple(done)
