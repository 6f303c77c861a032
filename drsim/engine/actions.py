"""The actions of a runbook, carried out operation by operation against any CloudProvider.

`CloudActions` is the executor's OpRunner. It is also where the safety rules live: it refuses
(SafetyError) to start a recovered VM in a network whose isolation report is not clean; it writes to
production only by taking snapshots; it tags everything it creates with the run id and records each
creation, so that cleanup deletes exactly the run's resources.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from drsim.clock import Clock
from drsim.cloud.api import (
    RUN_TAG,
    BackupPoint,
    CanaryReading,
    CloudProvider,
    Image,
    IsolatedNetwork,
    IsolationReport,
    Job,
    JobErrorKind,
    JobKind,
    JobStatus,
    ManagedDisk,
    PointTier,
    PointType,
    ReplicationPoint,
    ResourceKind,
    RestoreMode,
    Snapshot,
    VirtualMachine,
    cloud_spans,
    report_cloud_span,
)
from drsim.cloud.arm import kind_of
from drsim.engine.executor import CheckFailure, SlotLimit, TaskState
from drsim.engine.people import HumanRequest, People
from drsim.engine.resume import ResumeState
from drsim.engine.taskgraph import CANARY_READ_INTERVAL_S, Op, OpKind, Task
from drsim.errors import CapacityError, NotFoundError, ProviderError, SafetyError, TransientError
from drsim.measure.events import (
    CheckKind,
    CheckResult,
    Event,
    GroupInstantChosen,
    HumanActed,
    HumanWaiting,
    OperationAccepted,
    Person,
    RecoveryPointRef,
    ResourceCreated,
    TaskFinished,
    VolumeCheck,
)
from drsim.measure.result import TaskStatus
from drsim.model.documents import (
    AsrStep,
    BackupStep,
    CheckCanaryStep,
    Estate,
    ImageDeployStep,
    IsolateStep,
    ProtectionPlan,
    Runbook,
    SnapshotCloneStep,
    Step,
    VmSpec,
)
from drsim.model.types import BackupPointChoice, BackupTier, ReplicationPointChoice, RestoreAs, selector_matches

JOB_POLL_S = 30.0
"""Seconds between two reads of a long-running job (the SDK pollers' default interval; azure-sdk-notes.md)."""
BOOT_POLL_S = 15.0
BOOT_POLLS = 40  # 10 minutes of boot diagnostics before a VM counts as not booting
UNREACHABLE_READS = 20  # consecutive canary reads of an unreachable VM before the check gives up
MAX_IMAGE_DEPLOYMENTS = 20  # simultaneous deployments from one managed image (capture-image-resource)


@dataclass(frozen=True)
class Recovered:
    """The recovered counterpart of a production VM."""

    vm_id: str
    task: str
    point: RecoveryPointRef | None


@dataclass
class TaskWork:
    """What a task's operations hand to one another (and keep across a retry)."""

    backup_point: BackupPoint | None = None
    replication_point: ReplicationPoint | None = None
    job_id: str | None = None
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    disks: dict[str, ManagedDisk] = field(default_factory=dict)
    image: Image | None = None
    point: RecoveryPointRef | None = None  # of the job re-attached by a resumed run, as journaled when it was accepted


@dataclass
class RestoreRecord:
    """A Backup restore the cloud accepted: cleanup waits for it to end and deletes what it created."""

    task: str
    vm: str  # the production VM it restores
    job_id: str
    mode: RestoreMode
    name: str  # the name drsim gave what it creates
    region: str
    ended: bool = False


@dataclass(frozen=True)
class TestFailoverRecord:
    """A started Site Recovery test failover, which cleanup must end with 'cleanup test failover'.

    Recorded (and journaled as operation.accepted) as soon as the cloud accepts it; `ended` once drsim
    saw its job end, with what the job created. Cleanup waits for a job that was not seen to end."""

    __test__ = False  # not a pytest test class

    vm: str
    source_vm_id: str
    created: tuple[str, ...]
    job_id: str = ""
    task: str | None = None
    region: str = ""  # where the test VM lands (the isolated network's region)
    ended: bool = True


JOB_ERRORS: dict[JobErrorKind, type[ProviderError]] = {JobErrorKind.CAPACITY: CapacityError, JobErrorKind.TRANSIENT: TransientError}
"""The drsim error of a failed job by its kind: these stay retryable, so the step's retries apply."""


def job_failed(job: Job, what: str) -> ProviderError:
    """The error a failed job raises: a capacity or transient failure is retried (after a backoff), others are not."""
    error = JOB_ERRORS.get(job.error_kind, ProviderError) if job.error_kind is not None else ProviderError
    return error(f"{what} failed: {job.error or job.status.value}")


def name_prefix(name_key: str) -> str:
    """The prefix of every name a run gives what it creates: `dr` and 6 hex digits of the key's hash."""
    return "dr" + hashlib.sha256(name_key.encode()).hexdigest()[:6]


def resource_name(prefix: str, *parts: str) -> str:
    """The name a run gives a resource it creates: `<prefix>-<vm>-<what>`, at most 80 characters (the fast
    model, drsim.compare.fast, names them the same way to find the simulated world's draws for them)."""
    return "-".join((prefix, *parts))[:80]


class CloudActions:
    """Carries out every operation of a drill's tasks against one provider, safely."""

    def __init__(
        self,
        *,
        provider: CloudProvider,
        clock: Clock,
        runbook: Runbook,
        estate: Estate,
        plan: ProtectionPlan,
        run_id: str,
        incident_at: datetime,
        emit: Callable[[Event], None],
        name_key: str | None = None,
        people: People | None = None,
        participants: tuple[Person, ...] = (),
        run_dir: Path | None = None,
    ) -> None:
        self.provider = provider
        self.people = people  # None: virtual time, where a manual step takes its configured duration
        self.participants = participants
        self.run_dir = run_dir
        self.clock = clock
        self.runbook = runbook
        self.estate = estate
        self.plan = plan
        self.run_id = run_id
        self.incident_at = incident_at
        self.emit = emit
        self.tags: Mapping[str, str] = {RUN_TAG: run_id}
        # Names derive from `name_key` (default: the run id); the simulator passes the run id without
        # its directory suffix, so a repeated run creates the same names and gives the same result.
        self._prefix = name_prefix(name_key or run_id)
        self.vms = {vm.name: vm for vm in estate.vms}
        self._image_slots: dict[str, SlotLimit] = {}  # deployments in flight per managed image
        self.fleets: dict[str, list[str]] = {}  # VMs deployed by count, by the name of the image's VM
        self.production: dict[str, VirtualMachine] = {}
        self.inventory: dict[str, str] = {}  # ids of production VMs the provider cannot show (region down, lost)
        self.disk_inventory: dict[str, tuple[str, ...]] = {}  # ... and of their disks, in the estate's order
        self.networks: dict[str, IsolatedNetwork] = {}  # by network.isolate step id
        self.isolation: dict[str, IsolationReport] = {}  # by network id
        self.recovered: dict[str, Recovered] = {}  # by production VM name
        self.created: dict[str, ResourceCreated] = {}  # by id, in creation order
        self.test_failovers: dict[str, TestFailoverRecord] = {}
        self.restores: dict[str, RestoreRecord] = {}  # by job id, in the order the cloud accepted them
        self._group_instants: dict[str, datetime] = {}  # consistency group -> the multi-VM instant it fails over to
        self._work: dict[str, TaskWork] = {}
        # A resumed run (drsim.engine.resume): tasks it takes on in the middle of an attempt, by id, with when
        # that attempt started; those whose restore or test failover may have been accepted unjournaled.
        self._resumed_at: dict[str, datetime] = {}
        self._unjournaled: set[str] = set()
        self._acted: set[str] = set()
        self._apps = {vm.name: vm_app(estate, vm) for vm in estate.vms}
        self._steps = {step.id: step for step in runbook.steps}
        self._disk_index = {vm.name: {disk.name: i for i, disk in enumerate(vm.disks)} for vm in estate.vms}

    async def discover(self) -> None:
        """Read the production VMs (a drill only reads production, and snapshots its disks)."""
        for vm in await self.provider.list_vms():
            if vm.name in self.vms and RUN_TAG not in vm.tags:
                self.production[vm.name] = vm

    # ---------------------------------------------------------------------------------- helpers

    def name(self, *parts: str) -> str:
        """A resource name unique to this run: `dr<run hash>-<vm>-<what>`, at most 80 characters."""
        return resource_name(self._prefix, *parts)

    def _record(self, task: Task | None, resource_id: str, kind: ResourceKind, name: str, region: str) -> None:
        self._record_for(task.id if task else None, resource_id, kind, name, region)

    def _record_for(self, task_id: str | None, resource_id: str, kind: ResourceKind, name: str, region: str) -> None:
        if resource_id in self.created:
            return
        # ResourceCreated(at, id, resource_kind, name, region, task, cost_per_day), positionally: one per creation
        event = ResourceCreated(self.clock.now(), resource_id, kind, name, region, task_id, self.provider.price_per_day(resource_id))
        self.created[resource_id] = event
        self.emit(event)

    def record_job(self, task_id: str | None, job: Job, region: str) -> None:
        """Record what a job created (by the task that started it)."""
        for resource_id in job.created:
            kind = kind_of(resource_id)
            if kind is not None:
                self._record_for(task_id, resource_id, kind, resource_id.rsplit("/", 1)[-1], region)

    def _record_job(self, task: Task, job: Job, region: str) -> None:
        self.record_job(task.id, job, region)

    def _prod_id(self, vm: str) -> str:
        """The id of a production VM: read from the provider, or known from the inventory when unreachable."""
        found = self.production.get(vm)
        if found is not None:
            return found.id
        if vm in self.inventory:
            return self.inventory[vm]
        raise NotFoundError(f"production VM {vm} is not visible to the drill and not in its inventory")

    def _prod_disk_id(self, vm: str, disk_index: int) -> str:
        """The id of a production disk: from its VM as read, or from the inventory when the VM is gone
        (a snapshot outlives its disk: azure-facts.md, Managed disk snapshots)."""
        found = self.production[vm] if vm in self.production else None  # noqa: SIM401 - a subscript, not .get: one call less per operation
        if found is not None:
            return found.disk_ids[disk_index]
        known = self.disk_inventory.get(vm)
        if known is not None and disk_index < len(known):
            return known[disk_index]
        raise NotFoundError(f"production VM {vm} is not visible to the drill and its disks are not in its inventory")

    def _network(self, step_id: str) -> IsolatedNetwork:
        if step_id not in self.networks:
            raise ProviderError(f"network.isolate step '{step_id}' created no network")
        return self.networks[step_id]

    async def require_isolated(self, network: IsolatedNetwork, vm: str) -> None:
        """The isolation guard: never start a recovered VM in a network that is not isolated."""
        report = self.isolation.get(network.id)
        if report is None:
            report = self.isolation[network.id] = await self.provider.check_isolation(network.id)
        if not report.isolated:
            raise SafetyError(
                f"refusing to start recovered VM {vm} in network {network.name}: it is not isolated ({'; '.join(report.reasons())})"
            )

    def _recovered(self, task: Task, state: TaskState, vm_id: str, point: RecoveryPointRef | None) -> None:
        assert task.vm is not None
        self.recovered[task.vm] = Recovered(vm_id, task.id, point)
        state.recovered_vm = vm_id
        state.recovery_point = point

    async def _follow(self, job: Job) -> Job:
        """Read a job until it ends, as an SDK poller would."""
        while not job.status.ended:
            await self.clock.sleep(JOB_POLL_S)
            job = await self.provider.get_job(job.id)
        if job.ended_at is not None and cloud_spans() is not None:
            report_cloud_span(job.id, job.started_at, job.ended_at)  # the job's own time, as the cloud reports it
        return job

    # ------------------------------------------------------------------------------ resuming

    async def resume_from(self, state: ResumeState, tasks: Mapping[str, Task]) -> None:
        """Take a run over from its journal (a resumed run against a real cloud; drsim.engine.resume):
        what it created and recovered, the jobs the cloud accepted for it (followed again, their tags and
        restore targets handed back to the provider), the isolated networks of the steps that ended (each
        read back by the same idempotent PUT that made it), and the tasks it takes on mid-attempt."""
        self.created.update(state.created)
        self._group_instants.update(state.group_instants)  # a group part failed over goes on to the same instant
        for event in state.events:
            if event.__class__ is not TaskFinished:
                continue
            assert isinstance(event, TaskFinished)
            task = tasks.get(event.task)
            if task is None or event.recovered_vm is None:
                continue
            if task.vm in self.vms:
                self.recovered[task.vm] = Recovered(event.recovered_vm, task.id, event.recovery_point)
            else:
                step = self._steps[task.step]
                if isinstance(step, ImageDeployStep):
                    self.fleets.setdefault(step.with_.image_of, []).append(event.recovered_vm)
        for accepted in state.accepted:
            task = tasks.get(accepted.task)
            if task is None or accepted.vm is None:
                continue
            current = state.current.get(accepted.task) is accepted
            ended = state.ended(accepted.task) or not current
            step = self._steps[task.step]
            if accepted.operation == JobKind.RESTORE.value and isinstance(step, BackupStep):
                mode = RestoreMode(accepted.mode or RestoreMode.VM.value)
                tier = PointTier(accepted.point.tier) if accepted.point is not None and accepted.point.tier else None
                region = step.with_.region or self.vms[accepted.vm].region
                self.provider.adopt_job(accepted.job, tags=self.tags, mode=mode, target=accepted.target, tier=tier)
                self.restores[accepted.job] = RestoreRecord(
                    task.id, accepted.vm, accepted.job, mode, accepted.target or "", region, ended=ended
                )
            elif accepted.operation == JobKind.TEST_FAILOVER.value and isinstance(step, AsrStep):
                network_step = self._steps.get(step.with_.network)
                region = network_step.with_.region if isinstance(network_step, IsolateStep) else ""
                made = tuple(
                    c.id
                    for c in state.created_by(task.id)
                    if c.resource_kind in (ResourceKind.VM, ResourceKind.DISK) and c.id not in state.deleted
                )
                self.provider.adopt_job(accepted.job, tags=self.tags)
                self.test_failovers[accepted.vm] = TestFailoverRecord(
                    accepted.vm, accepted.target or "", made if ended else (), accepted.job, task.id, region, ended=ended
                )
            else:
                continue
            if current and not state.ended(accepted.task):
                self._work[task.id] = TaskWork(job_id=accepted.job, point=accepted.point)
        for task_id, resumed in state.tasks.items():
            if resumed.status is None and task_id in tasks and task_id in state.acted:
                self._acted.add(task_id)
            if resumed.status is None and task_id in tasks:
                if resumed.in_attempt and resumed.started_at is not None:
                    self._resumed_at[task_id] = resumed.started_at
                if task_id not in state.current:
                    self._unjournaled.add(task_id)
        for step in self.runbook.steps:
            ends = [state.tasks.get(t.id) for t in tasks.values() if t.step == step.id]
            if isinstance(step, IsolateStep) and ends and all(e is not None and e.status is TaskStatus.SUCCEEDED for e in ends):
                await self._make_network(None, step)

    def _made_vm(self, task: Task) -> str | None:
        """The VM a task taken on mid-attempt by a resumed run had already created (journaled): read, not created
        again (a VM's PUT is not idempotent when it carries a new OS profile). One whose PUT was accepted but
        not journaled is found by its name (CloudProvider.find_vm, image.deploy)."""
        if task.id not in self._resumed_at:
            return None
        return next((c.id for c in self.created.values() if c.task == task.id and c.resource_kind is ResourceKind.VM), None)

    async def _accepted_unjournaled(self, task: Task, kind: JobKind, source_id: str) -> Job | None:
        """A resumed run's restore or test failover the cloud may have accepted just before the previous
        process stopped, before its job id was journaled: found as the cloud shows it, started since the
        task's attempt did (once: what this process starts, it journals)."""
        self._unjournaled.discard(task.id)
        since = self._resumed_at.get(task.id)
        if since is None:
            return None
        found = await self.provider.find_job(kind, source_id, since=since)
        if found is not None and kind is JobKind.TEST_FAILOVER:
            self.provider.adopt_job(found.id, tags=self.tags)
        return found

    # ------------------------------------------------------------------------------- dispatch

    def run_op(self, task: Task, op: Op, state: TaskState) -> Awaitable[None]:
        """The coroutine that carries out one operation (returned, not awaited here: the executor
        awaits it, one frame less per operation)."""
        works = self._work
        work = works[task.id] if task.id in works else None  # noqa: SIM401 - a subscript, not .get: one call less per operation
        if work is None:
            work = works[task.id] = TaskWork()
        step = self._steps[task.step]
        kind = op.kind
        if kind is OpKind.HUMAN and self.people is not None:
            return self._human(task, state, step)
        if kind is OpKind.HUMAN or kind is OpKind.WAIT:
            seconds = op.seconds or 0.0
            if self._resumed_at and task.id in self._resumed_at:  # a resumed run waits what is left of it
                seconds = max(0.0, seconds - (self.clock.now() - self._resumed_at.pop(task.id)).total_seconds())
            return self.clock.sleep(seconds)
        cls = step.__class__
        if cls is SnapshotCloneStep:
            if TYPE_CHECKING:  # for the type checker only: no call per operation
                assert isinstance(step, SnapshotCloneStep)
            return self._clone(task, op, state, work, step)
        if cls is IsolateStep:
            if TYPE_CHECKING:  # for the type checker only: no call per operation
                assert isinstance(step, IsolateStep)
            return self._isolate(task, op, step)
        if cls is AsrStep:
            if TYPE_CHECKING:  # for the type checker only: no call per operation
                assert isinstance(step, AsrStep)
            return self._asr(task, op, state, work, step)
        if cls is BackupStep:
            if TYPE_CHECKING:  # for the type checker only: no call per operation
                assert isinstance(step, BackupStep)
            return self._backup(task, op, state, work, step)
        if cls is ImageDeployStep:
            if TYPE_CHECKING:  # for the type checker only: no call per operation
                assert isinstance(step, ImageDeployStep)
            return self._deploy(task, op, state, work, step)
        if kind is OpKind.WAIT_BOOT:
            return self._check_boot(task)
        if kind is OpKind.READ_CANARY:
            if TYPE_CHECKING:  # for the type checker only: no call per operation
                assert isinstance(step, CheckCanaryStep)
            return self._check_canary(task, step)
        raise AssertionError(f"no action for {task.action} {op.kind}")  # pragma: no cover - the task graph makes only these

    # ------------------------------------------------------------------------------ people

    async def _human(self, task: Task, state: TaskState, step: Step) -> None:
        """A person declares or approves (a real-time run): the wait and the answer are journaled."""
        assert self.people is not None
        if task.id in self._acted:
            self._acted.discard(task.id)
            return  # a resumed run: the person answered before drsim stopped (human.acted is journaled)
        since = self.clock.now()
        timeout = step.timeout.total_seconds() if step.timeout is not None else None
        who = getattr(step.with_, "who", None)
        waiting = HumanWaiting(since, task.id, task.step, task.action, state.attempts, since, timeout, self.participants, who)
        self.emit(waiting)
        answer = await self.people.answer(HumanRequest(waiting, self.run_dir))
        at = self.clock.now()
        waited = round((at - since).total_seconds(), 3)
        self.emit(HumanActed(at, task.id, task.step, task.action, state.attempts, answer.by, answer.role, answer.note, waited, answer.via))
        self.people.taken(answer)

    # ----------------------------------------------------------------------------- network

    async def _isolate(self, task: Task, op: Op, step: IsolateStep) -> None:
        if op.kind is OpKind.CREATE_NETWORK:
            await self._make_network(task, step)
        else:
            network = self._network(step.id)
            report = self.isolation[network.id] = await self.provider.check_isolation(network.id)
            if not report.isolated:
                raise CheckFailure(f"network {network.name} is not isolated: {'; '.join(report.reasons())}")

    async def _make_network(self, task: Task | None, step: IsolateStep) -> None:
        w = step.with_
        by_name = {vm.network: p.network_id for name, p in self.production.items() if (vm := self.vms[name]) and p.network_id}
        network = await self.provider.create_isolated_network(
            name=self.name(step.id),
            region=w.region,
            cidr=str(w.cidr),
            tags=self.tags,
            peer_with=[by_name.get(peer, peer) for peer in w.peer_with],
            allow_outbound=w.allow_outbound,
        )
        self._record(task, network.id, ResourceKind.NETWORK, network.name, network.region)
        if network.nsg_id:
            self._record(task, network.nsg_id, ResourceKind.NSG, network.nsg_id.rsplit("/", 1)[-1], network.region)
        self.networks[step.id] = network

    # ------------------------------------------------------------------------ Site Recovery

    async def _asr(self, task: Task, op: Op, state: TaskState, work: TaskWork, step: AsrStep) -> None:
        assert task.vm is not None
        w = step.with_
        source_id = self._prod_id(task.vm)
        if op.kind is OpKind.FIND_POINT:
            if work.job_id is not None:  # a resumed run re-attached to the job: its point was journaled with it
                return
            points = [p for p in await self.provider.list_replication_points(source_id) if p.processed]
            if w.recovery_point is ReplicationPointChoice.LATEST_APP_CONSISTENT:
                points = [p for p in points if p.type is PointType.APP_CONSISTENT]
            elif w.recovery_point is ReplicationPointChoice.LATEST_MULTI_VM_PROCESSED:
                points = [p for p in points if p.group is not None]
            if not points:
                raise NotFoundError(f"no {w.recovery_point.value} Site Recovery point of {task.vm}")
            work.replication_point = self._group_point(task, step, task.vm, points)
            return
        network = self._network(w.network)
        if work.job_id is None:
            point = work.replication_point
            ref = RecoveryPointRef(point.id, point.time, point.type.value, None, network.region) if point is not None else None
            found = await self._accepted_unjournaled(task, JobKind.TEST_FAILOVER, source_id) if self._unjournaled else None
            if found is None:
                await self.require_isolated(network, task.vm)
                job = await self.provider.test_failover(
                    source_id, choice=w.recovery_point, network_id=network.id, tags=self.tags, point_id=point.id if point else None
                )
            else:
                job = found
            work.job_id = job.id
            # Journaled before the wait: whatever ends the run now, cleanup ends this test failover.
            self.test_failovers[task.vm] = TestFailoverRecord(task.vm, source_id, (), job.id, task.id, network.region, ended=False)
            self.emit(
                OperationAccepted(
                    at=self.clock.now(), task=task.id, vm=task.vm, operation=job.kind.value, job=job.id, target=source_id, point=ref
                )
            )
        job = await self._follow(await self.provider.get_job(work.job_id))
        self._record_job(task, job, network.region)
        self.test_failovers[task.vm] = TestFailoverRecord(task.vm, source_id, job.created, job.id, task.id, network.region)
        if job.status is not JobStatus.SUCCEEDED:
            work.job_id, work.point = None, None
            raise job_failed(job, f"test failover of {task.vm}")
        vm_id = next((r for r in job.created if kind_of(r) is ResourceKind.VM), None)
        if vm_id is None:
            raise ProviderError(f"test failover job {job.id} of {task.vm} created no VM")
        chosen = work.replication_point
        if work.point is not None:
            ref = work.point
        elif chosen is not None:
            ref = RecoveryPointRef(chosen.id, chosen.time, chosen.type.value, None, network.region)
        else:
            assert job.recovery_point_time is not None, "a finished test failover names its recovery point"
            ref = RecoveryPointRef(f"{job.id}#latest", job.recovery_point_time, PointType.CRASH_CONSISTENT.value, None, network.region)
        self._recovered(task, state, vm_id, ref)

    def _group_point(self, task: Task, step: AsrStep, vm: str, points: list[ReplicationPoint]) -> ReplicationPoint:
        """The newest point; for latest-multi-vm-processed, the instant the VM's consistency group fails
        over to: the first VM of the group to look fixes it and journals it (group.instant, before any VM
        of the group fails over: a resumed run restores it), the others (in any step: a recovery plan
        fails a group over tier by tier) take their point of that instant."""
        newest = max(points, key=lambda p: (p.time, p.id))
        if step.with_.recovery_point is not ReplicationPointChoice.LATEST_MULTI_VM_PROCESSED or newest.group is None:
            return newest
        instant = self._group_instants.get(newest.group)
        if instant is None:
            instant = self._group_instants[newest.group] = newest.time
            self.emit(GroupInstantChosen(self.clock.now(), task.id, vm, newest.group, instant))
        same = [p for p in points if p.time == instant]
        if not same:
            raise NotFoundError(
                f"{vm} has no multi-VM point at {instant.isoformat()}, the instant its consistency group {newest.group} fails over to"
            )
        return max(same, key=lambda p: p.id)

    # -------------------------------------------------------------------------- Azure Backup

    async def _backup(self, task: Task, op: Op, state: TaskState, work: TaskWork, step: BackupStep) -> None:
        assert task.vm is not None
        w = step.with_
        spec = self.vms[task.vm]
        source_id = self._prod_id(task.vm)
        cross_region = w.region is not None and w.region != spec.region
        if op.kind is OpKind.FIND_POINT:
            if work.job_id is not None:  # a resumed run re-attached to the job: its point was journaled with it
                return
            points = await self.provider.list_backup_points(source_id, region=w.region if cross_region else None)
            work.backup_point = self._choose_backup_point(task.vm, points, w.point, w.tier, cross_region)
            return
        point = work.backup_point
        region = w.region or spec.region
        network = self._network(w.network)
        if op.kind is OpKind.RESTORE:  # the only other operation of backup.restore
            if work.job_id is None:
                # The point is chosen again as the restore starts, as an operator would choose it then: a
                # restore that waited for a slot takes the newest point by then, and `auto` the tier the
                # point still has (instant-restore snapshots expire: azure-facts.md, Azure Backup).
                listed = await self.provider.list_backup_points(source_id, region=w.region if cross_region else None)
                point = work.backup_point = self._choose_backup_point(task.vm, listed, w.point, w.tier, cross_region)
                mode = RestoreMode.VM if w.restore_as is RestoreAs.VM else RestoreMode.DISKS
                name = self.name(task.vm, task.step)
                asked = self._restore_tier(point, w.tier, cross_region)
                found = await self._accepted_unjournaled(task, JobKind.RESTORE, source_id) if self._unjournaled else None
                if found is None:
                    if mode is RestoreMode.VM:
                        await self.require_isolated(network, task.vm)
                    job = await self.provider.restore_backup(
                        source_id, point.id, mode=mode, tier=asked, region=region, network_id=network.id, name=name, tags=self.tags
                    )
                else:
                    job = found
                    self.provider.adopt_job(job.id, tags=self.tags, mode=mode, target=name, tier=job.tier or asked)
                work.job_id = job.id
                # Journaled before drsim waits: whatever ends the run, cleanup knows this restore is in flight.
                self.restores[job.id] = RestoreRecord(task.id, task.vm, job.id, mode, name, region)
                used = job.tier or asked
                accepted = OperationAccepted(
                    at=self.clock.now(),
                    task=task.id,
                    vm=task.vm,
                    operation=JobKind.RESTORE.value,
                    job=job.id,
                    target=name,
                    mode=mode.value,
                    point=RecoveryPointRef(point.id, point.time, point.type.value, used.value if used else None, point.region),
                )
                self.emit(accepted)
            job = await self._follow(await self.provider.get_job(work.job_id))
            self._record_job(task, job, region)
            self._restore_ended(job)
            if job.status is not JobStatus.SUCCEEDED:
                work.job_id, work.point = None, None
                raise job_failed(job, f"restore of {task.vm}")
            # The tier the restore really used, as the cloud reports it (Azure: the snapshot when the point had one).
            if work.point is not None:  # re-attached by a resumed run: the point as journaled when Azure accepted the restore
                ref = work.point if job.tier is None else replace(work.point, tier=job.tier.value)
            else:
                assert point is not None
                tier = job.tier or self._restore_tier(point, w.tier, cross_region)
                ref = RecoveryPointRef(point.id, point.time, point.type.value, tier.value if tier else None, point.region)
            if w.restore_as is RestoreAs.VM:
                vm_id = next((r for r in job.created if kind_of(r) is ResourceKind.VM), None)
                if vm_id is None:
                    raise ProviderError(f"restore job {job.id} of {task.vm} created no VM")
                self._recovered(task, state, vm_id, ref)
            else:
                state.recovery_point = ref  # disks only (RESTORE_DISKS): the data is back, no VM runs
            return

    def _restore_ended(self, job: Job) -> None:
        record = self.restores.get(job.id)
        if record is not None and job.status.ended:
            record.ended = True

    def record_restore(self, job: Job) -> None:
        """Record what an ended restore created (cleanup calls it for a restore the run stopped following)."""
        record = self.restores.get(job.id)
        if record is not None:
            self.record_job(None, job, record.region)
            self._restore_ended(job)

    def _choose_backup_point(
        self, vm: str, points: list[BackupPoint], choice: BackupPointChoice, tier: BackupTier, cross_region: bool
    ) -> BackupPoint:
        usable = list(points)
        if cross_region or tier is BackupTier.VAULT:
            # Cross-region restore never uses snapshot-tier points (reliability-backup).
            usable = [p for p in usable if PointTier.VAULT in p.tiers]
        elif tier is BackupTier.SNAPSHOT:
            usable = [p for p in usable if PointTier.SNAPSHOT in p.tiers]
        if choice is BackupPointChoice.LATEST_APP_CONSISTENT:
            usable = [p for p in usable if p.type is PointType.APP_CONSISTENT]
        elif choice is BackupPointChoice.BEFORE_INCIDENT:
            # The last clean point: strictly before the incident (ransomware, corruption).
            usable = [p for p in usable if p.time < self.incident_at]
        if not usable:
            where = " in the paired region" if cross_region else ""
            raise NotFoundError(f"no Azure Backup point of {vm}{where} matches point: {choice.value}, tier: {tier.value}")
        return max(usable, key=lambda p: (p.time, p.id))

    @staticmethod
    def _restore_tier(point: BackupPoint, tier: BackupTier, cross_region: bool) -> PointTier:
        if tier is BackupTier.SNAPSHOT:
            return PointTier.SNAPSHOT
        if tier is BackupTier.VAULT or cross_region:
            return PointTier.VAULT
        # auto: restore uses the snapshot when one exists (azure-facts.md, Azure Backup consistency).
        return PointTier.SNAPSHOT if PointTier.SNAPSHOT in point.tiers else PointTier.VAULT

    # ---------------------------------------------------------------------- snapshot clone

    def _clone(self, task: Task, op: Op, state: TaskState, work: TaskWork, step: SnapshotCloneStep) -> Awaitable[None]:
        kind = op.kind
        if kind is OpKind.SNAPSHOT:
            return self._snapshot_disk(task, op, work, step)
        if kind is OpKind.CREATE_DISK:
            return self._disk_from_snapshot(task, op, work, step)
        if kind is OpKind.CREATE_VM:
            return self._vm_on_disks(task, state, work, step)
        if kind is OpKind.FIND_SNAPSHOT:
            return self._find_snapshot(task, op, work, step)
        if kind is OpKind.COPY_SNAPSHOT:
            return self._copy_snapshot(task, op, work, step)
        raise AssertionError(f"no snapshot.clone operation {kind}")  # pragma: no cover

    async def _vm_on_disks(self, task: Task, state: TaskState, work: TaskWork, step: SnapshotCloneStep) -> None:
        assert task.vm is not None
        spec = self.vms[task.vm]
        network = self._network(step.with_.network)
        region = network.region
        await self.require_isolated(network, task.vm)
        made = self._made_vm(task) if self._resumed_at else None
        vm = (
            await self.provider.get_vm(made)
            if made is not None
            else await self.provider.create_vm(
                name=self.name(task.vm, task.step),
                region=region,
                size=spec.size,
                os=spec.os,
                disk_ids=[work.disks[d.name].id for d in spec.disks],
                network_id=network.id,
                tags=self.tags,
            )
        )
        self._record(task, vm.id, ResourceKind.VM, vm.name, vm.region)
        oldest = min(work.snapshots.values(), key=_snapshot_order)
        ref = RecoveryPointRef(oldest.id, oldest.taken_at, PointType.CRASH_CONSISTENT.value, "snapshot", region)
        self._recovered(task, state, vm.id, ref)

    async def _snapshot_disk(self, task: Task, op: Op, work: TaskWork, step: SnapshotCloneStep) -> None:
        # Production is read-only to a drill except for snapshots of its disks (DESIGN.md safety rules).
        vm, disk = task.vm, op.disk
        assert vm is not None and disk is not None
        self._network(step.with_.network)  # the clone's network exists before anything is made for it
        disk_id = self._prod_disk_id(vm, self._disk_index[vm][disk])
        snap = await self.provider.create_snapshot(disk_id, name=self.name(vm, disk, "snap"), incremental=True, tags=self.tags)
        self._record(task, snap.id, ResourceKind.SNAPSHOT, snap.name, snap.region)
        work.snapshots[disk] = snap

    async def _find_snapshot(self, task: Task, op: Op, work: TaskWork, step: SnapshotCloneStep) -> None:
        vm, disk = task.vm, op.disk
        assert vm is not None and disk is not None
        region = self._network(step.with_.network).region
        disk_id = self._prod_disk_id(vm, self._disk_index[vm][disk])
        work.snapshots[disk] = self._scheduled_snapshot(vm, disk, await self.provider.list_snapshots(disk_id), region)

    async def _copy_snapshot(self, task: Task, op: Op, work: TaskWork, step: SnapshotCloneStep) -> None:
        vm, disk = task.vm, op.disk
        assert vm is not None and disk is not None
        region = self._network(step.with_.network).region
        copy = await self.provider.copy_snapshot(work.snapshots[disk].id, name=self.name(vm, disk, "copy"), region=region, tags=self.tags)
        self._record(task, copy.id, ResourceKind.SNAPSHOT, copy.name, copy.region)
        work.snapshots[disk] = copy

    async def _disk_from_snapshot(self, task: Task, op: Op, work: TaskWork, step: SnapshotCloneStep) -> None:
        vm, disk = task.vm, op.disk
        assert vm is not None and disk is not None
        region = self._network(step.with_.network).region
        sku = self.vms[vm].disks[self._disk_index[vm][disk]].sku  # the production disk's (azure: not ARM's default)
        created = await self.provider.create_disk(work.snapshots[disk].id, name=self.name(vm, disk), region=region, tags=self.tags, sku=sku)
        self._record(task, created.id, ResourceKind.DISK, created.name, created.region)
        work.disks[disk] = created

    def _scheduled_snapshot(self, vm: str, disk: str, snapshots: list[Snapshot], region: str) -> Snapshot:
        now = self.clock.now()
        scheduled = [s for s in snapshots if RUN_TAG not in s.tags and s.taken_at <= now]
        there = [s for s in scheduled if s.region == region]
        pick = there or scheduled
        if not pick:
            raise NotFoundError(f"no scheduled snapshot of disk {disk} of {vm}")
        return max(pick, key=lambda s: (s.taken_at, s.id))

    # ------------------------------------------------------------------------------- images

    async def _deploy(self, task: Task, op: Op, state: TaskState, work: TaskWork, step: ImageDeployStep) -> None:
        w = step.with_
        golden_id = self._prod_id(w.image_of)
        if op.kind is OpKind.FIND_IMAGE:
            images = [
                i
                for i in await self.provider.list_images()
                if i.source_vm_id == golden_id and i.region == w.region and RUN_TAG not in i.tags
            ]
            if not images:
                # Images are regional: one must be kept in the recovery region (azure-facts.md, Images).
                raise NotFoundError(f"no managed image of {w.image_of} in {w.region}")
            work.image = min(images, key=lambda i: i.id)
            return
        assert work.image is not None and task.vm is not None
        network = self._network(w.network)
        await self.require_isolated(network, task.vm)
        size = self.vms[task.vm].size if task.vm in self.vms else self.vms[w.image_of].size
        # At most 20 simultaneous deployments from one managed image (azure-facts.md, Images;
        # capture-image-resource): the rest of a fleet waits its turn instead of failing.
        slots = self._image_slots.setdefault(work.image.id, SlotLimit(MAX_IMAGE_DEPLOYMENTS))
        handed = slots.take()
        if handed is not None:
            try:
                await handed
            except asyncio.CancelledError:
                if handed.done() and not handed.cancelled():
                    slots.give_back()  # handed a slot just as the task was cancelled
                raise
        try:
            name = self.name(task.vm.replace("#", "-"), task.step)
            made = self._made_vm(task) if self._resumed_at else None
            if made is not None:
                vm = await self.provider.get_vm(made)
            else:
                # A resumed run takes the VM the stopped process had asked for (its PUT accepted, not yet
                # journaled) as the cloud shows it: a PUT again would carry a new adminPassword, refused.
                found = await self.provider.find_vm(name, tags=self.tags) if task.id in self._resumed_at else None
                if found is not None:
                    vm = found
                else:
                    vm = await self.provider.create_vm_from_image(
                        work.image.id, name=name, region=w.region, size=size, network_id=network.id, tags=self.tags
                    )
        finally:
            slots.give_back()
        self._record(task, vm.id, ResourceKind.VM, vm.name, vm.region)
        for disk_id in vm.disk_ids:  # a VM from an image gets new disks of its own
            self._record(task, disk_id, ResourceKind.DISK, disk_id.rsplit("/", 1)[-1], vm.region)
        if task.vm in self.vms:
            self._recovered(task, state, vm.id, None)
        else:  # one of `count` new VMs: check.boot of the image's VM checks the whole fleet
            state.recovered_vm = vm.id
            self.fleets.setdefault(w.image_of, []).append(vm.id)

    # ------------------------------------------------------------------------------- checks

    def _counterpart(self, vm: str) -> Recovered:
        found = self.recovered.get(vm)
        if found is None:
            raise CheckFailure(f"{vm} was not recovered by any step before this check")
        return found

    async def _check_boot(self, task: Task) -> None:
        """Boot diagnostics of the VM's recovered counterpart (or of every VM deployed by count from
        its image) until all have booted."""
        assert task.vm is not None
        fleet = task.vm not in self.recovered and task.vm in self.fleets
        pending = list(self.fleets[task.vm]) if fleet else [self._counterpart(task.vm).vm_id]
        for reads in range(1, BOOT_POLLS + 1):
            pending = [vm_id for vm_id in pending if not (await self.provider.get_vm(vm_id)).booted]
            if not pending:
                self.emit(
                    CheckResult(
                        at=self.clock.now(),
                        task=task.id,
                        check=CheckKind.BOOT,
                        vm=task.vm,
                        app=self._apps.get(task.vm),
                        passed=True,
                        reachable=True,
                        healthy_at=self.clock.now(),
                        reads=reads,
                    )
                )
                return
            await self.clock.sleep(BOOT_POLL_S)
        within = f"within {BOOT_POLLS * BOOT_POLL_S / 60:g} minutes"
        if fleet:
            reason = f"{len(pending)} of the {len(self.fleets[task.vm])} VMs deployed from the image of {task.vm} did not boot {within}"
        else:
            reason = f"{task.vm} did not boot {within}"
        self.emit(
            CheckResult(
                at=self.clock.now(),
                task=task.id,
                check=CheckKind.BOOT,
                vm=task.vm,
                app=self._apps.get(task.vm),
                passed=False,
                reachable=False,
                healthy_at=None,
                reads=BOOT_POLLS,
                reason=reason,
            )
        )
        raise CheckFailure(reason)

    async def _check_canary(self, task: Task, step: CheckCanaryStep) -> None:
        """Read the newest canary until `consecutive` reads in a row pass; corruption or an
        inconsistent volume fails at once (the recovered data will not heal)."""
        assert task.vm is not None
        recovered = self._counterpart(task.vm)
        app = step.with_.app or self._apps.get(task.vm)
        needed = step.with_.consecutive
        # Only the production VM's markers count (the recovered VM may run a writer of its own).
        origin = self.production[task.vm].id if task.vm in self.production else self.inventory.get(task.vm)
        passes, unreachable, reads = 0, 0, 0
        first_pass: datetime | None = None
        while True:
            reading = await self.provider.read_canary(
                recovered.vm_id, origin_id=origin, origin_uuid=self.vms[task.vm].vm_uuid, not_after=self.incident_at
            )
            reads += 1
            reason: str | None = None
            if not reading.reachable:
                passes, first_pass = 0, None
                unreachable += 1
                reason = f"{task.vm}'s recovered VM did not answer the canary check"
            else:
                unreachable = 0
                broken = [v for v in reading.volumes if not v.consistent]
                if reading.corrupted:
                    reason = f"the data recovered for {task.vm} holds the incident's corruption"
                elif any(v.problem for v in broken):
                    reason = f"{task.vm}'s recovered data fails the canary check: " + "; ".join(v.problem or v.name for v in broken)
                elif broken:
                    names = ", ".join(v.name for v in broken)
                    reason = f"volume {names} of {task.vm} is inconsistent (its disks were captured at different instants)"
                else:
                    if passes == 0:
                        first_pass = self.clock.now()
                    passes += 1
            final = passes >= needed or (reason is not None and (reading.reachable or unreachable >= UNREACHABLE_READS))
            if final:
                self.emit(
                    self._canary_result(
                        task, app, reading, recovered, passed=passes >= needed, healthy_at=first_pass, reads=reads, reason=reason
                    )
                )
                if passes >= needed:
                    return
                assert reason is not None
                raise CheckFailure(reason)
            await self.clock.sleep(CANARY_READ_INTERVAL_S)

    def _canary_result(
        self,
        task: Task,
        app: str | None,
        reading: CanaryReading,
        recovered: Recovered,
        *,
        passed: bool,
        healthy_at: datetime | None,
        reads: int,
        reason: str | None,
    ) -> CheckResult:
        assert task.vm is not None
        marker = reading.last_marker_at
        measured = round(max(0.0, (self.incident_at - marker).total_seconds()), 3) if marker is not None else None
        point = recovered.point
        claimed = round(max(0.0, (self.incident_at - point.time).total_seconds()), 3) if point is not None else None
        return CheckResult(
            at=self.clock.now(),
            task=task.id,
            check=CheckKind.CANARY,
            vm=task.vm,
            app=app,
            passed=passed,
            reachable=reading.reachable,
            healthy_at=healthy_at if passed else None,
            reads=reads,
            last_marker_at=marker,
            measured_rpo_s=measured,
            claimed_rpo_s=claimed,
            consistent=reading.consistent if reading.reachable else None,
            corrupted=reading.corrupted if reading.reachable else None,
            volumes=tuple(VolumeCheck(v.name, v.consistent, v.disk_instants) for v in reading.volumes),
            reason=reason if not passed else None,
        )


def _snapshot_order(snapshot: Snapshot) -> tuple[datetime, str]:
    return snapshot.taken_at, snapshot.id


def vm_app(estate: Estate, vm: VmSpec) -> str | None:
    """The first application whose selector matches the VM."""
    return next((a.name for a in estate.apps if selector_matches(a.vms, vm.name, vm.tags)), None)
