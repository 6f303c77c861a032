"""One drill run, end to end: plan, execute, clean up, measure, journal.

`execute(...)` is the provider-agnostic core (any CloudProvider, any Clock). Around it:
- `simulate_drill(...)` / `simulate_run(...)`: a drill in the simulated world, in memory (no files),
  deterministic: what the comparison runs thousands of times (the result, or the whole outcome);
- `run_drill(...)`: what `drsim drill run` does: the simulated world (or another provider), the
  journal and result.json under reports/<drill>/<run-id>/, resume from a journal, observers;
- `plan_drill(...)`: the dry run: the task graph, the predicted critical path and what would be created.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from drsim import __version__
from drsim.cloud.api import CloudProvider, ResourceKind
from drsim.engine.actions import CloudActions
from drsim.engine.cleanup import Cleanup
from drsim.engine.clock import Clock, VirtualClock, collector_paused, run_virtual
from drsim.engine.executor import BACKOFF_BASE_S, BACKOFF_CAP_S, Executor, StepPolicy
from drsim.engine.journal import JournalContents, JournalError, JournalWriter, read_journal
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
from drsim.errors import ExecutionError, ProviderError, ThrottledError, UsageError
from drsim.measure.events import (
    AppMeasured,
    Event,
    PlanMade,
    PlannedTask,
    RunFinished,
    RunStarted,
    TaskFinished,
    TaskStarted,
)
from drsim.measure.result import DrillResult, TaskStatus
from drsim.measure.timeline import RunTimeline, drill_result, measure_apps, run_status
from drsim.model.checks import DrillBundle
from drsim.model.documents import AzureOptions, BackupStep, Document, Drill, Estate, ProtectionPlan, Runbook, SimOptions
from drsim.model.loader import Loaded
from drsim.model.types import CleanupPolicy, ProviderKind, RestoreAs

if TYPE_CHECKING:
    from drsim.cloud.sim import Catalog, SimProvider
    from drsim.cloud.sim.catalog import Distribution

JOURNAL = "journal.jsonl"
RESULT = "result.json"
_D = TypeVar("_D", bound=Document)


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
    back the Ctrl-C handler, and the repr of a large run's events would take seconds.
    """

    events: list[Event]
    executor: Executor | None = None
    apps: list[AppMeasured] = field(default_factory=list)


async def execute(
    *,
    drill_name: str,
    runbook: Runbook,
    estate: Estate,
    plan: ProtectionPlan,
    provider: CloudProvider,
    clock: Clock,
    run_id: str,
    seed: int,
    incident_at: datetime,
    detected_at: datetime,
    concurrency: int,
    sink: EventSink,
    estimates: Estimator,
    catalog_version: str | None,
    production_ids: Callable[[str], str | None] = lambda name: None,
    production_disk_ids: Callable[[str], Sequence[str] | None] = lambda name: None,
    name_key: str | None = None,
    handle_signals: bool = False,
    controls: Sequence[str] = (),
    planned: DrillPlan | None = None,
) -> Execution:
    """Run a drill against a provider: plan, execute, clean up, measure. Emits every event to `sink`.

    `controls` (the drill's evidence.controls) are journaled on run.started for the reports;
    `planned` is the plan_drill(...) of the same documents, estimates and concurrency, if made already."""
    emit = sink
    state = Execution(sink.events)
    rng = random.Random(f"drsim-engine/{seed}")
    if planned is None:
        planned = plan_drill(runbook, estate, plan, drill=drill_name, concurrency=concurrency, estimates=estimates)
    graph, critical = planned.graph, planned.critical
    emit(
        RunStarted(
            at=clock.now(),
            run_id=run_id,
            drill=drill_name,
            runbook=runbook.name,
            estate=estate.name,
            plan=plan.name,
            provider=provider.name,
            seed=seed,
            incident_at=incident_at,
            detected_at=detected_at,
            drsim_version=__version__,
            catalog_version=catalog_version,
            concurrency=concurrency,
            cleanup=runbook.cleanup.value,
            controls=tuple(controls),
        )
    )
    emit(_plan_event(clock.now(), graph, critical, estimates))
    actions = CloudActions(
        provider=provider,
        clock=clock,
        runbook=runbook,
        estate=estate,
        plan=plan,
        run_id=run_id,
        incident_at=incident_at,
        emit=emit,
        name_key=name_key,
    )
    await _discover(actions, clock, production_ids, production_disk_ids)
    policies = {s.id: StepPolicy(timeout=s.timeout, retries=s.retries, allow_failure=s.allow_failure) for s in runbook.steps}
    executor = Executor(graph, actions, clock=clock, emit=emit, concurrency=concurrency, policies=policies, rng=rng)
    state.executor = executor

    sink.on_failure = lambda exc: executor.abort(f"the journal could not be written: {exc}")
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if handle_signals and threading.current_thread() is threading.main_thread() else ()
    previous = {}
    for sig in signals:
        # A Python-level handler (not loop.add_signal_handler, whose self-pipe a virtual loop never
        # polls): it runs between bytecodes and hands the abort to the loop.
        def on_signal(number: int, _frame: object) -> None:
            loop.call_soon_threadsafe(executor.abort, f"{signal.Signals(number).name} received")

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
        await Cleanup(actions, clock=clock, emit=emit, concurrency=concurrency, rng=rng).run(policy, run_ok=run_ok)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    timeline = RunTimeline(sink.events)
    state.apps = measure_apps(timeline, runbook, estate)
    for app in state.apps:
        emit(app)
    emit(RunFinished(at=clock.now(), status=run_status(timeline, state.apps), error=executor.aborted))
    return state


