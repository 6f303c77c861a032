"""One drill, wired end to end: documents -> the simulated world or Azure -> the engine -> a run directory.

The only module that wires providers to the engine. Around `drsim.engine.run.execute`:
- `simulate_drill(...)` / `simulate_run(...)`: a drill in the simulated world, in memory (no files),
  deterministic: what the comparison runs thousands of times (the result, or the whole outcome);
- `run_drill(...)`: what `drsim drill run` does: the simulated world or Azure, the journal and
  result.json under reports/<drill>/<run-id>/, resume from a journal, observers;
- `incident_time(...)`: the one place a drill's incident time is decided (`drsim sim points` agrees);
- `dry_run_plan(...)`: the dry run with the catalog's expected durations;
- `azure_dry_run(...)`: the dry run of a `provider: azure` drill: the plan, and the read-only preflight
  of the subscription (drsim.cloud.azure.preflight) with the twin's predicted duration and cost.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from drsim import __version__
from drsim.clock import ScaledClock
from drsim.cloud.sim import Catalog, SimProvider, build_world, default_catalog, incident_from_scenario, load_catalog
from drsim.cloud.sim.catalog import Distribution
from drsim.cloud.sim.draws import Draws
from drsim.cloud.sim.drill import calibration_path, drill_catalog
from drsim.engine.clock import VirtualClock, collector_paused, run_virtual
from drsim.engine.journal import JournalContents, JournalWriter, read_journal
from drsim.engine.people import (
    APPROVALS,
    NAME_MAX,
    NOTE_MAX,
    Approval,
    Prompt,
    RealTimePeople,
    action_verb,
    approval_path,
    check_person,
    last_wait,
    new_approval,
    people_of,
    remove_own_approval,
    waiting_steps,
    write_approval,
)
from drsim.engine.resume import ResumeState
from drsim.engine.run import (
    JOURNAL,
    RESULT,
    DrillPlan,
    EventSink,
    Execution,
    RunObserver,
    RunOutcome,
    RunSpec,
    execute,
    outcome_of,
    plan_drill,
)
from drsim.engine.taskgraph import Estimator, Op, OpKind, Task
from drsim.errors import ExecutionError, JournalError, StoreError, UsageError
from drsim.measure.events import (
    CleanupRestoreCancelled,
    CleanupTestFailover,
    Event,
    EvidenceResealed,
    EvidenceResigned,
    HumanActed,
    HumanWaiting,
    InputFile,
    Performed,
    PlanMade,
    PredictionMade,
    ResourceDeleted,
    RunAborted,
    RunAttested,
    RunFinished,
    RunPerformed,
    RunResumed,
    RunStarted,
    TaskFailed,
    Verdict,
    iso,
)
from drsim.measure.result import DrillResult
from drsim.measure.timeline import drill_result
from drsim.model.checks import DrillBundle, cross_region_vms
from drsim.model.documents import AzureOptions, BackupStep, Document, Drill, Estate, ProtectionPlan, Runbook, SimOptions
from drsim.model.endpoints import is_loopback
from drsim.model.loader import Loaded
from drsim.model.types import ProviderKind, selector_matches
from drsim.report import FORMATS
from drsim.report.evidence import write_atomically
from drsim.store.history import HistoryStore, RunRecord, store_of_run
from drsim.times import utc_text

if TYPE_CHECKING:
    from drsim.cloud.azure.preflight import Readiness
    from drsim.report.evidence import RecordedSeal
    from drsim.report.recorded import RecordedRun

# The report modules (Jinja2, Markdown, matplotlib: a second to import) are imported by the functions
# that finish a run, not by the simulated runs a comparison makes by the thousand.

_D = TypeVar("_D", bound=Document)


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


# -------------------------------------------------------------------------------- the simulator


def _doc(value: _D | Loaded[_D]) -> _D:
    return value.doc if isinstance(value, Loaded) else value


def incident_time(drill: Drill, seed: int, *, today: date | None = None) -> datetime:
    """The drill's incident time; `random` is uniform over the window ending at window_end (or, by
    default, within the window before every moment of today UTC), drawn from the seed like the
    simulated world draws it (`drsim sim points` agrees)."""
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
    provenance: Provenance | None = None,
    journal_operations: bool = False,
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

    spec = RunSpec(
        drill_name=drill_name,
        runbook=runbook,
        estate=estate,
        plan=plan,
        run_id=run_id,
        seed=seed,
        incident_at=incident_at,
        detected_at=sim.detected_at,
        concurrency=concurrency,
        catalog_version=sim.catalog.label,
        production_ids=inventory,
        production_disk_ids=disk_inventory,
        name_key=run_id_for(incident_at, seed),
        controls=tuple(controls),
        journal_operations=journal_operations,
        **(provenance.spec_fields() if provenance is not None else {}),
    )
    execution = run_virtual(execute(spec, provider=sim.world, clock=sim.clock, sink=sink, planned=planned, handle_signals=handle_signals))
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
    journal_operations: bool = False,
) -> RunOutcome:
    """One drill in the simulated world, in memory (no files): the whole outcome, events included
    (with `journal_operations`, an operation.finished per operation, as a real run journals them).

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
            journal_operations=journal_operations,
        )
        result = drill_result(execution.events, rb, est, execution.apps)
        return outcome_of(name, run_id, None, planned, result, execution, resumed=0)


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


def _new_run_dir(out_dir: Path, drill: str, run_id: str, *, create: bool = True) -> tuple[Path, str]:
    """Make the run's own directory, `<out>/<drill>/<run-id>` or `<run-id>-N` when that is taken.

    os.mkdir fails when the name exists, so the directory is claimed in one step: runs started at
    once into one --out (the same drill, incident time and seed) each get their own. `create=False`
    (a dry run) only names the directory it would make.
    """
    base = out_dir / drill
    if create:
        base.mkdir(parents=True, exist_ok=True)
    suffix = 1
    while True:
        candidate = run_id if suffix == 1 else f"{run_id}-{suffix}"
        suffix += 1
        if not create:
            if not (base / candidate).exists():
                return base / candidate, candidate
            continue
        try:
            os.mkdir(base / candidate)
        except FileExistsError:
            continue
        return base / candidate, candidate


