"""One drill run against any provider: plan, execute, clean up, measure, journal.

`execute(spec, provider=..., clock=..., sink=..., planned=...)` is the provider-agnostic core (any
CloudProvider, any Clock); `plan_drill(...)` is the dry run: the task graph, the predicted critical
path and what would be created. Wiring a provider, a clock and a run directory to them is
drsim.drills' work.
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property, partial
from pathlib import Path
from typing import Protocol

from drsim import __version__
from drsim.clock import Clock
from drsim.cloud.api import CloudProvider, ResourceKind
from drsim.engine.actions import CloudActions
from drsim.engine.cleanup import Cleanup
from drsim.engine.executor import Executor, StepPolicy
from drsim.engine.journal import JournalWriter
from drsim.engine.people import People
from drsim.engine.resume import ResumeState
from drsim.engine.retry import call_with_retries
from drsim.engine.runtime import current_runtime
from drsim.engine.taskgraph import (
    CriticalPath,
    Estimator,
    Op,
    OpKind,
    Task,
    TaskGraph,
    build_task_graph,
    critical_path,
    estimate_op,
    task_chain,
)
from drsim.errors import JournalError, ProviderError
from drsim.measure.events import (
    AppMeasured,
    Event,
    InputFile,
    Performed,
    Person,
    PlanMade,
    PlannedTask,
    PredictionMade,
    RunFinished,
    RunResumed,
    RunStarted,
    TaskFinished,
    TaskStarted,
)
from drsim.measure.result import DrillResult, TaskStatus
from drsim.measure.timeline import RunTimeline, measure_apps, run_status
from drsim.model.documents import BackupStep, Estate, ProtectionPlan, Runbook
from drsim.model.types import CleanupPolicy, RestoreAs

JOURNAL = "journal.jsonl"
RESULT = "result.json"


# ------------------------------------------------------------------------------------ public records


class RunObserver(Protocol):
    """Watches a run: every event as it happens, then the outcome (progress display, reports)."""

    def on_event(self, event: Event) -> None: ...

    def on_finished(self, outcome: RunOutcome) -> None: ...


@dataclass(frozen=True)
class PlannedResource:
    """What a task would create (the dry run's answer)."""

    task: str
    kind: ResourceKind
    what: str


@dataclass(frozen=True)
class DrillPlan:
    """A drill planned but not run: its task graph, predicted critical path and creations."""

    drill: str
    graph: TaskGraph
    critical: CriticalPath
    estimates: Estimator
    runbook: Runbook
    estate: Estate

    @cached_property
    def creates(self) -> tuple[PlannedResource, ...]:
        """What the tasks would create (worked out when asked: the dry run shows it)."""
        return _creations(self.graph, self.estate, self.runbook)


@dataclass(frozen=True)
class RunOutcome:
    """What a run produced. `result` is None for a dry run."""

    drill: str
    run_id: str
    run_dir: Path | None
    plan: DrillPlan
    result: DrillResult | None = None
    events: tuple[Event, ...] = ()
    apps: tuple[AppMeasured, ...] = ()
    makespan_s: float | None = None  # first task start to last task end (virtual seconds in the simulator)
    realized: CriticalPath | None = None  # critical path and lower bound from the durations observed
    operations: int = 0  # provider operations carried out (for throughput figures)
    resumed_lines: int = 0

    @property
    def exit_code(self) -> int:
        return 0 if self.result is None else self.result.status.exit_code

    @property
    def journal_path(self) -> Path | None:
        return self.run_dir / JOURNAL if self.run_dir else None

    @property
    def result_path(self) -> Path | None:
        return self.run_dir / RESULT if self.run_dir else None


# ------------------------------------------------------------------------------------- the core


class EventSink:
    """Collects a run's events, writes them to the journal and tells the observers."""

    def __init__(self, journal: JournalWriter | None, observers: Sequence[RunObserver]) -> None:
        self.events: list[Event] = []
        self.journal = journal
        self.observers = tuple(observers)
        self.failure: BaseException | None = None
        self.on_failure: Callable[[BaseException], None] | None = None
        # What the engine calls with each event: with no journal and nobody watching (a simulated run in
        # memory, a comparison's trial), the list's own append.
        self.emit: Callable[[Event], None] = self.events.append if journal is None and not self.observers else self

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if self.journal is not None and self.failure is None:
            try:
                self.journal.write(event)
            except (JournalError, OSError) as exc:
                self.failure = exc
                if self.on_failure is not None:
                    self.on_failure(exc)
        for observer in self.observers:
            observer.on_event(event)


@dataclass(repr=False)
class Execution:
    """The live state of one run, kept for the outcome.

    No generated repr: asyncio's Runner formats the main task (and so its result, this) when it puts
    back the Ctrl-C handler (Azure runs), and the repr of a large run's events would take seconds.
    """

    events: list[Event]
    executor: Executor | None = None
    apps: list[AppMeasured] = field(default_factory=list)


@dataclass(frozen=True)
class RunSpec:
    """What one run is: its documents, identity, incident and limits (everything `execute` needs
    besides the provider, the clock and where the events go).

    `production_ids` / `production_disk_ids` give the ids the inventory knew before the incident, for
    VMs discovery cannot see; `name_key` makes created names deterministic; `controls` (the drill's
    evidence.controls) are journaled on run.started for the reports."""

    drill_name: str
    runbook: Runbook
    estate: Estate
    plan: ProtectionPlan
    run_id: str
    seed: int
    incident_at: datetime
    detected_at: datetime
    concurrency: int
    catalog_version: str | None = None
    production_ids: Callable[[str], str | None] = lambda name: None
    production_disk_ids: Callable[[str], Sequence[str] | None] = lambda name: None
    name_key: str | None = None
    controls: tuple[str, ...] = ()
    drill_file: str | None = None
    inputs: tuple[InputFile, ...] = ()
    emulated: bool = False
    performed: Performed | None = None
    people: People | None = None  # who answers manual steps in a real-time run (None: virtual time, their durations)
    participants: tuple[Person, ...] = ()  # the drill's expected participants
    run_dir: Path | None = None  # where `drsim drill approve` leaves approvals
    journal_operations: bool = False  # operation.finished for each operation (real-time runs; calibration reads them)
    prediction: PredictionMade | None = None  # the twin's prediction, journaled after the plan (`at`: when it is journaled)


async def execute(
    spec: RunSpec,
    *,
    provider: CloudProvider,
    clock: Clock,
    sink: EventSink,
    planned: DrillPlan,
    handle_signals: bool = False,
    resume: ResumeState | None = None,
) -> Execution:
    """Run a drill against a provider: execute the planned task graph, clean up, measure. Emits every
    event to `sink`. `planned` is plan_drill(...) of the spec's documents and concurrency.

    `resume`: go on with a run against a real cloud from its journal (drsim.engine.resume), whose events
    `sink` holds already: what ended is not done or journaled again, what was running is taken on."""
    runbook, estate, plan = spec.runbook, spec.estate, spec.plan
    emit = sink.emit
    state = Execution(sink.events)
    rng = random.Random(f"drsim-engine/{spec.seed}")
    graph = planned.graph
    if resume is None:
        _start(spec, provider, clock, emit, planned)
    actions = CloudActions(
        provider=provider,
        clock=clock,
        runbook=runbook,
        estate=estate,
        plan=plan,
        run_id=spec.run_id,
        incident_at=spec.incident_at,
        emit=emit,
        name_key=spec.name_key,
        people=spec.people,
        participants=spec.participants,
        run_dir=spec.run_dir,
    )
    await _discover(actions, clock, rng, spec.production_ids, spec.production_disk_ids)
    if resume is not None:
        await actions.resume_from(resume, {t.id: t for t in graph.tasks})
        emit(RunResumed(at=clock.now(), replayed=len(resume.events)))  # the run goes on from here
    runtime = current_runtime()
    policies = {s.id: StepPolicy(timeout=s.timeout, retries=s.retries, allow_failure=s.allow_failure) for s in runbook.steps}
    executor = Executor(
        graph,
        actions,
        clock=clock,
        emit=emit,
        concurrency=spec.concurrency,
        policies=policies,
        rng=rng,
        runtime=runtime,
        journal_operations=spec.journal_operations,
        resumed=resume.tasks if resume is not None else None,
    )
    state.executor = executor

    sink.on_failure = lambda exc: executor.abort(f"the journal could not be written: {exc}")
    signals = (signal.SIGINT, signal.SIGTERM) if handle_signals and threading.current_thread() is threading.main_thread() else ()
    previous = {}
    cleanup = Cleanup(
        actions,
        clock=clock,
        emit=emit,
        concurrency=spec.concurrency,
        rng=rng,
        deleted=resume.deleted if resume is not None else (),
        failovers_cleaned=resume.failovers_cleaned if resume is not None else (),
    )
    interrupts = 0
    for sig in signals:
        # A Python-level handler (not loop.add_signal_handler: the virtual kernel has no self-pipe to
        # poll): it runs between bytecodes and hands the abort to the loop. The first signal aborts
        # the run (cleanup still runs); the next one stops the cleanup.
        def on_signal(number: int, _frame: object) -> None:
            nonlocal interrupts
            interrupts += 1
            name = signal.Signals(number).name
            if interrupts == 1:
                runtime.call_soon_threadsafe(executor.abort, f"{name} received")
            else:
                runtime.call_soon_threadsafe(cleanup.stop, f"{name} received again")

        previous[sig] = signal.signal(sig, on_signal)
    try:
        await executor.run()
        policy = runbook.cleanup
        if executor.aborted is not None and policy is CleanupPolicy.ON_SUCCESS:
            policy = CleanupPolicy.ALWAYS  # an interrupted drill still cleans up
        # Whether the run went well decides `on-success` only (and measuring a large run takes a while).
        run_ok = policy is not CleanupPolicy.ON_SUCCESS or (
            executor.aborted is None
            and all(s.status is TaskStatus.SUCCEEDED for s in executor.states.values())
            and not any(a.rto_met is False or a.rpo_met is False for a in measure_apps(sink.events, runbook, estate))
        )
        if resume is None or resume.cleanup_finished is None:  # a resumed run whose cleanup had finished does not clean up again
            await cleanup.run(policy, run_ok=run_ok)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    timeline = RunTimeline(sink.events)
    state.apps = measure_apps(timeline, runbook, estate)
    for app in state.apps:
        if resume is None or app.app not in resume.measured:
            emit(app)
    emit(RunFinished(at=clock.now(), status=run_status(timeline, state.apps), error=executor.aborted))
    return state


def _start(spec: RunSpec, provider: CloudProvider, clock: Clock, emit: Callable[[Event], None], planned: DrillPlan) -> None:
    """Journal the run's start and its plan."""
    runbook, estate, plan = spec.runbook, spec.estate, spec.plan
    graph, critical = planned.graph, planned.critical
    emit(
        RunStarted(
            at=clock.now(),
            run_id=spec.run_id,
            drill=spec.drill_name,
            runbook=runbook.name,
            estate=estate.name,
            plan=plan.name,
            provider=provider.name,
            seed=spec.seed,
            incident_at=spec.incident_at,
            detected_at=spec.detected_at,
            drsim_version=__version__,
            catalog_version=spec.catalog_version,
            concurrency=spec.concurrency,
            cleanup=runbook.cleanup,
            controls=spec.controls,
            drill_file=spec.drill_file,
            inputs=spec.inputs,
            emulated=spec.emulated,
            performed=spec.performed,
        )
    )
    emit(_plan_event(clock.now(), graph, critical, planned.estimates))
    if spec.prediction is not None:
        emit(replace(spec.prediction, at=clock.now()))


DISCOVERY_ATTEMPTS = 10


async def _discover(
    actions: CloudActions,
    clock: Clock,
    rng: random.Random,
    production_ids: Callable[[str], str | None],
    production_disk_ids: Callable[[str], Sequence[str] | None],
) -> None:
    """Read production (retried by the engine's policy, every failure journaled); VMs it cannot see keep
    the ids the inventory gives them and their disks (in the estate's order)."""
    with contextlib.suppress(ProviderError):  # journaled as call.failed; the run goes on with the inventory's ids
        await call_with_retries(
            actions.discover, what="list production VMs", attempts=DISCOVERY_ATTEMPTS, clock=clock, rng=rng, emit=actions.emit
        )
    for name in actions.vms:
        if name not in actions.production:
            known = production_ids(name)
            if known is not None:
                actions.inventory[name] = known
            disks = production_disk_ids(name)
            if disks is not None:
                actions.disk_inventory[name] = tuple(disks)


def _plan_event(at: datetime, graph: TaskGraph, critical: CriticalPath, estimates: Estimator) -> PlanMade:
    return PlanMade(
        at=at,
        tasks=tuple(
            PlannedTask(t.id, t.step, t.action, t.vm, tuple(op.id for op in t.ops), round(task_chain(t, partial(estimates, t)), 3))
            for t in graph.tasks
        ),
        step_edges=tuple(graph.step_edges()),
        critical_path=critical.tasks,
        critical_path_s=round(critical.length_s, 3),
        lower_bound_s=round(critical.lower_bound_s, 3),
    )


# ---------------------------------------------------------------------------------- planning


_CREATES: dict[OpKind, tuple[ResourceKind, ...]] = {
    OpKind.CREATE_NETWORK: (ResourceKind.NETWORK, ResourceKind.NSG),
    OpKind.SNAPSHOT: (ResourceKind.SNAPSHOT,),
    OpKind.COPY_SNAPSHOT: (ResourceKind.SNAPSHOT,),
    OpKind.CREATE_DISK: (ResourceKind.DISK,),
    OpKind.CREATE_VM: (ResourceKind.VM,),
    OpKind.DEPLOY_IMAGE: (ResourceKind.VM,),
}


def _creations(graph: TaskGraph, estate: Estate, runbook: Runbook) -> tuple[PlannedResource, ...]:
    vms = {vm.name: vm for vm in estate.vms}
    found: list[PlannedResource] = []
    for task in graph.tasks:
        for op in task.ops:
            if op.kind in (OpKind.RESTORE, OpKind.TEST_FAILOVER):
                # A restore (as vm) or a test failover creates the VM and one disk per disk of the source.
                disks = len(vms[task.vm].disks) if task.vm in vms else 1
                step = runbook.step(task.step)
                if not isinstance(step, BackupStep) or step.with_.restore_as is RestoreAs.VM:
                    found.append(PlannedResource(task.id, ResourceKind.VM, f"{op.id}: VM of {task.vm}"))
                found.extend(PlannedResource(task.id, ResourceKind.DISK, f"{op.id}: disk {i + 1} of {task.vm}") for i in range(disks))
            for kind in _CREATES.get(op.kind, ()):
                found.append(PlannedResource(task.id, kind, f"{op.id}" + (f" of {task.vm}" if task.vm else "")))
    return tuple(found)


def plan_drill(
    runbook: Runbook, estate: Estate, plan: ProtectionPlan, *, drill: str, concurrency: int = 50, estimates: Estimator | None = None
) -> DrillPlan:
    """The dry run: task graph, predicted critical path and lower bound, what would be created."""
    graph = build_task_graph(runbook, estate, plan)
    estimator = estimates or estimate_op({vm.name: vm for vm in estate.vms})
    return DrillPlan(drill, graph, critical_path(graph, estimator, concurrency), estimator, runbook, estate)


def outcome_of(
    drill: str, run_id: str, run_dir: Path | None, planned: DrillPlan, result: DrillResult, execution: Execution, *, resumed: int
) -> RunOutcome:
    executor = execution.executor
    starts = [e.at for e in execution.events if e.__class__ is TaskStarted]  # final classes: no isinstance call each
    ends = [e.at for e in execution.events if e.__class__ is TaskFinished]
    makespan = (max(ends) - min(starts)).total_seconds() if starts and ends else None
    realized = None
    if executor is not None:
        seconds = executor.op_seconds

        def observed(task: Task, op: Op) -> float:
            key = (task.id, op.id)
            return seconds[key] if key in seconds else 0.0  # noqa: SIM401 - a subscript, not .get: one call less per operation

        realized = critical_path(planned.graph, observed, planned.critical.concurrency)
    return RunOutcome(
        drill=drill,
        run_id=run_id,
        run_dir=run_dir,
        plan=planned,
        result=result,
        events=tuple(execution.events),
        apps=tuple(execution.apps),
        makespan_s=makespan,
        realized=realized,
        operations=len(executor.op_seconds) if executor is not None else 0,
        resumed_lines=resumed,
    )