async def _discover(
    actions: CloudActions,
    clock: Clock,
    production_ids: Callable[[str], str | None],
    production_disk_ids: Callable[[str], Sequence[str] | None],
) -> None:
    """Read production (retrying throttled and transient failures); VMs it cannot see keep the ids
    the inventory gives them and their disks (in the estate's order)."""
    for attempt in range(1, 11):
        try:
            await actions.discover()
            break
        except ThrottledError as exc:
            await clock.sleep(exc.retry_after)
        except ProviderError as exc:
            if not exc.retryable:
                break
            await clock.sleep(min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))
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
            PlannedTask(t.id, t.step, t.action.value, t.vm, tuple(op.id for op in t.ops), round(task_chain(t, partial(estimates, t)), 3))
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


def catalog_estimates(catalog: Catalog, estate: Estate) -> Estimator:
    """Expected operation durations from the simulated world's catalog: the median of each distribution
    (plus one ARM round trip)."""
    compute, snaps, sr, backup = catalog.compute, catalog.snapshots, catalog.site_recovery, catalog.backup
    windows = {vm.name for vm in estate.vms if vm.os.value == "windows"}
    request = catalog.arm.request_latency.sample(0.5)

    def table(create_vm: Distribution, boot: Distribution) -> dict[OpKind, float]:
        medians = {
            OpKind.CREATE_NETWORK: compute.network_create,
            OpKind.TEST_FAILOVER: sr.test_failover,
            OpKind.RESTORE: backup.restore_snapshot_tier,
            OpKind.SNAPSHOT: snaps.create,
            OpKind.COPY_SNAPSHOT: snaps.copy_base,
            OpKind.CREATE_DISK: compute.disk_create,
            OpKind.CREATE_VM: create_vm,
            OpKind.DEPLOY_IMAGE: create_vm,
            OpKind.WAIT_BOOT: boot,
            OpKind.READ_CANARY: compute.run_command,
        }
        return {kind: medians[kind].sample(0.5) + request if kind in medians else request for kind in OpKind}

    linux = table(compute.vm_create_linux, compute.boot_specialized_linux)
    windows_table = table(compute.vm_create_windows, compute.boot_specialized_windows)

    def estimate(task: Task, op: Op) -> float:
        if op.seconds is not None:
            return op.seconds
        return (windows_table if task.vm in windows else linux)[op.kind]

    return estimate


def plan_drill(
    runbook: Runbook, estate: Estate, plan: ProtectionPlan, *, drill: str, concurrency: int = 50, estimates: Estimator | None = None
) -> DrillPlan:
    """The dry run: task graph, predicted critical path and lower bound, what would be created."""
    graph = build_task_graph(runbook, estate, plan)
    estimator = estimates or estimate_op({vm.name: vm for vm in estate.vms})
    return DrillPlan(drill, graph, critical_path(graph, estimator, concurrency), estimator, runbook, estate)


# -------------------------------------------------------------------------------- the simulator


def _doc(value: _D | Loaded[_D]) -> _D:
    return value.doc if isinstance(value, Loaded) else value