@dataclass(frozen=True)
class Provenance:
    """What a journaled run records of itself beside its documents: the drill file it was made from,
    the documents as run (copied into inputs/), whether Azure was drsim's emulator, and when, where and
    by whom it was performed (wall-clock fact, kept out of result.json)."""

    drill_file: str | None = None
    inputs: tuple[InputFile, ...] = ()
    emulated: bool = False
    performed: Performed | None = None

    def spec_fields(self) -> dict[str, Any]:
        return {"drill_file": self.drill_file, "inputs": self.inputs, "emulated": self.emulated, "performed": self.performed}


INPUTS = "inputs"


def copy_inputs(bundle: DrillBundle, run_dir: Path) -> tuple[InputFile, ...]:
    """Copy the drill, runbook, estate, plan (and calibration) as run into run_dir/inputs/, byte for
    byte, and fingerprint them (SHA-256): what the report, result.json and the manifest show."""
    sources = [("drill", bundle.drill.path), ("runbook", bundle.runbook.path), ("estate", bundle.estate.path), ("plan", bundle.plan.path)]
    calibration = calibration_path(bundle)
    if calibration is not None:
        sources.append(("calibration", calibration))
    directory = run_dir / INPUTS
    directory.mkdir(parents=True, exist_ok=True)
    copied = []
    for role, source in sources:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise UsageError(f"{source}: cannot read the {role} to keep a copy with the run ({exc.strerror or exc})") from None
        write_atomically(directory / f"{role}.yaml", data)
        copied.append(InputFile(role, f"{INPUTS}/{role}.yaml", hashlib.sha256(data).hexdigest()))
    return tuple(copied)


def _same_inputs(bundle: DrillBundle, started: RunStarted, run_dir: Path) -> None:
    """A resume goes on with the documents the run started with (inputs/ keeps them, and its report
    shows them): a document changed since would give measures that disagree with them."""
    now = {"drill": bundle.drill.path, "runbook": bundle.runbook.path, "estate": bundle.estate.path, "plan": bundle.plan.path}
    calibration = calibration_path(bundle)
    if calibration is not None:
        now["calibration"] = calibration
    for kept in started.inputs:
        source = now.get(kept.role)
        try:
            same = source is not None and hashlib.sha256(Path(source).read_bytes()).hexdigest() == kept.sha256
        except OSError:
            same = False
        if not same:
            raise UsageError(
                f"--resume {run_dir}: the {kept.role} ({source or 'none now'}) is not the one the run started with "
                f"({kept.path}, SHA-256 {kept.sha256[:16]}...): a resume goes on with the same documents; put them back "
                f"as {kept.path} keeps them, or start a new run"
            )


def wall_clock_now() -> datetime:
    """The wall clock, read here (the orchestration) and never below: when a run was performed."""
    return datetime.now(UTC)


def performed_now() -> Performed:
    """When, on which host and by whom a run starts now."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return Performed(started=wall_clock_now(), drsim_version=__version__, host=socket.gethostname(), user=user)


INTERRUPTED = "journal.interrupted-{n}.jsonl"
"""Where a resume keeps the ending of a run that was interrupted (Ctrl-C, SIGTERM): from its run.aborted on."""


def journal_start(run_dir: Path) -> tuple[JournalContents, RunStarted]:
    """The journal of a run directory and its run.started (JournalError when there is nothing to resume)."""
    journal = run_dir / JOURNAL
    if not journal.is_file():
        raise UsageError(f"--resume {run_dir}: no {JOURNAL} there")
    contents = read_journal(journal)
    first = contents.events[0] if contents.events else None
    if not isinstance(first, RunStarted):
        raise JournalError(f"{journal}: the journal does not begin with run.started: nothing to resume (start the drill again)")
    return contents, first


def _refuse_real_time_resume(run_dir: Path) -> None:
    """A simulated run made with --real-time is not replayed from its seed: people's answers set its
    timings (human.waiting in its journal). Refused before _resume_point sets anything aside."""
    contents, _ = journal_start(run_dir)
    if any(isinstance(event, HumanWaiting) for event in contents.events):
        raise UsageError(
            f"--resume {run_dir}: this simulated run ran with --real-time (people answered its manual steps, "
            "human.waiting in its journal): its timings are theirs, not the seed's, so it cannot be replayed; "
            "run the drill again"
        )


def drill_of_run(run_dir: str | os.PathLike[str]) -> str:
    """The drill document a run was made from, as its journal names it (for `--resume RUN_DIR` alone)."""
    directory = Path(run_dir)
    if not directory.is_dir():
        raise UsageError(f"--resume {directory}: no such run directory")
    _, started = journal_start(directory)
    if started.drill_file is None:
        raise UsageError(f"--resume {directory}: its journal does not name the drill document (an older drsim made it): give DRILL too")
    if not Path(started.drill_file).is_file():
        raise UsageError(f"--resume {directory}: the drill it was made from, {started.drill_file}, is not there any more: give DRILL")
    return started.drill_file


def _after_run_words(event: Event) -> str:
    if isinstance(event, RunAttested):
        return "attested"
    return "signed again with another key" if isinstance(event, EvidenceResigned) else "sealed again"


def _resume_point(run_dir: Path, drill: str) -> tuple[JournalContents, RunStarted]:
    """What a resume replays: the whole journal of a crashed run (a torn last line dropped), or of an
    interrupted one the lines before its run.aborted; that ending (abort, cleanup, measures) is moved
    to journal.interrupted-N.jsonl first, so nothing journaled is lost, and the run continues as if
    never interrupted."""
    contents, first = journal_start(run_dir)
    if first.drill != drill:
        raise JournalError(f"{run_dir / JOURNAL}: the journal is of drill {first.drill}, not {drill}")
    after_run = RunAttested | EvidenceResealed | EvidenceResigned
    after = next(((n, e) for n, e in enumerate(contents.events, 1) if isinstance(e, after_run)), None)
    if after is not None:  # a resume replays the run, never what people did with it afterwards
        number, event = after
        raise UsageError(
            f"--resume {run_dir}: the run finished and was {_after_run_words(event)} "
            f"after it ({JOURNAL} line {number}: {event.kind}): there is nothing to resume; `drsim report` renders its reports again"
        )
    aborted = next((i for i, event in enumerate(contents.events) if isinstance(event, RunAborted)), None)
    if aborted is None:
        return contents, first
    ending = contents.lines[aborted:]
    number = 1
    while (run_dir / INTERRUPTED.format(n=number)).exists():
        number += 1
    kept = run_dir / INTERRUPTED.format(n=number)
    with kept.open("xb") as file:  # the ending chains on from the line before it: verifiable where it lies
        file.write(b"".join(line + b"\n" for line in ending))
        file.flush()
        os.fsync(file.fileno())
    lines = contents.lines[:aborted]
    return replace(
        contents, lines=lines, events=contents.events[:aborted], torn=False, valid_bytes=sum(len(line) + 1 for line in lines)
    ), first


def _azure_resume_point(run_dir: Path, drill: str) -> tuple[JournalContents, RunStarted]:
    """What a resumed Azure run takes over: its journal (a torn last line dropped), or of an interrupted run
    the lines before its run.aborted, that ending moved to journal.interrupted-N.jsonl (as `_resume_point`).
    An interrupted run whose cleanup had begun deleting (or cancelling a restore) is not resumed: what it made is gone."""
    contents, first = journal_start(run_dir)
    if first.drill != drill:
        raise JournalError(f"{run_dir / JOURNAL}: the journal is of drill {first.drill}, not {drill}")
    aborted = next((i for i, event in enumerate(contents.events) if isinstance(event, RunAborted)), None)
    if aborted is not None:
        cleaned = next(
            (
                i
                for i, e in enumerate(contents.events[aborted:], start=aborted)
                if isinstance(e, ResourceDeleted | CleanupTestFailover | CleanupRestoreCancelled)
            ),
            None,
        )
        if cleaned is not None:
            raise UsageError(
                f"--resume {run_dir}: the run was interrupted and its cleanup already deleted (or cancelled) what it made "
                f"({JOURNAL} line {cleaned + 1}): there is nothing to go on with; start the drill again"
            )
    return _resume_point(run_dir, drill)


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
    real_time: bool = False,
    speed: float | None = None,
    prompt: Prompt | None = None,
    predict: Predictor | None = None,
) -> RunOutcome:
    """Run a drill (what `drsim drill run` does) and write journal.jsonl and result.json under
    out_dir/<drill>/<run-id>/; with `resume`, continue the run whose directory that is.

    A drill against Azure, and a simulated one with `real_time` (its world on a clock `speed` times
    faster than real time, default 1), run in real time: their manual steps wait for a person, asked
    through `prompt` (the terminal, drsim.console) and by `drsim drill approve` (drsim.engine.people).

    `predict` (drsim.compare.predict.predictor) makes the twin's prediction of a drill against Azure
    before it starts, journaled as prediction.made; simulated runs are not predicted (the twin would
    predict itself).

    `fsync` None means: in the simulated world, sync the journal when it closes only. Each line is
    written with one write(2), so a kill -9 of drsim loses nothing already written; only an
    operating-system crash could lose the tail, and a simulated run is recomputed from its seed.
    A 10,000-VM drill would otherwise spend most of its time in 150,000 fsyncs (bench/drill_scale.py).
    """
    if fsync is None:
        fsync = bundle.drill.doc.provider is not ProviderKind.SIM
    drill, runbook, estate, plan = bundle.drill.doc, bundle.runbook.doc, bundle.estate.doc, bundle.plan.doc
    if speed is not None and not real_time:
        raise UsageError("--speed sets how fast a --real-time run's simulated world runs: give --real-time too")
    if speed is not None and drill.provider is ProviderKind.AZURE:
        raise UsageError("--speed applies to the simulated world only: a drill against Azure runs at Azure's pace")
    if real_time and resume is not None and drill.provider is ProviderKind.SIM:
        raise UsageError("--resume replays a simulated run from its seed in virtual time: it does not go with --real-time")
    if real_time and drill.provider is ProviderKind.SIM and not dry_run:
        return _run_sim_in_real_time(
            bundle,
            out_dir=Path(out_dir),
            seed=drill.seed if seed is None else seed,
            incident_at=incident_at,
            today=today,
            speed=1.0 if speed is None else speed,
            observers=observers,
            fsync=True if fsync is None else fsync,
            handle_signals=handle_signals,
            prompt=prompt,
        )
    if drill.provider is ProviderKind.AZURE and not dry_run:
        return _run_on_azure(
            bundle,
            out_dir=Path(out_dir),
            seed=drill.seed if seed is None else seed,
            incident_at=incident_at,
            observers=observers,
            fsync=True if fsync is None else fsync,
            handle_signals=handle_signals,
            prompt=prompt,
            predict=predict,
            resume=Path(resume) if resume is not None else None,
        )
    replay: JournalContents | None = None
    if resume is not None:
        run_dir = Path(resume)
        _refuse_real_time_resume(run_dir)
        replay, started = _resume_point(run_dir, drill.name)
        _same_inputs(bundle, started, run_dir)
        seed, when, run_id = started.seed, started.incident_at, started.run_id
        provenance = Provenance(started.drill_file, started.inputs, started.emulated, started.performed)  # as first run
    else:
        seed = drill.seed if seed is None else seed
        when = incident_at.astimezone(UTC) if incident_at is not None else incident_time(drill, seed, today=today)
        run_dir, run_id = _new_run_dir(Path(out_dir), drill.name, run_id_for(when, seed), create=not dry_run)
        provenance = Provenance(
            str(bundle.drill.path.resolve()), copy_inputs(bundle, run_dir) if not dry_run else (), False, performed_now()
        )
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
                provenance=provenance,
            )
            sink(RunPerformed(at=execution.events[-1].at, ended=wall_clock_now()))
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


def _run_sim_in_real_time(
    bundle: DrillBundle,
    *,
    out_dir: Path,
    seed: int,
    incident_at: datetime | None,
    today: date | None,
    speed: float,
    observers: Sequence[RunObserver],
    fsync: bool,
    handle_signals: bool,
    prompt: Prompt | None,
) -> RunOutcome:
    """`drsim drill run --real-time` of a simulated drill: the same world, on a clock that runs `speed`
    times faster than real time (drsim.clock.ScaledClock, as under the ARM emulator) on asyncio, so that
    its manual steps wait for people. Still a simulation (its result says so), but no longer a pure
    function of the seed: people take the time they take."""
    drill, runbook, estate, plan = bundle.drill.doc, bundle.runbook.doc, bundle.estate.doc, bundle.plan.doc
    when = incident_at.astimezone(UTC) if incident_at is not None else incident_time(drill, seed, today=today)
    catalog = drill_catalog(bundle)
    incident = incident_from_scenario(runbook.scenario, estate, when)
    run_dir, run_id = _new_run_dir(out_dir, drill.name, run_id_for(when, seed))
    provenance = Provenance(str(bundle.drill.path.resolve()), copy_inputs(bundle, run_dir), False, performed_now())
    planned = plan_drill(
        runbook, estate, plan, drill=drill.name, concurrency=drill.concurrency, estimates=catalog_estimates(catalog, estate)
    )

    async def main() -> Execution:
        clock = ScaledClock(incident.detected_at, speed)
        world = build_world(estate, plan, incident=incident, seed=seed, clock=clock, options=drill.sim, catalog=catalog)
        truth = world.truth
        spec = RunSpec(
            drill_name=drill.name,
            runbook=runbook,
            estate=estate,
            plan=plan,
            run_id=run_id,
            seed=seed,
            incident_at=when,
            detected_at=incident.detected_at,
            concurrency=drill.concurrency,
            catalog_version=catalog.label,
            production_ids=truth.vm_id,
            production_disk_ids=lambda name: [truth.disk_id(name, disk.name) for disk in estate.vm(name).disks],
            name_key=run_id_for(when, seed),
            controls=tuple(drill.evidence.controls),
            people=RealTimePeople(run_dir, clock, prompt),
            participants=people_of(drill.participants),
            run_dir=run_dir,
            **provenance.spec_fields(),
        )
        execution = await execute(spec, provider=world, clock=clock, sink=sink, planned=planned, handle_signals=handle_signals)
        sink(RunPerformed(at=execution.events[-1].at, ended=wall_clock_now()))
        return execution

    journal = JournalWriter(run_dir / JOURNAL, fsync=fsync)
    sink = EventSink(journal, observers)
    try:
        execution = asyncio.run(main())
    finally:
        journal.close()
    _check_journal(sink, run_dir)
    outcome = _write_result(drill.name, run_id, run_dir, planned, execution, runbook, estate, resumed=0)
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
    write_atomically(run_dir / RESULT, result.to_json().encode("utf-8"))
    return outcome_of(drill_name, run_id, run_dir, planned, result, execution, resumed=resumed)


AZURE_ENVIRONMENT = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "resource_group": "DRSIM_AZURE_RESOURCE_GROUP",
    "backup_vault": "DRSIM_AZURE_BACKUP_VAULT",
    "site_recovery_vault": "DRSIM_AZURE_SITE_RECOVERY_VAULT",
    "vault_resource_group": "DRSIM_AZURE_VAULT_RESOURCE_GROUP",
    "staging_storage_account": "DRSIM_AZURE_STAGING_STORAGE_ACCOUNT",
    "crr_staging_storage_account": "DRSIM_AZURE_CRR_STAGING_STORAGE_ACCOUNT",
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


def _restored_vms(runbook: Runbook, estate: Estate) -> list[str]:
    """The VMs the runbook's backup.restore steps restore."""
    return [
        vm.name
        for step in runbook.steps
        if isinstance(step, BackupStep)
        for vm in estate.vms
        if selector_matches(step.with_.vms, vm.name, vm.tags)
    ]