def incident_time(drill: Drill, seed: int, *, today: date | None = None) -> datetime:
    """The drill's incident time; `random` is uniform over the window ending at window_end (or, by
    default, within the window before every moment of today UTC), drawn from the seed like the
    simulated world draws it (`drsim sim points` agrees)."""
    from drsim.cloud.sim.draws import Draws

    if isinstance(drill.incident_at, datetime):
        return drill.incident_at.astimezone(UTC)
    span = drill.window
    if drill.window_end is not None:
        end = drill.window_end.astimezone(UTC)
    elif today is not None:
        # "Within `window` before now" (FORMAT.md), yet the same all day so that a rerun repeats the
        # drill: the draw ends at today 00:00 UTC and leaves out the window's first day, which would
        # lie more than `window` before some moment of today.
        end = datetime.combine(today, time(0), tzinfo=UTC)
        if span > timedelta(days=1):
            span -= timedelta(days=1)
    else:
        raise UsageError(f"drill {drill.name}: incident_at: random needs window_end (or today's date from the command line)")
    back = span.total_seconds() * Draws(seed).unit("incident-at")
    return end - timedelta(seconds=round(back))


def run_id_for(incident_at: datetime, seed: int) -> str:
    """A deterministic run id in the simulator: the incident's UTC stamp and the seed."""
    return f"{incident_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-s{seed}"


@dataclass
class SimRun:
    """A simulated world wired to a virtual clock for one run."""

    world: SimProvider
    clock: VirtualClock
    detected_at: datetime
    catalog: Catalog


def sim_world(
    runbook: Runbook,
    estate: Estate,
    plan: ProtectionPlan,
    *,
    incident_at: datetime,
    seed: int,
    options: SimOptions | None,
    catalog: Catalog | None = None,
) -> SimRun:
    """The simulated world of a drill, on a virtual clock that starts when the incident is detected."""
    from drsim.cloud.sim import build_world, default_catalog, incident_from_scenario, load_catalog

    incident = incident_from_scenario(runbook.scenario, estate, incident_at)
    clock = VirtualClock(incident.detected_at)
    options = options or SimOptions()
    if catalog is None:
        catalog = load_catalog(options.calibration) if options.calibration else default_catalog()
    world = build_world(estate, plan, incident=incident, seed=seed, clock=clock, options=options, catalog=catalog)
    return SimRun(world, clock, incident.detected_at, catalog)


def _simulate(
    *,
    drill_name: str,
    runbook: Runbook,
    estate: Estate,
    plan: ProtectionPlan,
    incident_at: datetime,
    seed: int,
    options: SimOptions | None,
    concurrency: int,
    sink: EventSink,
    run_id: str,
    catalog: Catalog | None = None,
    handle_signals: bool = False,
    controls: Sequence[str] = (),
) -> tuple[Execution, DrillPlan]:
    sim = sim_world(runbook, estate, plan, incident_at=incident_at, seed=seed, options=options, catalog=catalog)
    estimates = catalog_estimates(sim.catalog, estate)
    planned = plan_drill(runbook, estate, plan, drill=drill_name, concurrency=concurrency, estimates=estimates)
    truth = sim.world.truth

    def inventory(name: str) -> str | None:
        # The estate's ids are known from before the incident (its inventory), even when unreachable now.
        return truth.vm_id(name)

    def disk_inventory(name: str) -> list[str]:
        # ... and so are its disks': a deleted VM's scheduled snapshots name them as their source.
        return [truth.disk_id(name, disk.name) for disk in estate.vm(name).disks]

    execution = run_virtual(
        execute(
            drill_name=drill_name,
            runbook=runbook,
            estate=estate,
            plan=plan,
            provider=sim.world,
            clock=sim.clock,
            run_id=run_id,
            seed=seed,
            incident_at=incident_at,
            detected_at=sim.detected_at,
            concurrency=concurrency,
            sink=sink,
            estimates=estimates,
            catalog_version=sim.catalog.label,
            production_ids=inventory,
            production_disk_ids=disk_inventory,
            name_key=run_id_for(incident_at, seed),
            handle_signals=handle_signals,
            controls=controls,
            planned=planned,
        )
    )
    return execution, planned