@dataclass(frozen=True)
class AzureDryRun:
    """The dry run of a drill against Azure: its plan, and whether the subscription is ready for it."""

    plan: DrillPlan
    readiness: Readiness
    predicted_s: float  # the twin's critical path
    predicted_cost_usd: float  # list price of the VMs and disks it creates, for that long

    @property
    def exit_code(self) -> int:
        """0 ready, 2 not ready (the drill's inputs do not fit the subscription)."""
        return 0 if self.readiness.ready else UsageError.exit_code


def twin_cost(runbook: Runbook, estate: Estate, seconds: float) -> float:
    """List price (USD) of the VMs a drill creates and their disks, kept for `seconds` (the catalog's prices)."""
    from drsim.cloud.api import ResourceKind
    from drsim.cloud.azure.preflight import created_vms
    from drsim.cloud.prices import cost_per_day, list_prices

    prices = list_prices()
    per_day = 0.0
    for planned in created_vms(runbook, estate):
        spec = estate.vm(planned.source)
        per_day += cost_per_day(prices, ResourceKind.VM, size=planned.size)
        per_day += sum(cost_per_day(prices, ResourceKind.DISK, sku=d.sku, size_gib=d.size_gib) for d in spec.disks)
    return round(per_day * seconds / 86400.0, 2)


def azure_dry_run(bundle: DrillBundle) -> AzureDryRun:
    """`drsim drill run --dry-run` of a `provider: azure` drill: the plan with the catalog's durations,
    and the preflight, which asks Azure with reads only (drsim.cloud.azure.preflight); every problem
    is in the readiness table at once."""
    from drsim.cloud.azure.preflight import Area, Check, Readiness, preflight
    from drsim.cloud.azure.provider import connect  # the azure extra

    drill, runbook, estate, plan = bundle.drill.doc, bundle.runbook.doc, bundle.estate.doc, bundle.plan.doc
    options = drill.azure or _azure_options_from_environment(bundle.drill.path)
    estimates = catalog_estimates(drill_catalog(bundle), estate)
    planned = plan_drill(runbook, estate, plan, drill=drill.name, concurrency=drill.concurrency, estimates=estimates)
    seconds = planned.critical.length_s
    cost = twin_cost(runbook, estate, seconds)

    async def main() -> Readiness:
        async with await connect(options) as provider:
            return await preflight(provider, options, runbook, estate)

    found = asyncio.run(main())
    hours, rest = divmod(round(seconds), 3600)
    twin = Check(Area.TWIN, drill.name, True, f"predicted {hours}h{rest // 60:02d}m (critical path), about ${cost:.2f} of VMs and disks")
    return AzureDryRun(planned, Readiness((*found.checks, twin)), seconds, cost)