def simulate_run(
    runbook: Runbook | Loaded[Runbook],
    estate: Estate | Loaded[Estate],
    plan: ProtectionPlan | Loaded[ProtectionPlan],
    *,
    incident_at: datetime,
    seed: int,
    sim_options: SimOptions | None = None,
    concurrency: int = 50,
    drill_name: str | None = None,
    catalog: Catalog | None = None,
    observers: Sequence[RunObserver] = (),
) -> RunOutcome:
    """One drill in the simulated world, in memory (no files): the whole outcome, events included.

    `sim_options.calibration` is read relative to the working directory unless `catalog` is given.
    """
    rb, est, pl = _doc(runbook), _doc(estate), _doc(plan)
    if incident_at.tzinfo is None:
        raise UsageError(f"incident time {incident_at.isoformat()} has no time zone; give it in UTC")
    incident_at = incident_at.astimezone(UTC)
    name = drill_name or rb.name
    run_id = run_id_for(incident_at, seed)
    with collector_paused():  # building and measuring a large run makes many objects too (see run_virtual)
        execution, planned = _simulate(
            drill_name=name,
            runbook=rb,
            estate=est,
            plan=pl,
            incident_at=incident_at,
            seed=seed,
            options=sim_options,
            concurrency=concurrency,
            sink=EventSink(None, observers),
            run_id=run_id,
            catalog=catalog,
        )
        result = drill_result(execution.events, rb, est, execution.apps)
        return _outcome(name, run_id, None, planned, result, execution, resumed=0)


def simulate_drill(
    runbook: Runbook | Loaded[Runbook],
    estate: Estate | Loaded[Estate],
    plan: ProtectionPlan | Loaded[ProtectionPlan],
    *,
    incident_at: datetime,
    seed: int,
    sim_options: SimOptions | None = None,
    concurrency: int = 50,
    drill_name: str | None = None,
    catalog: Catalog | None = None,
) -> DrillResult:
    """One drill in the simulated world, in memory: no files, same inputs -> same result (the
    comparison's unit of work). `drill_name` defaults to the runbook's name."""
    outcome = simulate_run(
        runbook,
        estate,
        plan,
        incident_at=incident_at,
        seed=seed,
        sim_options=sim_options,
        concurrency=concurrency,
        drill_name=drill_name,
        catalog=catalog,
    )
    assert outcome.result is not None
    return outcome.result


# ------------------------------------------------------------------------------ drsim drill run


def _new_run_dir(out_dir: Path, drill: str, run_id: str) -> tuple[Path, str]:
    base = out_dir / drill
    candidate, suffix = run_id, 1
    while (base / candidate).exists():
        suffix += 1
        candidate = f"{run_id}-{suffix}"
    return base / candidate, candidate


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _resume_point(run_dir: Path, drill: str) -> tuple[JournalContents, RunStarted]:
    journal = run_dir / JOURNAL
    if not journal.is_file():
        raise UsageError(f"--resume {run_dir}: no {JOURNAL} there")
    contents = read_journal(journal)
    first = contents.events[0] if contents.events else None
    if not isinstance(first, RunStarted):
        raise JournalError(f"{journal}: the journal does not begin with run.started: nothing to resume (start the drill again)")
    if first.drill != drill:
        raise JournalError(f"{journal}: the journal is of drill {first.drill}, not {drill}")
    return contents, first


def run_drill(
    bundle: DrillBundle,
    *,
    out_dir: str | os.PathLike[str] = "reports",
    seed: int | None = None,
    incident_at: datetime | None = None,
    dry_run: bool = False,
    resume: str | os.PathLike[str] | None = None,
    observers: Sequence[RunObserver] = (),
    today: date | None = None,
    fsync: bool | None = None,
    handle_signals: bool = False,
) -> RunOutcome:
    """Run a drill (what `drsim drill run` does) and write journal.jsonl and result.json under
    out_dir/<drill>/<run-id>/; with `resume`, continue the run whose directory that is.

    `fsync` None means: in the simulated world, sync the journal when it closes only. Each line is
    written with one write(2), so a kill -9 of drsim loses nothing already written; only an
    operating-system crash could lose the tail, and a simulated run is recomputed from its seed.
    A 10,000-VM drill would otherwise spend most of its time in 150,000 fsyncs (bench/drill_scale.py).
    """
    if fsync is None:
        fsync = bundle.drill.doc.provider is not ProviderKind.SIM
    drill, runbook, estate, plan = bundle.drill.doc, bundle.runbook.doc, bundle.estate.doc, bundle.plan.doc
    if drill.provider is ProviderKind.AZURE and not dry_run:
        if resume is not None:
            raise UsageError(
                f"--resume {resume}: only simulated drills resume (they replay from their seed); against Azure, "
                "start the drill again after cleaning up with the run id's tag"
            )
        return _run_on_azure(
            bundle,
            out_dir=Path(out_dir),
            seed=drill.seed if seed is None else seed,
            incident_at=incident_at,
            observers=observers,
            fsync=True if fsync is None else fsync,
            handle_signals=handle_signals,
        )
    replay: JournalContents | None = None
    if resume is not None:
        run_dir = Path(resume)
        replay, started = _resume_point(run_dir, drill.name)
        seed, when, run_id = started.seed, started.incident_at, started.run_id
    else:
        seed = drill.seed if seed is None else seed
        when = incident_at.astimezone(UTC) if incident_at is not None else incident_time(drill, seed, today=today)
        run_dir, run_id = _new_run_dir(Path(out_dir), drill.name, run_id_for(when, seed))
    from drsim.cloud.sim.drill import drill_catalog

    catalog = drill_catalog(bundle)
    if dry_run:  # nothing is built or written: the plan, with the catalog's expected durations
        estimates = catalog_estimates(catalog, estate)
        planned = plan_drill(runbook, estate, plan, drill=drill.name, concurrency=drill.concurrency, estimates=estimates)
        return RunOutcome(drill.name, run_id, None, planned)
    journal = JournalWriter(run_dir / JOURNAL, fsync=fsync, replay=replay)
    sink = EventSink(journal, observers)
    with collector_paused():  # as in simulate_run
        try:
            execution, planned = _simulate(
                drill_name=drill.name,
                runbook=runbook,
                estate=estate,
                plan=plan,
                incident_at=when,
                seed=seed,
                options=drill.sim,
                concurrency=drill.concurrency,
                sink=sink,
                run_id=run_id,
                catalog=catalog,
                handle_signals=handle_signals,
                controls=drill.evidence.controls,
            )
        finally:
            journal.close()
        _check_journal(sink, run_dir)
        if journal.replaying:
            raise JournalError(f"{run_dir / JOURNAL}: the resumed run ended before replaying the whole journal")
        resumed = len(replay.lines) if replay else 0
        outcome = _write_result(drill.name, run_id, run_dir, planned, execution, runbook, estate, resumed=resumed)
    for observer in observers:
        observer.on_finished(outcome)
    return outcome


def _check_journal(sink: EventSink, run_dir: Path) -> None:
    """Raise what stopped the journal from being written, if anything did."""
    if isinstance(sink.failure, JournalError):
        raise sink.failure
    if sink.failure is not None:
        raise ExecutionError(f"{run_dir / JOURNAL}: cannot write the journal: {sink.failure}")


def _write_result(
    drill_name: str,
    run_id: str,
    run_dir: Path,
    planned: DrillPlan,
    execution: Execution,
    runbook: Runbook,
    estate: Estate,
    *,
    resumed: int,
) -> RunOutcome:
    """Measure the run, write result.json atomically and give the outcome."""
    result = drill_result(execution.events, runbook, estate, execution.apps)
    _write_atomically(run_dir / RESULT, result.to_json())
    return _outcome(drill_name, run_id, run_dir, planned, result, execution, resumed=resumed)


AZURE_ENVIRONMENT = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "resource_group": "DRSIM_AZURE_RESOURCE_GROUP",
    "backup_vault": "DRSIM_AZURE_BACKUP_VAULT",
    "site_recovery_vault": "DRSIM_AZURE_SITE_RECOVERY_VAULT",
    "vault_resource_group": "DRSIM_AZURE_VAULT_RESOURCE_GROUP",
    "staging_storage_account": "DRSIM_AZURE_STAGING_STORAGE_ACCOUNT",
    "endpoint": "DRSIM_AZURE_ENDPOINT",  # the drsim ARM emulator's address
}