def _run_on_azure(
    bundle: DrillBundle,
    *,
    out_dir: Path,
    seed: int,
    incident_at: datetime | None,
    observers: Sequence[RunObserver],
    fsync: bool,
    handle_signals: bool,
    prompt: Prompt | None = None,
    predict: Predictor | None = None,
    resume: Path | None = None,
) -> RunOutcome:
    """A drill against Azure (or the drsim ARM emulator), on the provider's clock; its manual steps wait
    for a person (the terminal `prompt`, or `drsim drill approve`). With `resume`, the run of that directory
    goes on from its journal (drsim.engine.resume, docs/azure.md "Resuming a drill"): not predicted again.

    A real drill declares its disaster when it starts: T_incident is the provider's time at the start
    minus the scenario's detected_after (or --incident-at); the drill file's incident_at is the
    simulator's. Resources are found by name in the subscription; VMs the incident removed keep the
    ids their Backup or Site Recovery protection names (AzureProvider.inventory)."""
    from drsim.cloud.azure import require_sdk

    require_sdk(f"{bundle.drill.path}: provider: azure")
    from drsim.cloud.azure.provider import connect  # the azure extra: imported when a drill asks for Azure
    from drsim.cloud.azure.safety import check_drill_group

    drill, runbook, estate, plan = bundle.drill.doc, bundle.runbook.doc, bundle.estate.doc, bundle.plan.doc
    options = drill.azure or _azure_options_from_environment(bundle.drill.path)
    restored = _restored_vms(runbook, estate)
    if restored and not options.staging_storage_account:  # an azure: block without it is a document problem (load_drill)
        raise UsageError(
            f"{bundle.drill.path}: the runbook restores from Azure Backup, which stages restores in a storage account: "
            f"set {AZURE_ENVIRONMENT['staging_storage_account']} (the account's ARM id)"
        )
    crr = [step.id for step in runbook.steps if isinstance(step, BackupStep) and cross_region_vms(step, estate)]
    if crr and not options.crr_staging_storage_account:
        raise UsageError(
            f"{bundle.drill.path}: step '{crr[0]}' restores with cross-region restore, which stages in a storage account of the "
            f"secondary region: set {AZURE_ENVIRONMENT['crr_staging_storage_account']} (the account's ARM id)"
        )
    catalog = drill_catalog(bundle)  # expected durations for the plan and critical path only
    estimates = catalog_estimates(catalog, estate)
    planned = plan_drill(runbook, estate, plan, drill=drill.name, concurrency=drill.concurrency, estimates=estimates)

    taken_over: JournalContents | None = None
    started: RunStarted | None = None
    if resume is not None:
        taken_over, started = _azure_resume_point(resume, drill.name)
        if started.provider != "azure":
            raise UsageError(f"--resume {resume}: that run was made by provider {started.provider}, not azure")
        _same_inputs(bundle, started, resume)  # before connecting: nothing in Azure is touched

    async def main() -> tuple[Execution, Path, str]:
        async with await connect(options) as provider:
            await check_drill_group(provider, estate)  # before anything is created
            clock = provider.clock
            resumed: ResumeState | None = None
            prediction = None
            if resume is not None and taken_over is not None and started is not None:
                # The run as it began: its directory, id, seed, T_incident and provenance; its journal goes on.
                run_dir, run_id, seed_used, when, detected = resume, started.run_id, started.seed, started.incident_at, started.detected_at
                provenance = Provenance(started.drill_file, started.inputs, started.emulated, started.performed)
                journal = JournalWriter(run_dir / JOURNAL, fsync=fsync, append_to=taken_over)
                sink = EventSink(journal, observers)
                sink.events.extend(taken_over.events)
                resumed = ResumeState.of(taken_over.events)
            else:
                prediction = await _predicted(predict, clock.now(), incident_at, runbook)
                detected = clock.now()  # after the prediction: the time it took is not the drill's
                when = incident_at.astimezone(UTC) if incident_at is not None else detected - runbook.scenario.detected_after
                seed_used = seed
                run_dir, run_id = _new_run_dir(out_dir, drill.name, run_id_for(when, seed))
                emulated = options.endpoint is not None and is_loopback(options.endpoint)  # drsim's ARM emulator
                provenance = Provenance(str(bundle.drill.path.resolve()), copy_inputs(bundle, run_dir), emulated, performed_now())
                journal = JournalWriter(run_dir / JOURNAL, fsync=fsync)
                sink = EventSink(journal, observers)
            try:
                if resumed is not None and resumed.finished is not None:  # it had ended: only its result is missing
                    execution = Execution(sink.events, apps=list(resumed.measured.values()))
                    sink(RunResumed(at=clock.now(), replayed=len(resumed.events)))
                    sink(RunPerformed(at=resumed.finished.at, ended=wall_clock_now()))
                else:
                    if restored:
                        # Before anything is created: the staging account exists, is in the vault's region, not ZRS.
                        wrong = await provider.check_staging_account(restored)
                        crr = {
                            step.with_.region or ""
                            for step in runbook.steps
                            if isinstance(step, BackupStep) and cross_region_vms(step, estate)
                        }
                        if crr:  # and in the secondary region for a cross-region restore
                            wrong += await provider.check_crr_staging_account(crr)
                        if wrong:
                            raise UsageError(f"{bundle.drill.path}: " + "; ".join(wrong))
                    inventory = await provider.inventory()
                    spec = RunSpec(
                        drill_name=drill.name,
                        runbook=runbook,
                        estate=estate,
                        plan=plan,
                        run_id=run_id,
                        seed=seed_used,
                        incident_at=when,
                        detected_at=max(detected, when),
                        concurrency=drill.concurrency,
                        production_ids=inventory.get,
                        controls=tuple(drill.evidence.controls),
                        people=RealTimePeople(run_dir, clock, prompt),
                        participants=people_of(drill.participants),
                        run_dir=run_dir,
                        journal_operations=True,  # what calibration fits and the report sets beside the prediction
                        prediction=prediction,
                        **provenance.spec_fields(),
                    )
                    execution = await execute(
                        spec, provider=provider, clock=clock, sink=sink, planned=planned, handle_signals=handle_signals, resume=resumed
                    )
                    sink(RunPerformed(at=execution.events[-1].at, ended=wall_clock_now()))
            finally:
                journal.close()
            _check_journal(sink, run_dir)
            return execution, run_dir, run_id

    execution, run_dir, run_id = asyncio.run(main())
    taken = len(taken_over.lines) if taken_over is not None else 0
    outcome = _write_result(drill.name, run_id, run_dir, planned, execution, runbook, estate, resumed=taken)
    for observer in observers:
        observer.on_finished(outcome)
    return outcome


Predictor = Callable[[datetime], PredictionMade]
"""The twin's prediction of a drill whose incident is at the given time (drsim.compare.predict)."""


async def _predicted(predict: Predictor | None, now: datetime, incident_at: datetime | None, runbook: Runbook) -> PredictionMade | None:
    """The twin's prediction, made before the drill declares its incident (in a thread: the trials take
    seconds, and the provider's connections stay served meanwhile)."""
    if predict is None:
        return None
    when = incident_at.astimezone(UTC) if incident_at is not None else now - runbook.scenario.detected_after
    return await asyncio.to_thread(predict, when)


# ---------------------------------------------------------------- after the run: reports, history, seal


def record_run(run: RecordedRun, store: HistoryStore | str | os.PathLike[str] | None) -> list[RunRecord] | None:
    """Record a run in the history store (again: updated in place); its series, oldest first, ending
    with this run (None: no store)."""
    if store is None:
        return None
    started = run.started
    performed = started.performed if started is not None else None
    opened = store if isinstance(store, HistoryStore) else HistoryStore(store)
    try:
        recorded = opened.record(
            run.run_id,
            run.result,
            drsim_version=started.drsim_version if started else None,
            catalog_version=started.catalog_version if started else None,
            run_dir=str(run.run_dir.resolve()),
            cost_usd=run.cost.total_usd,
            emulated=started.emulated if started is not None and started.inputs else run.result.emulated,
            performed_at=iso(performed.started) if performed is not None else None,
            findings=run.findings,
            recorded_at=iso(wall_clock_now()),
        )
        return opened.series(recorded.seq)
    finally:
        if opened is not store:
            opened.close()


def render_reports(
    run_dir: str | os.PathLike[str],
    formats: Sequence[str] = FORMATS,
    store: HistoryStore | str | os.PathLike[str] | None = None,
    *,
    controls: Sequence[str] | None = None,
) -> list[Path]:
    """Record the run in `store` (when given), then write its reports with the trend of its series."""
    from drsim.report.recorded import read_run
    from drsim.report.render import render_recorded

    with collector_paused():  # reading a large run back makes hundreds of thousands of objects too (see run_virtual)
        run = read_run(run_dir)
        return render_recorded(run, formats, record_run(run, store), controls)


def finish_run(
    run_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str] = FORMATS,
    store: str | os.PathLike[str] | None = None,
    junit: str | os.PathLike[str] | None = None,
    sign_key: str | os.PathLike[str] | None = None,
    controls: Sequence[str] | None = None,
) -> list[Path]:
    """What a finished run gets before `drsim drill run` returns: its reports (no formats: none), its
    place in `store` (default: history.sqlite of the output directory, run_dir/../..), JUnit XML to
    `junit`, and last the sealed manifest (signed with `sign_key`, an Ed25519 PEM), so that it covers
    every file written, whose seal is recorded in the store. Returns every path written.

    A store that breaks or is locked after it was checked before the run costs the run only its place
    in the store: the run is finished and sealed, and ExecutionError says how to record it."""
    from drsim.report.evidence import load_signing_key, seal
    from drsim.report.junit import write_junit_for_run
    from drsim.report.recorded import read_run
    from drsim.report.render import render_recorded

    key = load_signing_key(sign_key) if sign_key is not None else None  # a bad key is refused before anything is written
    store = store if store is not None else store_of_run(run_dir)
    with collector_paused():  # as in render_reports
        run = read_run(run_dir)
        unusable: StoreError | None = None
        try:
            history = record_run(run, store)
        except StoreError as exc:  # checked before the run, but it broke or was locked meanwhile: finish the run without it
            unusable, store, history = exc, None, None
        written = render_recorded(run, formats, history, controls) if formats else []
    if junit is not None:
        written.append(write_junit_for_run(run_dir, junit))
    written.append(seal(Path(run_dir), key))
    record_seal(run_dir, store)  # what sealed it, kept where the run's files cannot change it
    if unusable is not None:
        raise ExecutionError(
            f"{unusable.format_message()}; the run {run_dir} is complete and sealed, but not recorded: "
            f"`drsim report {run_dir} --store STORE` records it"
        )
    return written


def rerender(
    run_dir: str | os.PathLike[str],
    formats: Sequence[str] = FORMATS,
    store: str | os.PathLike[str] | None = None,
    sign_key: str | os.PathLike[str] | None = None,
    *,
    re_sign: bool = False,
) -> list[Path]:
    """`drsim report`: render a run again from its files, then re-seal its manifest (signed with `sign_key`).

    Nothing is written, in the run directory or the store, unless every check passes first
    (drsim.report.render.prepare_rerender); the store is opened (or refused) before any report is written.
    A run signed by another key than `sign_key` is refused unless `re_sign`, which journals the change
    of signer (evidence.resigned) before the reports are rendered and the run sealed."""
    from drsim.report.evidence import seal
    from drsim.report.recorded import read_run
    from drsim.report.render import prepare_rerender, render_recorded
    from drsim.report.sealing import journal_resign

    with collector_paused():  # as in render_reports
        run, key, change = prepare_rerender(run_dir, formats, sign_key, recorded_seal(store, run_dir), re_sign=re_sign)
        history = record_run(run, store)
        if change is not None:
            journal_resign(Path(run_dir), change)
            run = read_run(run_dir)
        written = render_recorded(run, formats, history, None)
    written.append(seal(Path(run_dir), key))
    record_seal(run_dir, store)
    return written


def recorded_seal(store: str | os.PathLike[str] | None, run_dir: str | os.PathLike[str]) -> RecordedSeal | None:
    """What `store` recorded when drsim last sealed the run in `run_dir`, read without writing the store;
    None when there is no store there, or it holds no run of that directory."""
    from drsim.report.evidence import RecordedSeal

    if store is None or not Path(store).is_file():
        return None
    with HistoryStore(store, read_only=True) as opened:
        found = opened.seal_of(str(Path(run_dir).resolve()))
    if found is None:
        return None
    return RecordedSeal(Path(store), found.run_id, found.chain_head, found.manifest_sha256, found.signing_key_sha256)