def _azure_options_from_environment(drill_path: Path) -> AzureOptions:
    """Where a `provider: azure` drill without an `azure:` block runs: the environment's subscription
    (AZURE_SUBSCRIPTION_ID, as the Azure CLI and SDK name it) and drsim's DRSIM_AZURE_* variables."""
    from pydantic import ValidationError

    found = {key: os.environ[name] for key, name in AZURE_ENVIRONMENT.items() if os.environ.get(name)}
    missing = [AZURE_ENVIRONMENT[key] for key in ("subscription_id", "resource_group") if key not in found]
    if missing:
        raise UsageError(
            f"{drill_path}: provider: azure needs to know where to run: add an azure: block (subscription_id, resource_group, ...) "
            f"or set {' and '.join(missing)}"
        )
    try:
        return AzureOptions.model_validate(found)
    except ValidationError as exc:
        wrong = "; ".join(f"{AZURE_ENVIRONMENT[str(e['loc'][0])]}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"{drill_path}: provider: azure from the environment: {wrong}") from None


def _run_on_azure(
    bundle: DrillBundle,
    *,
    out_dir: Path,
    seed: int,
    incident_at: datetime | None,
    observers: Sequence[RunObserver],
    fsync: bool,
    handle_signals: bool,
) -> RunOutcome:
    """A drill against Azure (or the drsim ARM emulator), on the provider's clock.

    A real drill declares its disaster when it starts: T_incident is the provider's time at the start
    minus the scenario's detected_after (or --incident-at); the drill file's incident_at is the
    simulator's. Resources are found by name in the subscription; VMs the incident removed keep the
    ids their Backup or Site Recovery protection names (AzureProvider.inventory)."""
    from drsim.cloud.azure import require_sdk

    require_sdk(f"{bundle.drill.path}: provider: azure")
    from drsim.cloud.azure.provider import connect
    from drsim.cloud.azure.safety import check_drill_group
    from drsim.cloud.sim.drill import drill_catalog

    drill, runbook, estate, plan = bundle.drill.doc, bundle.runbook.doc, bundle.estate.doc, bundle.plan.doc
    options = drill.azure or _azure_options_from_environment(bundle.drill.path)
    catalog = drill_catalog(bundle)  # expected durations for the plan and critical path only
    estimates = catalog_estimates(catalog, estate)
    planned = plan_drill(runbook, estate, plan, drill=drill.name, concurrency=drill.concurrency, estimates=estimates)

    async def main() -> tuple[Execution, Path, str]:
        async with await connect(options) as provider:
            await check_drill_group(provider, estate)  # before anything is created
            clock = provider.clock
            detected = clock.now()
            when = incident_at.astimezone(UTC) if incident_at is not None else detected - runbook.scenario.detected_after
            run_dir, run_id = _new_run_dir(out_dir, drill.name, run_id_for(when, seed))
            journal = JournalWriter(run_dir / JOURNAL, fsync=fsync)
            sink = EventSink(journal, observers)
            try:
                inventory = await provider.inventory()
                execution = await execute(
                    drill_name=drill.name,
                    runbook=runbook,
                    estate=estate,
                    plan=plan,
                    provider=provider,
                    clock=clock,
                    run_id=run_id,
                    seed=seed,
                    incident_at=when,
                    detected_at=max(detected, when),
                    concurrency=drill.concurrency,
                    sink=sink,
                    estimates=estimates,
                    catalog_version=None,
                    production_ids=inventory.get,
                    handle_signals=handle_signals,
                    controls=drill.evidence.controls,
                    planned=planned,
                )
            finally:
                journal.close()
            _check_journal(sink, run_dir)
            return execution, run_dir, run_id

    execution, run_dir, run_id = asyncio.run(main())
    outcome = _write_result(drill.name, run_id, run_dir, planned, execution, runbook, estate, resumed=0)
    for observer in observers:
        observer.on_finished(outcome)
    return outcome


def _outcome(
    drill: str, run_id: str, run_dir: Path | None, planned: DrillPlan, result: DrillResult, execution: Execution, *, resumed: int
) -> RunOutcome:
    executor = execution.executor
    starts = [e.at for e in execution.events if isinstance(e, TaskStarted)]
    ends = [e.at for e in execution.events if isinstance(e, TaskFinished)]
    makespan = (max(ends) - min(starts)).total_seconds() if starts and ends else None
    realized = None
    if executor is not None:
        seconds = executor.op_seconds
        realized = critical_path(planned.graph, lambda task, op: seconds.get((task.id, op.id), 0.0), planned.critical.concurrency)
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