def record_seal(run_dir: str | os.PathLike[str], store: str | os.PathLike[str] | None) -> bool:
    """Record in the history store how the run is sealed now (chain head, manifest digest, signing key),
    for `drsim evidence verify` to compare; False when there is no store, or the run is not recorded in it.
    The store is never created here: the run was recorded (record_run) before it was sealed."""
    import json

    from drsim.report.evidence import journal_run_id, seal_digests
    from drsim.report.recorded import RESULT

    if store is None or not Path(store).is_file():
        return False
    directory = Path(run_dir)
    digests = seal_digests(directory)
    if digests is None:
        return False
    try:
        drill = json.loads((directory / RESULT).read_bytes())["drill"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    with HistoryStore(store, create=False) as opened:
        return opened.record_seal(
            str(drill),
            journal_run_id(directory),
            str(directory.resolve()),
            chain_head=digests.chain_head,
            manifest_sha256=digests.manifest_sha256,
            signing_key_sha256=digests.signing_key_sha256,
        )


@dataclass(frozen=True)
class SealOutcome:
    """What `drsim evidence seal` did."""

    manifest: Path
    written: tuple[Path, ...]  # reports rendered again after a forced seal
    changes: tuple[str, ...]  # what --force sealed over (empty: nothing had changed)
    resigned: EvidenceResigned | None  # the change of signer --re-sign made (None: the signer did not change)
    recorded: bool  # the seal was recorded in the history store


def seal_evidence(
    run_dir: str | os.PathLike[str],
    sign_key: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    re_sign: bool = False,
    store: str | os.PathLike[str] | None = None,
) -> SealOutcome:
    """`drsim evidence seal`: write the run's manifest (signed with `sign_key`) once every check passes
    (drsim.report.sealing), and record the seal in `store` (default: the run's) when the run is recorded there.

    Refused whatever `force` says: result.json not the file the journal gives, a broken journal chain, a
    signed run without a key. Refused unless `force`: a run sealed before (by its manifest, or by the
    store's record) whose files changed since; with `force`, the changes are journaled (evidence.resealed)
    and the reports rendered again, so that they show it. Refused unless `re_sign`: a signed run and a key
    other than the one that signed it; with `re_sign`, the change of signer is journaled (evidence.resigned)
    and the reports rendered again."""
    from drsim.report.evidence import build_manifest, check_signer, seal
    from drsim.report.recorded import read_run
    from drsim.report.render import render_recorded
    from drsim.report.sealing import changes_since_sealed, check_sealable, journal_forced_reseal, journal_resign

    directory = Path(run_dir)
    store = store if store is not None else store_of_run(directory)
    run, key = check_sealable(directory, sign_key)
    recorded = recorded_seal(store, directory)
    changes = changes_since_sealed(directory, recorded, force=force)
    change = check_signer(directory, key, re_sign=re_sign, key_path=sign_key, recorded=recorded)
    written: list[Path] = []
    resigned = None
    if changes or change is not None:
        # Everything that could refuse the seal is checked before the journal gets a line: what it will
        # digest (a symbolic link is refused), then the store (it records the run, as before).
        build_manifest(directory)
        formats = [f for f in FORMATS if (directory / f"report.{f}").exists()]
        history = record_run(run, store) if formats and Path(store).is_file() else None
        if changes:
            journal_forced_reseal(directory, changes)
        if change is not None:
            resigned = journal_resign(directory, change)
        if formats:  # the reports show the forced seal or the new signer (and lose any edit made to them)
            written = render_recorded(read_run(directory), formats, history, None)
    manifest = seal(directory, key)
    return SealOutcome(manifest, tuple(written), tuple(changes), resigned, record_seal(directory, store))


# ------------------------------------------------------------------------- drsim drill approve


APPROVAL_CONFIRM_S = 30.0
"""How long `drsim drill approve` waits for the run to journal the approval it left."""


def _journal_events(run_dir: Path) -> tuple[Event, ...]:
    """The events of a run's journal as far as it is written (a line being written is left out)."""
    journal = run_dir / JOURNAL
    if not journal.is_file():
        raise UsageError(f"{run_dir}: no {JOURNAL}; is this a drill run directory?")
    return read_journal(journal).events


def _waiting_summary(events: Sequence[Event]) -> str:
    waiting = waiting_steps(events)
    if not waiting:
        return "no step of the run is waiting for a person"
    return "waiting for a person: " + ", ".join(f"{step} ({w.action.value})" for step, w in waiting.items())


def _not_waiting(run_dir: Path, step: str, events: Sequence[Event]) -> UsageError:
    """Why `step` cannot be approved now, and which steps can."""
    waiting, ended = last_wait(events, step)
    if waiting is None:
        plan = next((e for e in events if isinstance(e, PlanMade)), None)
        actions = {t.step: t.action for t in plan.tasks} if plan is not None else {}
        if step not in actions:
            why = f"the run has no step '{step}'"
        elif not actions[step].is_manual:
            why = f"step '{step}' is a {actions[step].value}, not a manual step: nobody approves it"
        elif any(isinstance(e, RunFinished) for e in events):
            simulated = not any(isinstance(e, HumanWaiting) for e in events)
            why = f"the run has finished without step '{step}' waiting for anyone" + (
                " (in virtual time nobody is asked: the step took its configured duration)" if simulated else ""
            )
        else:
            why = f"step '{step}' has not begun to wait for a person"
    elif isinstance(ended, HumanActed):
        why = f"step '{step}' was already {action_verb(ended.action.value)}d by {ended.by} at {utc_text(ended.at)}"
    elif isinstance(ended, TaskFailed):
        why = f"step '{step}' is no longer waiting: {ended.error}"
    else:
        why = f"step '{step}' is no longer waiting (the run {'ended' if ended is not None else 'moved on'})"
    return UsageError(f"{run_dir}: {why}; {_waiting_summary(events)}")


def approve_step(
    run_dir: str | os.PathLike[str],
    step: str,
    *,
    by: str,
    role: str | None = None,
    note: str | None = None,
    confirm_within: float = APPROVAL_CONFIRM_S,
) -> HumanActed:
    """`drsim drill approve`: answer a manual step a real-time run waits on, from another process.

    Refused (UsageError) when the journal does not say the step waits (naming those that do), when the
    person is not on the drill's participants list, or when another approval is already there. The
    approval is left in approvals/<step>.json (drsim.engine.people) and this waits until the run has
    journaled it (human.acted, returned); a step that timed out meanwhile, or an approval another person
    gave first, is refused and the file taken back. A run that does not take it within `confirm_within`
    seconds (stopped, crashed) is an ExecutionError: the approval stays there for it to take."""

    directory = Path(run_dir)
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory (expected a run directory such as reports/<drill>/<run-id>)")
    events = _journal_events(directory)
    waiting = waiting_steps(events).get(step)
    if waiting is None:
        raise _not_waiting(directory, step, events)
    try:
        name, listed_role = check_person(waiting.participants, by, role)
    except ValueError as exc:
        raise UsageError(f"{directory}: refused: {exc}; step '{step}' keeps waiting") from None
    if note is not None and len(note) > NOTE_MAX:
        raise UsageError(f"--note is at most {NOTE_MAX} characters")
    approval = new_approval(step, waiting.attempt, name, listed_role, note.strip() or None if note else None)
    try:
        path = write_approval(directory, approval)
    except FileExistsError:
        try:
            other = Approval.from_json(approval_path(directory, step).read_bytes()).by
        except (OSError, ValueError):
            other = "someone"
        raise UsageError(f"{directory}: step '{step}' already has an approval by {other} for the run to take; yours was not left") from None
    except OSError as exc:
        raise ExecutionError(f"{directory / APPROVALS}: cannot leave the approval: {exc.strerror or exc}") from None
    try:
        return _await_taken(directory, waiting, approval, path, confirm_within)
    except KeyboardInterrupt:  # the approver changed their mind: an approval the run has not taken yet is taken back
        remove_own_approval(directory, approval)
        raise


def _await_taken(directory: Path, waiting: HumanWaiting, approval: Approval, path: Path, confirm_within: float) -> HumanActed:
    """Wait until the run journals `approval` (see approve_step)."""
    import time

    step, name = approval.step, approval.by
    deadline = time.monotonic() + confirm_within
    while True:
        events = _journal_events(directory)
        last, ended = last_wait(events, step)
        if last is not None and last.task == waiting.task and ended is not None:
            if isinstance(ended, HumanActed) and ended.attempt == waiting.attempt and ended.by == name:
                return ended
            remove_own_approval(directory, approval)
            raise _not_waiting(directory, step, events)
        if not path.exists():  # the run refused it (it checks an approval again before taking it)
            events = _journal_events(directory)
            last, ended = last_wait(events, step)
            if isinstance(ended, HumanActed) and ended.by == name:
                return ended
            raise UsageError(f"{directory}: the run did not take the approval of step '{step}' by {name}; {_waiting_summary(events)}")
        if time.monotonic() >= deadline:
            raise ExecutionError(
                f"{directory}: the run has not taken the approval of step '{step}' within {confirm_within:g}s: is it still running? "
                f"The approval stays in {path} for the run (or its resume) to take"
            )
        time.sleep(0.1)


# -------------------------------------------------------------------------- drsim drill attest


def configured_sign_key(run_dir: Path, events: Sequence[Event]) -> Path | None:
    """The drill's `evidence.sign_key` (as the run's copy of the drill says it, relative to the drill
    file the journal names), when that key file is there; None otherwise."""
    import yaml

    started = next((e for e in events if isinstance(e, RunStarted)), None)
    if started is None or started.drill_file is None:
        return None
    try:
        document = yaml.safe_load((run_dir / INPUTS / "drill.yaml").read_text(encoding="utf-8"))
        configured = document["evidence"]["sign_key"]
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
        return None
    if not isinstance(configured, str):
        return None
    path = Path(started.drill_file).parent / configured
    return path if path.is_file() else None


@dataclass(frozen=True)
class AttestOutcome:
    """What `drsim drill attest` did."""

    attested: RunAttested
    written: tuple[Path, ...]  # the reports rendered again and the manifest
    recorded: bool  # the new seal was recorded in the history store


def attest_run(
    run_dir: str | os.PathLike[str],
    *,
    by: str,
    role: str,
    verdict: str,
    note: str | None = None,
    sign_key: str | os.PathLike[str] | None = None,
    store: str | os.PathLike[str] | None = None,
) -> AttestOutcome:
    """`drsim drill attest`: a person's verdict on a finished run, journaled (run.attested, chained), then
    the reports rendered again (their sign-off lists it) and the run sealed again (signed with `sign_key`).

    Refused before anything is written: a run that has not finished (still running, or stopped before its
    end), one whose evidence does not verify (drsim evidence verify: files, chain, result.json, the store's
    record of the seal, and a signature, checked with the key's public half), a signed run without its key."""
    from drsim.report.evidence import MANIFEST, SIGNATURE, load_signing_key, seal, seal_digests, signing_key_id
    from drsim.report.recorded import read_run
    from drsim.report.render import render_recorded
    from drsim.report.sealing import journal_attestation, verify_run

    directory = Path(run_dir)
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory (expected a run directory such as reports/<drill>/<run-id>)")
    by, role = " ".join(by.split()), " ".join(role.split())
    if not by or not role:
        raise UsageError("--by and --role must name a person and a role")
    if len(by) > NAME_MAX or len(role) > NAME_MAX or (note is not None and len(note) > NOTE_MAX):
        raise UsageError(f"--by and --role are at most {NAME_MAX} characters, --note at most {NOTE_MAX}")
    try:
        chosen = Verdict(verdict)
    except ValueError:
        raise UsageError(f"--verdict must be one of {', '.join(v.value for v in Verdict)}, not {verdict!r}") from None
    events = _journal_events(directory)
    if not any(isinstance(e, RunFinished) for e in events):
        raise UsageError(
            f"{directory}: the run has not finished (its journal has no run.finished): it is still running, or it stopped "
            "before its end; attest it once it has finished"
        )
    if not (directory / MANIFEST).is_file():
        raise UsageError(f"{directory}: the run is not sealed yet ({MANIFEST} missing): it is still finishing, or was never sealed")
    if sign_key is None and (directory / SIGNATURE).exists():
        sign_key = configured_sign_key(directory, events)  # the key the drill signed it with, when it is still there
    key = load_signing_key(sign_key) if sign_key is not None else None
    if (directory / SIGNATURE).exists() and key is None:
        raise UsageError(f"{directory}: the run is signed ({SIGNATURE}); attesting re-seals it: pass --sign-key PEM to sign it again")
    digests = seal_digests(directory)
    signed_with = digests.signing_key_sha256 if digests is not None else None
    if key is not None and signed_with not in (None, "unreadable") and signed_with != signing_key_id(key):
        raise UsageError(
            f"{sign_key}: not the key this run was signed with (its {SIGNATURE} names the key whose public half has SHA-256 "
            f"{signed_with[:16]}..., this one's is {signing_key_id(key)[:16]}...): attesting checks the signature with the key "
            "it re-signs with; pass the key the run was signed with"
        )
    store = store if store is not None else store_of_run(directory)
    recorded = recorded_seal(store, directory)
    signed = (directory / SIGNATURE).exists()  # an unsigned run is checked without a signature, then signed with the key
    found = verify_run(directory, key.public_key() if key is not None and signed else None, recorded=recorded, store=Path(store))
    if not found.intact:
        raise UsageError(f"{directory}: the evidence does not verify ({'; '.join(found.problems)}); refusing to attest it")
    run = read_run(directory)
    formats = [f for f in FORMATS if (directory / f"report.{f}").exists()]
    history = record_run(run, store) if formats and Path(store).is_file() else None  # a store that fails: before the journal's line
    attested = journal_attestation(run, by=by, role=role, verdict=chosen, note=note.strip() or None if note else None)
    run = read_run(directory)
    written: list[Path] = []
    if formats:
        written = render_recorded(run, formats, history, None)
    written.append(seal(directory, key))
    return AttestOutcome(attested, tuple(written), record_seal(directory, store))
